"""The fault run, ``make chaos``: 2,000 articles through the four services while faults happen.

    python bench/chaos.py [--articles 2000] [--seed N] [--budget 1800]

It starts its own stand-in on free ports (or uses KAFKA_BOOTSTRAP_SERVERS and ELASTICSEARCH_URL, and then
skips, saying why, the fault only the stand-in can cause), runs ingest (watch mode, with --links), parse,
enrich and index as processes, and ingests generated pages of real article text (bench/corpus.py) in five
waves while it:

1. SIGKILLs the one-shot ingest CLI mid-folder and runs it again, then SIGKILLs parse;
2. SIGKILLs ingest in watch mode, then enrich;
3. SIGKILLs index;
4. stops Elasticsearch for 30 s;
5. injects poison into every topic: not JSON, wrong schema, 20 MB (incompressible, and gzip-compressible),
   a lone surrogate, null fields, NUL and a year-1 date;

and, once every article is indexed, stops index, resets its group to the earliest offsets and lets it replay.
Each kill comes at a random moment (seeded; the seed is printed) while the service has work of its wave in
hand, and the service is restarted at once.

Afterwards: every article indexed exactly once (by ``_id``, against the ids the same parse code gives in this
process; by title for a second opinion), every poison in its DLQ with a reason or refused by the broker, and
the ledger balanced (``newsflow check``, when installed). It prints fault | what happened | articles lost |
duplicates and exits 1 on any loss, duplicate, unaccounted poison or failed step. Logs and the table are kept
in .newsflow/chaos/<run>/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import corpus  # noqa: E402
import e2e  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.errors import KafkaError, MessageSizeTooLargeError  # noqa: E402
from elasticsearch import Elasticsearch  # noqa: E402
from elasticsearch.helpers import scan  # noqa: E402

from newsflow_common.dlq import MAX_ORIGINAL_BYTES, Rejected  # noqa: E402
from newsflow_common.progress import Progress  # noqa: E402
from newsflow_schemas import (  # noqa: E402
    ANALYSED,
    ARTICLES,
    ENRICHED,
    LINKS,
    RAW,
    TRENDS,
    Article,
    DeadLetter,
    RawDocument,
    decode,
    dlq_of,
)
from tests.integration.harness import BIN, Kafka, Service, wait_until  # noqa: E402

WAVES = 5
OUTAGE_SECONDS = 30
POISON_BYTES = 20 * 1024 * 1024
FETCH_BYTES = 32 * 1024 * 1024
READER = {
    RAW: "parse",
    ARTICLES: "enrich",
    ANALYSED: "enrich-state",
    ENRICHED: "index",
    TRENDS: "index",
    LINKS: "ingest",
}
"""Each topic and the service that must dead-letter what it cannot read."""
INDEX_GROUP = "newsflow-index"


# --- Kafka, as an operator's tools would see it -------------------------------------------------------------


async def _partitions(consumer: AIOKafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    await consumer.topics()  # loads the metadata of every topic
    return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]


async def _end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(await _partitions(consumer, topics)))
    finally:
        await consumer.stop()


def produced(bootstrap: str, topic: str) -> int:
    """Records ever written to a topic (the sum of its end offsets)."""
    return sum(asyncio.run(_end_offsets(bootstrap, [topic])).values())


async def _read(bootstrap: str, topic: str) -> list[tuple[int, int, bytes | None]]:
    """Every record of a topic from the beginning: (partition, offset, value)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=FETCH_BYTES,
    )
    await consumer.start()
    try:
        partitions = await _partitions(consumer, [topic])
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[tuple[int, int, bytes | None]] = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                records += [(m.partition, m.offset, m.value) for m in messages]
        return records
    finally:
        await consumer.stop()


def dead_letters(bootstrap: str, dlq: str) -> list[DeadLetter]:
    return [decode(DeadLetter, value) for _, _, value in asyncio.run(_read(bootstrap, dlq))]


