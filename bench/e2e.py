"""End-to-end benchmark: generated news pages through ingest -> parse -> enrich -> index.

    python bench/e2e.py [--pages 600] [--json .newsflow/bench/e2e.json]

Starts its own stand-in on free ports (or uses KAFKA_BOOTSTRAP_SERVERS and
ELASTICSEARCH_URL), runs the four services as processes, ingests the pages and
waits until every article is searchable. Prints articles/s, the latency from
ingest to indexed (p50/p95), CPU ms per article per stage and peak RSS per service (each with its worker processes),
and the same libraries called in one process without Kafka or services as the
baseline of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import corpus  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402

from newsflow_common.lifecycle import parent_of  # noqa: E402
from tests.integration.harness import BIN, Kafka, Service, free_port, wait_until  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES = len(os.sched_getaffinity(0))


def parents() -> dict[int, int | None]:
    """Every process's parent, from one pass over /proc."""
    return {int(stat.parent.name): parent_of(int(stat.parent.name)) for stat in Path("/proc").glob("[0-9]*/stat")}


def family(pid: int, parents_now: dict[int, int | None] | None = None) -> list[int]:
    """A process and its descendants (a service's extraction or analysis workers)."""
    parents_now = parents_now if parents_now is not None else parents()
    found = [pid]
    for member in found:
        found += [child for child, parent in parents_now.items() if parent == member]
    return found


def cpu_seconds(pid: int, workers: bool = True) -> float:
    """User + system CPU time of a process (and its workers) so far."""
    total = 0
    for member in family(pid) if workers else [pid]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the whole machine so far, every core (/proc/stat)."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return sum(ticks) - idle, sum(ticks)