async def _commit_earliest(bootstrap: str, group: str, member: str, topics: list[str]) -> dict[str, int] | None:
    """Commit the earliest offsets for ``group``; records per topic to replay, None until assigned.

    The group's static member keeps it until its session times out, and the broker refuses a commit from
    outside it meanwhile (UnknownMemberId); joining with the member's own instance id takes its place at
    once (KIP-345), as an operator resetting a stopped service would.
    """
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=group, group_instance_id=member, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=2000)  # joins the group; the records are not used
        partitions = sorted(consumer.assignment())
        if {tp.topic for tp in partitions} != set(topics):
            return None
        earliest = await consumer.beginning_offsets(partitions)
        end = await consumer.end_offsets(partitions)
        try:
            await consumer.commit(dict(earliest))
        except KafkaError:  # a rebalance raced the commit: try again
            return None
        return {t: sum(end[tp] - earliest[tp] for tp in partitions if tp.topic == t) for t in topics}
    finally:
        await consumer.stop()


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes, compression: str | None) -> str | None:
    """Produce one record with room for 20 MB; the broker's refusal comes back as text, not raised."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=2 * POISON_BYTES, compression_type=compression
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=[("trace-id", key)])
        return None
    except MessageSizeTooLargeError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        await producer.stop()


# --- Processes --------------------------------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (worker pools), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pids: list[int]) -> list[int]:
    living = []
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                living.append(pid)
    return living


def process_kind(pid: int) -> str:
    """'pool worker', 'resource tracker' or the program, from the command line."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "resource_tracker" in command:
        return "resource tracker"
    return "pool worker" if "spawn_main" in command else command[:60]


# --- The run ----------------------------------------------------------------------------------------------


@dataclass
class Wave:
    number: int
    folder: Path
    articles: dict[str, str] = field(default_factory=dict)
    """Expected article_id -> title, from the same extraction code, run in this process."""
    pages: dict[str, str] = field(default_factory=dict)
    """Expected article_id -> the file name of its page."""


@dataclass
class Row:
    fault: str
    happened: str
    stage: str | None = None
    """The stage the fault hit: its row counts the articles that stopped there (None: not applicable)..."""
    wave: Wave | None = None
    """...among this wave's articles (the files a killed ingest had in hand), else among all."""
    ok: bool = True
    lost: int | None = None
    duplicates: int | None = None


@dataclass
class Poison:
    topic: str
    kind: str
    key: str
    value: bytes
    refused: str | None = None


@dataclass
class Run:
    bootstrap: str
    es: Elasticsearch
    env: dict[str, str]
    logs: Path
    stack_dir: Path | None
    """The stand-in's data folder; None when real servers are configured."""
    source: str
    rng: random.Random
    deadline: float
    services: dict[str, Service] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    orphans: list[int] = field(default_factory=list)

    def wait(self, check: Callable[[], Any], timeout: float, what: str, interval: float = 0.3) -> Any:
        """wait_until, never past the run's budget."""
        return wait_until(check, max(1.0, min(timeout, self.deadline - time.monotonic())), what, interval)

    def produced(self, topic: str) -> int:
        return produced(self.bootstrap, topic)

    def count(self) -> int:
        self.es.indices.refresh(index="news-articles")
        return int(self.es.count(index="news-articles", query={"term": {"source": self.source}})["count"])

    def indexed(self) -> tuple[Counter[str], Counter[str]]:
        """How many copies of each _id, and of each title, Elasticsearch holds for this run's source."""
        self.es.indices.refresh(index="news-articles")
        hits = scan(self.es, index="news-articles", query={"query": {"term": {"source": self.source}}}, size=1000)
        ids: Counter[str] = Counter()
        titles: Counter[str] = Counter()
        for hit in hits:
            ids[hit["_id"]] += 1
            titles[hit["_source"]["title"]] += 1
        return ids, titles

    def ingest_cli(self, folder: Path) -> subprocess.Popen[bytes]:
        log = (self.logs / "ingest-cli.log").open("ab")
        argv = [str(BIN / "newsflow-ingest"), "--source", self.source, str(folder)]
        return subprocess.Popen(argv, env={**os.environ, **self.env}, stdout=log, stderr=log)

    def finished(self, process: subprocess.Popen[bytes]) -> int:
        """Wait for a process to exit, within the budget; its exit code."""
        self.wait(lambda: process.poll() is not None, 600, "the ingest CLI to finish", interval=0.2)
        return process.returncode

    def when_progressed(self, progress: Callable[[], int], at: int, what: str) -> int:
        """Wait until ``progress`` moved by ``at`` from now (a random moment with work in hand); how far it went."""
        start = progress()
        self.wait(lambda: progress() - start >= at, 600, what, interval=0.1)
        return progress() - start

    def kill_and_restart(self, name: str) -> str:
        """SIGKILL a service, start it again, wait for /healthz; what happened, orphaned workers included."""
        service = self.services[name]
        assert service.process is not None
        workers = descendants(service.process.pid)
        service.kill()
        started = time.monotonic()
        service.start()
        self.wait(service.healthy, 300, f"{name} /healthz after its restart (log: {service.log_path})")
        happened = f"restarted, healthy in {time.monotonic() - started:.1f} s"
        with contextlib.suppress(AssertionError):  # the workers of the dead process should follow it out
            self.wait(lambda: not alive(workers), 15, "orphaned workers to exit", interval=0.5)
        orphans = alive(workers)
        if orphans:
            self.orphans += orphans
            kinds = Counter(process_kind(pid) for pid in orphans)
            happened += f"; {len(orphans)} of its {len(workers)} child processes outlived it: " + ", ".join(
                f"{n} {kind}" for kind, n in kinds.items()
            )
        return happened


def write_waves(work: Path, tag: str, total: int, source: str) -> list[Wave]:
    """``total`` pages in WAVES folders, one story each with a unique title, and the ids parse will give them.

    A story parse would refuse (a short one it takes for an error page) is left out: the run counts articles.
    """
    stories = corpus.all_stories()
    rng = random.Random(tag)
    waves = [Wave(n + 1, work / f"wave-{n + 1}") for n in range(WAVES)]
    progress = Progress("pages written and extracted", total=total)
    for n in itertools.count():
        if progress.done == total:
            break
        wave = waves[progress.done * WAVES // total]
        story = stories[n % len(stories)]
        # The tag leads the title: the canonical URL's slug keeps only its first 60 characters.
        unique = corpus.Story(f"{tag}-{n:05d} {story.title}", story.body, story.date, story.section)
        path = wave.folder / f"page-{n:05d}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(corpus.page(unique, rng.randrange(len(corpus.TEMPLATES))), encoding="utf-8")
        articles = expected_articles(path, source)
        if len(articles) != 1:
            path.unlink()
            continue
        wave.articles.update(articles)
        wave.pages.update((article_id, path.name) for article_id in articles)
        progress.advance()
    progress.finish()
    return waves


def expected_articles(path: Path, source: str) -> dict[str, str]:
    """article_id -> title of what ingest and parse make of a page, computed in this process; {} if refused."""
    from newsflow_ingest.files import read_file
    from newsflow_parse.extract import extract

    found: dict[str, str] = {}
    for document in read_file(path, source=source, max_bytes=5 * 1024 * 1024):
        if not isinstance(document, RawDocument):
            return {}
        with contextlib.suppress(Rejected):
            found.update((a.article_id, a.title) for a in extract(document) if isinstance(a, Article))
    return found


def wave_ingest_cli_killed(run: Run, wave: Wave) -> None:
    """Wave 1 through the one-shot CLI, SIGKILLed mid-folder and run again; parse SIGKILLed meanwhile."""
    pages = len(list(wave.folder.glob("*.html")))
    before = run.produced(RAW)
    at = run.rng.randint(10, pages // 2)
    cli = run.ingest_cli(wave.folder)
    run.wait(lambda: cli.poll() is not None or run.produced(RAW) - before >= at, 120, "the CLI to send", 0.05)
    finished_first = cli.poll() is not None
    cli.kill()
    cli.wait()
    sent = run.produced(RAW) - before
    again = run.ingest_cli(wave.folder)
    parse_row = kill_midway(run, "parse", lambda: run.produced(ARTICLES), wave, "articles produced")
    code = run.finished(again)
    happened = (
        f"SIGKILLed after {sent} of {pages} documents reached news.raw.v1; run again over the folder: "
        f"exit {code}, every document sent again (same ids)"
    )
    if finished_first:
        happened = f"finished before the kill ({sent} documents): the fault did not happen; run again: exit {code}"
    fault = "SIGKILL ingest CLI mid-folder (wave 1)"
    run.rows += [Row(fault, happened, "ingest", wave, ok=code == 0 and not finished_first), parse_row]


def kill_midway(run: Run, name: str, progress: Callable[[], int], wave: Wave, unit: str) -> Row:
    at = run.rng.randint(5, max(6, len(wave.articles) * 3 // 5))
    moved = run.when_progressed(progress, at, f"{name} to make progress")
    happened = f"SIGKILLed after {moved} {unit} since the wave began; " + run.kill_and_restart(name)
    return Row(f"SIGKILL {name} (wave {wave.number})", happened, name, wave if name == "ingest" else None)


def wave_watch_killed(run: Run, wave: Wave, inbox: Path) -> None:
    """Wave 2 dropped into the watched folder; ingest (watch mode) SIGKILLed mid-folder, then enrich."""
    for page in sorted(wave.folder.glob("*.html")):
        page.replace(inbox / page.name)  # an atomic move: the watcher never sees half a file
    ingest_row = kill_midway(run, "ingest", lambda: run.produced(RAW), wave, "documents to news.raw.v1")
    ingest_row.fault = f"SIGKILL ingest, watch mode (wave {wave.number})"
    run.rows += [ingest_row, kill_midway(run, "enrich", lambda: run.produced(ENRICHED), wave, "articles enriched")]


def wave_index_killed(run: Run, wave: Wave) -> None:
    cli = run.ingest_cli(wave.folder)
    run.rows.append(kill_midway(run, "index", run.count, wave, "articles indexed"))
    if run.finished(cli):
        run.rows.append(Row("ingest CLI", f"exit {cli.returncode} (log: {run.logs / 'ingest-cli.log'})", ok=False))


def noida(stack_dir: Path, *args: str) -> None:
    executable = shutil.which("noida-db", path=str(BIN)) or "noida-db"
    subprocess.run([executable, *args, "--data-dir", str(stack_dir)], check=True, capture_output=True, timeout=120)


def wave_elasticsearch_away(run: Run, wave: Wave, inbox: Path) -> None:
    """Wave 4 into the watched folder; Elasticsearch stopped for 30 s at a random moment of it."""
    for page in sorted(wave.folder.glob("*.html")):
        page.replace(inbox / page.name)
    fault = f"Elasticsearch stopped {OUTAGE_SECONDS} s (wave {wave.number})"
    if run.stack_dir is None:
        reason = "skipped: real servers are configured; stopping Elasticsearch alone needs the stand-in"
        run.rows.append(Row(fault, reason))
        return
    index = run.services["index"]
    run.when_progressed(run.count, run.rng.randint(5, 60), "indexing to go on")
    stopped = time.monotonic()
    noida(run.stack_dir, "stop", "elasticsearch")
    degraded_after = None
    while time.monotonic() - stopped < OUTAGE_SECONDS:
        index.assert_running()  # waiting, not crashing
        if degraded_after is None and index.get("/healthz")[0] == 503:
            degraded_after = time.monotonic() - stopped
        time.sleep(0.5)
    retries = index.metric("newsflow_retries_total", service="index", operation="write outputs")
    noida(run.stack_dir, "start", "elasticsearch")
    back = time.monotonic()
    run.wait(index.healthy, 180, "index to report ok after Elasticsearch came back")
    seen = f"/healthz 503 after {degraded_after:.1f} s" if degraded_after is not None else "never reported degraded"
    happened = (
        f"index kept running: {seen}, {retries:.0f} retries of its Elasticsearch calls; "
        f"ok again {time.monotonic() - back:.1f} s after Elasticsearch was back"
    )
    run.rows.append(Row(fault, happened, "index", ok=degraded_after is not None))


def poison_values(key: str) -> dict[str, tuple[bytes, str | None]]:
    """Poison kind -> (bytes, producer compression)."""
    noise = os.urandom(POISON_BYTES * 3 // 4).hex().encode()[:POISON_BYTES]  # hex of random bytes: gzip gains ~2x
    filler = (f"chaos {key} lorem ipsum ".encode() * (POISON_BYTES // 20))[:POISON_BYTES]
    return {
        "not JSON": (b"\xff\xfe not json {{{ " + key.encode(), None),
        "wrong schema": (json.dumps({"title": "valid JSON, wrong schema", "chaos": key}).encode(), None),
        "20 MB": (noise, None),
        "20 MB, gzip": (filler, "gzip"),
        "lone surrogate": (json.dumps({"trace_id": "\ud800", "chaos": key}).encode("utf-8", "surrogatepass"), None),
        "nulls": (json.dumps({"trace_id": None, "article_id": None, "title": None, "chaos": key}).encode(), None),
        "NUL and year 1": (json.dumps({"title": "\x00", "published_at": "0001-01-01T00:30:00+01:00"}).encode(), None),
    }


def wave_poisoned(run: Run, wave: Wave) -> list[Poison]:
    """Wave 5 through the CLI; every poison into every topic meanwhile."""
    cli = run.ingest_cli(wave.folder)
    poisons = []
    for topic in READER:
        for kind, (value, compression) in poison_values(f"chaos-{uuid.uuid4().hex[:8]}").items():
            key = f"poison-{uuid.uuid4().hex[:10]}"
            refused = asyncio.run(_produce(run.bootstrap, topic, key.encode(), value, compression))
            poisons.append(Poison(topic, kind, key, value, refused))
    if run.finished(cli):
        run.rows.append(Row("ingest CLI", f"exit {cli.returncode} (log: {run.logs / 'ingest-cli.log'})", ok=False))
    return poisons


GROUPS = {
    "newsflow-parse": [RAW],
    "newsflow-enrich": [ARTICLES],
    "newsflow-enrich-state": [ANALYSED],
    INDEX_GROUP: [ENRICHED, TRENDS],
}


def pipeline_idle(run: Run) -> bool:
    """Every stage's group has committed everything of its input: nothing more is coming."""
    return all(Kafka(run.bootstrap).lag(group, topics) == 0 for group, topics in GROUPS.items())


def wait_drained(run: Run, expected: set[str], quiet_seconds: float = 20, stall_seconds: float = 180) -> str | None:
    """Wait until every expected article is indexed; else why not: the budget ran out, the pipeline is idle
    (every group committed to the end), or nothing was indexed for ``stall_seconds`` (a group stuck behind)."""
    progress = Progress("articles indexed", total=len(expected))
    moved = time.monotonic()
    while True:
        for service in run.services.values():
            service.assert_running()
        count = run.count()
        if count != progress.done:
            progress.advance(count - progress.done)
            moved = time.monotonic()
        if count >= len(expected) and expected <= set(run.indexed()[0]):
            progress.finish()
            return None
        if time.monotonic() > run.deadline:
            return f"the budget ran out with {count} of {len(expected)} articles indexed"
        if time.monotonic() - moved > quiet_seconds and pipeline_idle(run):
            return f"every stage idle, its input committed to the end, at {count} of {len(expected)} articles"
        if time.monotonic() - moved > stall_seconds:
            lags = {group: Kafka(run.bootstrap).lag(group, topics) for group, topics in GROUPS.items()}
            return f"nothing indexed for {stall_seconds:.0f} s, at {count} of {len(expected)} articles; lag {lags}"
        time.sleep(2.0)


def check_poisons(run: Run, poisons: list[Poison]) -> None:
    """A row per poison: refused by the broker, or in its DLQ with a reason from the stage that reads the topic."""
    letters: dict[str, list[DeadLetter]] = {}

    def found() -> bool:
        letters.update({dlq: dead_letters(run.bootstrap, dlq) for dlq in {dlq_of(p.topic) for p in poisons}})
        return all(p.refused or any(x.original_key == p.key for x in letters[dlq_of(p.topic)]) for p in poisons)

    with contextlib.suppress(AssertionError):
        run.wait(found, 120, "every poison in its DLQ", interval=5.0)
    for poison in poisons:
        run.rows.append(poison_row(poison, [x for x in letters[dlq_of(poison.topic)] if x.original_key == poison.key]))


def poison_row(poison: Poison, letters: list[DeadLetter]) -> Row:
    fault = f"poison {poison.kind} → {poison.topic}"
    if poison.refused:
        return Row(fault, f"refused at the door: {poison.refused}")
    if not letters:
        return Row(fault, f"NOT in {dlq_of(poison.topic)}: lost or wedged", ok=False)
    letter = letters[0]
    kept = poison.value[:MAX_ORIGINAL_BYTES]
    size_ok = letter.original_size == (len(poison.value) if len(poison.value) > MAX_ORIGINAL_BYTES else None)
    ok = letter.stage == READER[poison.topic] and bool(letter.error_message) and letter.original == kept and size_ok
    happened = f"{dlq_of(poison.topic)} by {letter.stage}: {letter.error_kind}: {letter.error_message[:60]}…"
    if letter.original_size:
        happened += f" (first {len(letter.original) >> 20} MiB kept of {letter.original_size} bytes)"
    if len(letters) > 1:
        happened += f"; {len(letters)} letters (read again after a restart or the replay: at least once)"
    return Row(fault, happened, ok=ok)


def replay_index(run: Run) -> Row:
    """Stop index, commit the earliest offsets for its group, restart it, wait until it caught up again."""
    index = run.services["index"]
    before = run.indexed()[0]
    index.stop()
    topics = [ENRICHED, TRENDS]
    member = f"{INDEX_GROUP}-{run.env['NEWSFLOW_REPLICA']}"  # Settings.instance_id("index")
    records = run.wait(
        lambda: asyncio.run(_commit_earliest(run.bootstrap, INDEX_GROUP, member, topics)),
        120,
        "the index group to take the reset",
        interval=1.0,
    )
    index.start()
    run.wait(index.healthy, 120, "index /healthz after the reset")

    def replayed() -> bool:
        read = index.metric("newsflow_messages_in_total", service="index", topic=ENRICHED)
        return read >= records[ENRICHED] and Kafka(run.bootstrap).lag(INDEX_GROUP, topics) == 0

    run.wait(replayed, 300, "index to replay its topics", interval=1.0)
    stale = index.metric("newsflow_index_stale_versions_total", service="index")
    after = run.indexed()[0]
    happened = (
        f"group {INDEX_GROUP} reset to the earliest offsets ({records[ENRICHED]} records of {ENRICHED}, "
        f"{records[TRENDS]} of {TRENDS}) and replayed to the end; {stale:.0f} older versions left out; "
        f"documents {sum(before.values())} before, {sum(after.values())} after"
    )
    lost = len(set(before) - set(after))
    duplicates = sum(after.values()) - len(after) - (sum(before.values()) - len(before))
    return Row(
        "reset index group, replay", happened, ok=lost == 0 and duplicates <= 0, lost=lost, duplicates=duplicates
    )


def ledger_row(run: Run) -> Row:
    tool = BIN / "newsflow"
    if not tool.exists():
        return Row("ledger", "ledger check not available (no `newsflow` console script installed)")
    result = subprocess.run(
        [str(tool), "check", "--source", run.source],
        env={**os.environ, **run.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    last = (result.stdout.strip() or result.stderr.strip() or "(no output)").splitlines()[-1]
    return Row(
        "ledger", f"`newsflow check --source {run.source}` exit {result.returncode}: {last}", ok=not result.returncode
    )


STAGES = ("ingest", "parse", "enrich", "index")


def account(run: Run, waves: list[Wave]) -> None:
    """Fill in each fault's lost and duplicated articles, and the total row."""
    ids, titles = run.indexed()
    expected = {article_id: title for wave in waves for article_id, title in wave.articles.items()}
    pages = {article_id: page for wave in waves for article_id, page in wave.pages.items()}
    lost = {article_id for article_id in expected if not ids[article_id]}
    lost_at = where_lost(run, lost, pages) if lost else {stage: {} for stage in STAGES}

    def duplicates(articles: dict[str, str]) -> int:
        return sum(max(0, titles[title] - 1) for title in articles.values())

    for row in run.rows:
        if row.stage is not None:
            scope = row.wave.articles if row.wave else expected
            row.lost = len(lost_at[row.stage].keys() & scope.keys())
            row.duplicates = duplicates(scope)
    unexpected = sum(n for article_id, n in ids.items() if article_id not in expected)
    unique = run.es.search(
        index="news-articles",
        query={"term": {"source": run.source}},
        aggs={"ids": {"cardinality": {"field": "article_id"}}},
        size=0,
    )["aggregations"]["ids"]["value"]
    happened = (
        f"{len(expected)} articles expected; {sum(ids.values())} documents, {len(ids)} distinct _id, "
        f"cardinality(article_id) {unique}; {unexpected} with an unexpected id"
    )
    for stage, where in lost_at.items():
        if where:
            positions = ", ".join(sorted(where.values())[:12])
            happened += f"; {len(where)} lost at {stage} (last seen at {positions}{'…' if len(where) > 12 else ''})"
    ok = unexpected == 0 and unique == len(expected) == sum(ids.values())
    run.rows.append(Row("all waves", happened, ok=ok, lost=len(lost), duplicates=duplicates(expected)))


def where_lost(run: Run, lost: set[str], pages: dict[str, str]) -> dict[str, dict[str, str]]:
    """Stage -> the lost articles that stopped there, each with the last place it was seen.

    An article that never reached news.raw.v1 stopped at ingest; one whose page is on news.raw.v1 but that
    is not on news.articles.v1 stopped at parse; and so on.
    """
    raw_pages: dict[str, str] = {}
    for partition, offset, value in asyncio.run(_read(run.bootstrap, RAW)):
        document = json_value(value)
        if isinstance(document, dict) and document.get("source") == run.source:
            raw_pages.setdefault(document.get("metadata", {}).get("filename", ""), f"{RAW} {partition}:{offset}")
    seen: dict[str, dict[str, str]] = {}
    for topic in (ARTICLES, ENRICHED):
        seen[topic] = {}
        for partition, offset, value in asyncio.run(_read(run.bootstrap, topic)):
            article = json_value(value)
            if isinstance(article, dict) and article.get("article_id") in lost:
                seen[topic].setdefault(article["article_id"], f"{topic} {partition}:{offset}")
    lost_at: dict[str, dict[str, str]] = {stage: {} for stage in STAGES}
    for article_id in lost:
        if article_id in seen[ENRICHED]:
            lost_at["index"][article_id] = seen[ENRICHED][article_id]
        elif article_id in seen[ARTICLES]:
            lost_at["enrich"][article_id] = seen[ARTICLES][article_id]
        elif pages[article_id] in raw_pages:
            lost_at["parse"][article_id] = raw_pages[pages[article_id]]
        else:
            lost_at["ingest"][article_id] = pages[article_id]
    return lost_at


def json_value(value: bytes | None) -> Any:
    try:
        return json.loads(value or b"")
    except ValueError:
        return None


def table(rows: list[Row]) -> str:
    def cell(value: int | None) -> str:
        return "–" if value is None else str(value)

    def text(value: str) -> str:  # error messages span lines and may hold pipes: one Markdown cell each
        return " ".join(value.split()).replace("|", "\\|")

    lines = ["| fault | what happened | articles lost | duplicates |", "|---|---|---|---|"]
    for row in rows:
        flag = "" if row.ok and not row.lost and not row.duplicates else " **FAILED**"
        lines.append(f"| {row.fault}{flag} | {text(row.happened)} | {cell(row.lost)} | {cell(row.duplicates)} |")
    return "\n".join(lines)


def start_services(run: Run, inbox: Path) -> None:
    for setup in ("newsflow-topics", "newsflow-es-setup"):
        subprocess.run([str(BIN / setup)], env={**os.environ, **run.env}, check=True, capture_output=True)
    run.services = {
        name: Service(name, [f"newsflow-{name}"], run.env, run.logs) for name in ("parse", "enrich", "index")
    }
    run.services["ingest"] = Service("ingest", ["newsflow-ingest", "--watch", str(inbox), "--links"], run.env, run.logs)
    for service in run.services.values():
        service.start()
    for service in run.services.values():
        run.wait(service.healthy, 300, f"{service.name} /healthz (log: {service.log_path})")


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def faults(run: Run, waves: list[Wave], inbox: Path) -> None:
    """The five waves and their faults, then the drain, the poison's DLQs, the replay and the ledger."""
    say("wave 1: ingest CLI killed mid-folder, then parse")
    wave_ingest_cli_killed(run, waves[0])
    say("wave 2: ingest (watch mode) killed, then enrich")
    wave_watch_killed(run, waves[1], inbox)
    say("wave 3: index killed")
    wave_index_killed(run, waves[2])
    say(f"wave 4: Elasticsearch away for {OUTAGE_SECONDS} s")
    wave_elasticsearch_away(run, waves[3], inbox)
    say("wave 5: poison into every topic")
    poisons = wave_poisoned(run, waves[4])
    say("waiting for every article to be indexed")
    expected = {article_id for wave in waves for article_id in wave.articles}
    stuck = wait_drained(run, expected)
    if stuck:
        run.rows.append(Row("drain", stuck, ok=False))
        if time.monotonic() > run.deadline:
            return
    say("checking the poison's dead letters")
    check_poisons(run, poisons)
    say("resetting the index group to the earliest offsets")
    run.rows.append(replay_index(run))
    run.rows.append(ledger_row(run))


def stop_everything(run: Run) -> None:
    for service in run.services.values():
        service.stop()
    for pid in alive(run.orphans):  # workers a SIGKILLed service left behind: ours to end
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=2000, help="pages to ingest, one article each")
    parser.add_argument("--seed", type=int, default=random.randrange(1 << 31), help="picks the random moments")
    parser.add_argument("--budget", type=float, default=1800, help="seconds before the run gives up")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    if not corpus.datasets_present():
        print(f"chaos run skipped: dataset absent ({corpus.DATASETS})")
        return 0
    started = time.monotonic()
    tag = f"chaos-{uuid.uuid4().hex[:6]}"
    logs = ROOT / ".newsflow" / "chaos" / tag
    logs.mkdir(parents=True, exist_ok=True)
    print(f"{tag}: seed {args.seed}, {args.articles} articles, logs in {logs}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="newsflow-chaos-") as tmp:
        work = Path(tmp)
        waves = write_waves(work, tag, args.articles, tag)
        inbox = work / "inbox"
        inbox.mkdir()
        bootstrap, url, stop_stack = e2e.start_stack(work)
        env = {
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "NEWSFLOW_ELASTICSEARCH_URL": url,
            "NEWSFLOW_REPLICA": tag,
            "NEWSFLOW_LOG_LEVEL": args.log_level,
            "NEWSFLOW_STATE_DIR": str(work / "ingest-state"),
            "NEWSFLOW_SOURCE_NAME": tag,
            "NEWSFLOW_POLL_SECONDS": "0.5",
        }
        es = Elasticsearch(url, request_timeout=120)
        stack_dir = work / "stack" if stop_stack else None
        run = Run(bootstrap, es, env, logs, stack_dir, tag, random.Random(args.seed), started + args.budget)
        try:
            start_services(run, inbox)
            faults(run, waves, inbox)
            account(run, waves)
        except Exception as exc:  # a deadline passed, a service died...: say so, with what we have
            reason = f"{type(exc).__name__}: {str(exc).strip()}".splitlines()[0]
            run.rows.append(Row("run", f"stopped: {reason}", ok=False))
            with contextlib.suppress(Exception):
                account(run, waves)
        finally:
            stop_everything(run)
            es.close()
            if stop_stack:
                subprocess.run(stop_stack, check=False, capture_output=True)
    report = table(run.rows)
    (logs / "table.md").write_text(report + "\n")
    print(report)
    failed = [row.fault for row in run.rows if not row.ok or row.lost or row.duplicates]
    verdict = f"FAILED: {', '.join(failed)}" if failed else "passed: nothing lost, nothing duplicated"
    print(f"\n{tag} (seed {args.seed}) in {time.monotonic() - started:.0f} s: {verdict}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