def stand_in_pid(work: Path) -> int | None:
    """The local stand-in serving this run (its CPU is part of what the pipeline costs on this machine)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if b"noida-db" in cmdline.read_bytes() and str(work).encode() in cmdline.read_bytes():
                return int(cmdline.parent.name)
    return None


def memory_mb(pid: int, source: str, field: str) -> float:
    """A memory figure of one process from /proc/<pid>/<source> (kB), in MB; 0 once it is gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def hwm_mb(pid: int) -> float:
    """A process's own peak resident memory so far (VmHWM)."""
    return memory_mb(pid, "status", "VmHWM:")


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory of a process and its workers, added up."""
    return sum(hwm_mb(member) for member in family(pid))


def pss_mb(pid: int, parents_now: dict[int, int | None]) -> float:
    """The proportional memory of a process and its workers: a page shared by n of them counts 1/n in each,
    so the sum counts it once — what the service's cgroup (its container's memory limit) is charged."""
    return sum(memory_mb(member, "smaps_rollup", "Pss:") for member in family(pid, parents_now))


class PeakMemory(threading.Thread):
    """Samples each service's PSS twice a second (``pss``: the largest seen; there is no VmHWM of it), and
    the ingest command's VmHWM ten times a second until it exits (``ingest_rss``). Not its rusage: a child's
    ru_maxrss counts the memory of the process that forked it, before the exec (this one, with the
    baseline's models loaded: 400 MB that ingest never had)."""

    def __init__(self, pids: dict[str, int], ingest: int) -> None:
        super().__init__(daemon=True)
        self.pids, self.ingest = {**pids, "ingest": ingest}, ingest
        self.pss, self.ingest_rss = dict.fromkeys(self.pids, 0.0), 0.0
        self.done = threading.Event()

    def run(self) -> None:
        ticks = 0
        while not self.done.wait(0.1):
            self.ingest_rss = max(self.ingest_rss, hwm_mb(self.ingest))
            ticks += 1
            if ticks % 5 == 0:
                parents_now = parents()  # one pass over /proc for every service: the sampling is cheap
                for name, pid in list(self.pids.items()):
                    self.pss[name] = max(self.pss[name], pss_mb(pid, parents_now))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def start_stack(work: Path) -> tuple[str, str, list[str]]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("ELASTICSEARCH_URL"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"], os.environ["ELASTICSEARCH_URL"], []
    kafka_port, es_port = free_port(), free_port()
    stack = [sys.executable, str(ROOT / "deploy/local/stack.py"), "--data-dir", str(work / "stack")]
    ports = ["--kafka-port", str(kafka_port), "--es-port", str(es_port)]
    subprocess.run([*stack, "up", *ports], check=True, capture_output=True)
    return f"127.0.0.1:{kafka_port}", f"http://127.0.0.1:{es_port}", [*stack, "down", *ports]


def pipeline_run(env: dict[str, str], work: Path, folder: Path, expected: int) -> dict[str, Any]:
    """Run the services, ingest the folder, wait for every article; the figures of the run."""
    full_env = {**os.environ, **env}
    for setup in ("newsflow-topics", "newsflow-es-setup"):
        subprocess.run([str(BIN / setup)], env=full_env, check=True, capture_output=True)
    services = {name: Service(name, [f"newsflow-{name}"], env, work) for name in ("parse", "enrich", "index")}
    for service in services.values():
        service.start()
    try:
        for service in services.values():
            service.wait_healthy(180)
        pids = {name: s.process.pid for name, s in services.items() if s.process}
        stand_in = stand_in_pid(work)
        if stand_in:
            pids["stand-in"] = stand_in
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        main_before = {name: cpu_seconds(pid, workers=False) for name, pid in pids.items()}
        source = env["BENCH_SOURCE"]
        started, observer_before, machine_before = time.monotonic(), time.process_time(), machine_ticks()
        ingest = subprocess.Popen(
            [str(BIN / "newsflow-ingest"), "--source", source, str(folder)],
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        memory = PeakMemory({name: pid for name, pid in pids.items() if name != "stand-in"}, ingest.pid)
        memory.start()
        ingest_usage = os.wait4(ingest.pid, 0)[2]
        es = Elasticsearch(env["NEWSFLOW_ELASTICSEARCH_URL"], request_timeout=60)

        def indexed() -> int:
            es.indices.refresh(index="news-articles")
            return int(es.count(index="news-articles", query={"term": {"source": source}})["count"])

        wait_until(lambda: indexed() >= expected, 3600, f"{expected} articles to be searchable", interval=1.0)
        elapsed, observer_cpu = time.monotonic() - started, time.process_time() - observer_before
        busy, ticks = (after - before for after, before in zip(machine_ticks(), machine_before, strict=True))
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        main_cpu = {name: cpu_seconds(pid, workers=False) - main_before[name] for name, pid in pids.items()}
        stand_in_cpu = cpu.pop("stand-in", None)
        cpu["ingest"] = ingest_usage.ru_utime + ingest_usage.ru_stime
        rss = {name: peak_rss_mb(s.process.pid) for name, s in services.items() if s.process}
        memory.done.set()
        rss["ingest"] = memory.ingest_rss
        latencies = ingest_to_indexed(Kafka(env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"]), es, source)
        print(f"paced: {expected / elapsed / 2:.1f} documents/s for {PACED_SECONDS} s...", file=sys.stderr)
        try:
            paced = paced_latencies(env, es, folder, rate=expected / elapsed / 2)
        except AssertionError as exc:  # keep the throughput figures of the run
            paced = {"error": str(exc)}
        es.close()
    finally:
        for service in services.values():
            service.stop()
    return {
        "paced": paced,
        "articles": expected,
        "seconds": round(elapsed, 2),
        "articles_per_s": round(expected / elapsed, 2),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p95_s": round(percentile(latencies, 0.95), 3),
        "cpu_ms_per_article": {name: round(1000 * seconds / expected, 1) for name, seconds in cpu.items()},
        "main_process_cpu_ms_per_article": {name: round(1000 * s / expected, 1) for name, s in main_cpu.items()},
        "stand_in_cpu_ms_per_article": round(1000 * stand_in_cpu / expected, 1) if stand_in_cpu is not None else None,
        "bench_cpu_ms_per_article": round(1000 * observer_cpu / expected, 1),
        "machine_busy_share": round(busy / ticks, 3),
        "peak_rss_mb": {name: round(mb, 1) for name, mb in rss.items()},
        "peak_pss_mb": {name: round(mb, 1) for name, mb in memory.pss.items()},
    }


PACED_SECONDS = 60


def paced_latencies(env: dict[str, str], es: Elasticsearch, folder: Path, rate: float) -> dict[str, Any]:
    """Documents arriving at ``rate`` per second for PACED_SECONDS, as a steady source would send them (new
    URLs, so new articles); seconds from each one's arrival to its article's indexing, p50/p95/p99."""
    source = f"{env['BENCH_SOURCE']}-paced"
    pages = sorted(folder.glob("*.html"))
    count = max(1, int(rate * PACED_SECONDS))
    asyncio.run(send_paced(env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"], pages, source, count, rate))

    kafka = Kafka(env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"])
    wait_until(kafka.drained, 600, f"every stage done with the {count} paced documents", interval=1.0)
    latencies = ingest_to_indexed(kafka, es, source)  # the documents that became articles (some pages give none)
    return {
        "documents_per_s": round(rate, 2),
        "seconds": PACED_SECONDS,
        "documents": count,
        "articles": len(latencies),
        "latency_p50_s": round(percentile(latencies, 0.50), 3),
        "latency_p95_s": round(percentile(latencies, 0.95), 3),
        "latency_p99_s": round(percentile(latencies, 0.99), 3),
    }


async def send_paced(bootstrap: str, pages: list[Path], source: str, count: int, rate: float) -> None:
    """RawDocuments to news.raw.v1 one at a time on a fixed schedule, each stamped when it is sent."""
    from aiokafka import AIOKafkaProducer

    from newsflow_schemas import RAW, RawDocument, encode, headers

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", max_request_size=10 * 1024 * 1024)
    await producer.start()
    try:
        started = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            path = pages[n % len(pages)]
            document = RawDocument(
                trace_id=uuid.uuid4().hex, doc_id=f"paced-{n}-{uuid.uuid4().hex[:6]}", source=source,
                uri=path.as_uri(), url=f"https://paced.example/{source}/{n}", content_type="text/html",
                charset="utf-8", body=path.read_text(encoding="utf-8"), fetched_at=datetime.now(UTC),
            )  # fmt: skip
            await producer.send_and_wait(
                RAW, encode(document), key=document.key().encode(), headers=headers(document, "bench")
            )
    finally:
        await producer.stop()


def ingest_to_indexed(kafka: Kafka, es: Elasticsearch, source: str) -> list[float]:
    """Seconds from a document's ingestion (fetched_at) to its article's indexing (indexed_at)."""
    fetched = {
        r["value"]["doc_id"]: datetime.fromisoformat(r["value"]["fetched_at"])
        for r in kafka.read("news.raw.v1")
        if isinstance(r["value"], dict) and r["value"].get("source") == source
    }
    hits = es.search(
        index="news-articles",
        query={"term": {"source": source}},
        source_includes=["doc_id", "indexed_at"],
        size=10_000,
    )["hits"]["hits"]
    return [
        (datetime.fromisoformat(h["_source"]["indexed_at"]) - fetched[h["_source"]["doc_id"]]).total_seconds()
        for h in hits
        if h["_source"]["doc_id"] in fetched
    ]


def in_process_baseline(folder: Path) -> dict[str, Any]:
    """The same parse and enrich code on the same pages, in one process: no Kafka, no services."""
    from newsflow_common.dlq import Rejected
    from newsflow_common.logs import configure_logging
    from newsflow_enrich.service import Enricher
    from newsflow_parse.extract import extract
    from newsflow_schemas import Article, RawDocument

    files = sorted(folder.glob("*.html"))
    documents = [
        RawDocument(
            trace_id=uuid.uuid4().hex,
            doc_id=path.stem,
            source="baseline",
            uri=path.as_uri(),
            content_type="text/html",
            charset="utf-8",
            body=path.read_text(encoding="utf-8"),
            fetched_at=datetime.now(UTC),
        )
        for path in files
    ]
    enriched: set[str] = set()

    def parse(pages: list[RawDocument]) -> list[Article]:
        return [output for page in pages for output in outputs_of(page) if isinstance(output, Article)]

    async def enrich(stage: Enricher, articles: list[Article]) -> None:
        """Enrich in the service's batches (analysis in this process, state in memory)."""
        size = stage.analyse.batch_size
        for start in range(0, len(articles), size):
            for result in await stage.transform(articles[start : start + size]):
                if not isinstance(result, BaseException):
                    enriched.update(message.key() for _, message in result)  # distinct ids, as indexed

    def outputs_of(page: RawDocument) -> list[Any]:
        try:
            return list(extract(page))
        except Rejected:  # the pipeline dead-letters it: no article either way
            return []

    configure_logging("bench", "WARNING")  # the services run at WARNING too: no line per article in either
    stage = Enricher()
    asyncio.run(enrich(stage, parse(documents[:1])))  # load models outside the timing
    enriched.clear()
    started = time.process_time(), time.perf_counter()
    articles = parse(documents)
    parsed = time.process_time()
    asyncio.run(enrich(stage, articles))
    cpu, wall = time.process_time() - started[0], time.perf_counter() - started[1]
    count = len(enriched)
    return {
        "articles": count,
        "articles_per_s": round(count / wall, 2),
        "cpu_ms_per_article": round(1000 * cpu / count, 1),
        "cpu_ms_per_article_by_stage": {
            "parse": round(1000 * (parsed - started[0]) / count, 1),
            "enrich": round(1000 * (cpu - (parsed - started[0])) / count, 1),
        },
    }


def machine_cpu_ms(run: dict[str, Any]) -> float:
    """All the CPU an article cost the machine in the pipeline run: the services, the stand-in (when local)
    and this benchmark's own sampling."""
    stand_in = run["stand_in_cpu_ms_per_article"] or 0.0
    return round(sum(run["cpu_ms_per_article"].values()) + stand_in + run["bench_cpu_ms_per_article"], 1)


def ratio_ceiling(run: dict[str, Any], baseline: dict[str, Any]) -> float:
    """The ratio the pipeline would reach with every core busy: cores ÷ its CPU per article, against the
    baseline's rate (the measured ratio is this times how busy the cores were, about)."""
    return round(CORES * 1000 / machine_cpu_ms(run) / baseline["articles_per_s"], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=600)
    parser.add_argument("--json", type=Path, default=ROOT / ".newsflow" / "bench" / "e2e.json")
    args = parser.parse_args()
    if not corpus.datasets_present():
        print(f"e2e benchmark skipped: datasets absent ({corpus.DATASETS})")
        return
    with tempfile.TemporaryDirectory(prefix="newsflow-bench-") as tmp:
        work = Path(tmp)
        folder = work / "pages"
        corpus.write_pages(folder, args.pages)
        print(f"{args.pages} pages written; baseline (one process, no Kafka)...", file=sys.stderr)
        baseline = in_process_baseline(folder)
        bootstrap, url, stop_stack = start_stack(work)
        env = {
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "NEWSFLOW_ELASTICSEARCH_URL": url,
            "NEWSFLOW_REPLICA": f"bench-{uuid.uuid4().hex[:6]}",
            "NEWSFLOW_LOG_LEVEL": "WARNING",
            "BENCH_SOURCE": f"bench-{uuid.uuid4().hex[:8]}",
        }
        try:
            print("pipeline (four services over Kafka into Elasticsearch)...", file=sys.stderr)
            run = pipeline_run(env, work, folder, baseline["articles"])
        finally:
            if stop_stack:
                subprocess.run(stop_stack, check=False, capture_output=True)
    result = {"pages": args.pages, "pipeline": run, "baseline_one_process": baseline}
    result["ratio_pipeline_to_baseline"] = round(run["articles_per_s"] / baseline["articles_per_s"], 2)
    result["ratio_ceiling_at_full_use"] = ratio_ceiling(run, baseline)
    one_process = baseline["cpu_ms_per_article_by_stage"]["enrich"]
    result["enrich_cpu_ratio_pipeline_to_one_process"] = round(run["cpu_ms_per_article"]["enrich"] / one_process, 2)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(
        f"pipeline {run['articles_per_s']} articles/s vs one process {baseline['articles_per_s']} articles/s: "
        f"ratio {result['ratio_pipeline_to_baseline']}; written to {args.json}"
    )
    print(
        f"the pipeline's CPU per article ({machine_cpu_ms(run)} ms: services, stand-in and this benchmark) allows at "
        f"most ratio {result['ratio_ceiling_at_full_use']} on {CORES} cores; they were "
        f"{100 * run['machine_busy_share']:.0f}% busy"
    )
    print(
        f"enrich CPU per article: {run['cpu_ms_per_article']['enrich']} ms in the service vs {one_process} ms for the "
        f"same work in one process: ratio {result['enrich_cpu_ratio_pipeline_to_one_process']}"
    )
    paced = run["paced"]
    if "error" in paced:
        print(f"paced phase failed: {paced['error']}")
        return
    print(
        f"paced at {paced['documents_per_s']} documents/s for {paced['seconds']} s: ingest to searchable "
        f"p50 {paced['latency_p50_s']} s, p95 {paced['latency_p95_s']} s, p99 {paced['latency_p99_s']} s"
    )
    print("CPU ms per article by service:", run["cpu_ms_per_article"])
    print("peak memory MB by service, with its workers: PSS", run["peak_pss_mb"], "| RSS added up", run["peak_rss_mb"])


if __name__ == "__main__":
    main()
