"""Ingest benchmark: 10,000 HTML files into Kafka (docs/s) against a bare producer, then the push API under load.

    make bench-ingest          (or: uv run python bench/ingest.py [--files N] [--requests N] [--concurrency N])

Pages are Wikinews articles (../shared/datasets/wikinews, CC BY 2.5) wrapped in an HTML template, or
synthetic text when the dataset is absent. Kafka is the local stand-in started here on free ports, or
KAFKA_BOOTSTRAP_SERVERS when set (the run writes to news.raw.v1 there: use a scratch cluster).

Figures: our one-shot ingest (read, detect the charset, build and validate a RawDocument, produce with
acks=all and wait) against a bare aiokafka producer sending the same bytes with the same settings, so
the ratio is our overhead; then requests/s and p95 latency of POST /v1/documents, each answered after
Kafka's ack, from this process against the service running as its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import html
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from newsflow_common import kafka
from newsflow_common.logs import configure_logging
from newsflow_ingest.service import run_once
from newsflow_ingest.settings import IngestSettings

ROOT = Path(__file__).resolve().parents[1]
DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "wikinews"
BIN = Path(sys.executable).parent
BASELINE_TOPIC = "bench.ingest.baseline"
TOKEN = "bench-token"
TEMPLATE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{title}"><meta property="article:published_time" content="{date}"></head>
<body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<article><h1>{title}</h1><time datetime="{date}">{date}</time>{paragraphs}</article>
<footer>Text from Wikinews, CC BY 2.5. Copy {n}.</footer></body></html>"""


def articles() -> list[tuple[str, str, str]]:
    """(title, date, text) from Wikinews, or synthetic ones when the dataset is absent."""
    files = sorted(DATASET.glob("*.csv"))
    if not files:
        print(f"dataset absent ({DATASET}): synthetic pages instead")
        words = ["council", "budget", "river", "port", "storm", "election", "minister", "court", "health", "market"]
        return [(f"Story {i}", "2024-03-01", " ".join(words[(i + j) % 10] for j in range(400))) for i in range(300)]
    csv.field_size_limit(10**7)
    rows = [row for path in files for row in csv.DictReader(path.open(encoding="utf-8"))]
    print(f"dataset: {len(rows)} Wikinews articles from {DATASET}")
    return [(row["title"], row["date"], row["text"]) for row in rows]


def write_pages(folder: Path, count: int) -> int:
    """``count`` HTML files (each copy numbered, so every file is a distinct document); total bytes."""
    source = articles()
    total = 0
    for n in range(count):
        title, date, text = source[n % len(source)]
        paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n") if p.strip())
        page = TEMPLATE.format(title=html.escape(title), date=date, paragraphs=paragraphs, n=n).encode()
        (folder / f"page-{n:05d}.html").write_bytes(page)
        total += len(page)
    return total


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stack(command: str, data_dir: Path, kafka_port: int, es_port: int) -> None:
    argv = [sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--data-dir", str(data_dir)]
    subprocess.run([*argv, "--kafka-port", str(kafka_port), "--es-port", str(es_port)], check=True)


async def baseline(settings: IngestSettings, files: list[Path]) -> float:
    """Seconds for a bare aiokafka producer (same settings as ours) to send the files' bytes, acked."""
    admin = AIOKafkaAdminClient(**kafka.connection_kwargs(settings))
    await admin.start()
    try:
        if BASELINE_TOPIC not in await admin.list_topics():
            await admin.create_topics([NewTopic(BASELINE_TOPIC, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    producer = kafka.producer(settings, "bench")
    await producer.start()
    try:
        started = time.perf_counter()
        slots = asyncio.Semaphore(64)  # the same bound on sends in flight as Ingestor.ingest_all

        async def one(path: Path) -> None:
            async with slots:
                data = await asyncio.to_thread(path.read_bytes)
                await producer.send_and_wait(BASELINE_TOPIC, data, key=path.name.encode())

        await asyncio.gather(*(one(path) for path in files))
        return time.perf_counter() - started
    finally:
        await producer.stop()


async def load_api(port: int, requests: int, concurrency: int) -> tuple[float, list[float]]:
    """(seconds, latencies) of ``requests`` POSTs of one JSON article each, ``concurrency`` at a time."""
    latencies: list[float] = []
    queue = iter(range(requests))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    run = uuid.uuid4().hex[:8]

    async def worker(session: aiohttp.ClientSession) -> None:
        for n in queue:
            article = {"url": f"https://bench.example/{run}/{n}", "title": f"Bench {n}", "body": "A story. " * 200}
            started = time.perf_counter()
            async with session.post(f"http://127.0.0.1:{port}/v1/documents?source=bench", json=article) as response:
                assert response.status == 202, await response.text()
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def start_api(env: dict[str, str], port: int, state: Path, log: Path) -> subprocess.Popen[bytes]:
    health_port = free_port()
    service_env = {
        **env,
        "NEWSFLOW_API_TOKEN": TOKEN,
        "NEWSFLOW_API_HOST": "127.0.0.1",
        "NEWSFLOW_API_PORT": str(port),
        "NEWSFLOW_HTTP_HOST": "127.0.0.1",
        "NEWSFLOW_HTTP_PORT": str(health_port),
        "NEWSFLOW_STATE_DIR": str(state),
    }
    process = subprocess.Popen([str(BIN / "newsflow-ingest"), "--api"], env=service_env, stderr=log.open("wb"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                sys.exit(f"the API process exited; see {log}")
            time.sleep(0.3)
    process.kill()
    sys.exit(f"the API did not start within 60 s; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as temp:
        work = Path(temp)
        bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        ports = (free_port(), free_port())
        if not bootstrap:
            stack("up", work / "stack", *ports)
            bootstrap = f"127.0.0.1:{ports[0]}"
        try:
            run(work, bootstrap, args)
        finally:
            if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
                stack("down", work / "stack", *ports)


def run(work: Path, bootstrap: str, args: argparse.Namespace) -> None:
    env = {**os.environ, "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap}
    subprocess.run([str(BIN / "newsflow-topics")], env=env, check=True, capture_output=True)
    os.environ.update(env)
    settings = IngestSettings(source_name="bench")
    configure_logging("ingest", settings.log_level)  # as the CLI does: each log line has a cost
    pages = work / "pages"
    pages.mkdir()
    size = write_pages(pages, args.files)
    files = sorted(pages.iterdir())
    print(f"{args.files:,} HTML files, {size / len(files) / 1024:.1f} KB on average, Kafka at {bootstrap}")

    base_cpu = cpu_seconds()
    base_seconds = asyncio.run(baseline(settings, files))
    base_cpu = cpu_seconds() - base_cpu
    cpu = cpu_seconds()
    started = time.perf_counter()
    counts = asyncio.run(run_once(settings, [pages]))
    ours_seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    assert counts.sent == args.files, f"sent {counts.sent} of {args.files}; refused {counts.refused}"
    ours, base = args.files / ours_seconds, args.files / base_seconds
    print(
        f"files -> news.raw.v1     {ours:8,.0f} docs/s  ({ours_seconds:.1f} s, {cpu / args.files * 1e3:.2f} ms CPU/doc)"
    )
    print(
        f"bare aiokafka producer   {base:8,.0f} docs/s  ({base_seconds:.1f} s, "
        f"{base_cpu / args.files * 1e3:.2f} ms CPU/doc; same bytes, same settings)"
    )
    verdict = "met" if ours >= 1000 else "NOT met"
    print(f"ratio ours/baseline      {ours / base:8.2f}   target >= 1,000 docs/s: {verdict}")

    port = free_port()
    api = start_api(env, port, work / "state", work / "api.log")
    try:
        seconds, latencies = asyncio.run(load_api(port, args.requests, args.concurrency))
    finally:
        api.terminate()
        api.wait(timeout=30)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] * 1000
    p50 = latencies[len(latencies) // 2] * 1000
    print(
        f"push API                 {args.requests / seconds:8,.0f} requests/s  "
        f"({args.requests:,} requests, concurrency {args.concurrency}; p50 {p50:.1f} ms, p95 {p95:.1f} ms)"
    )
    print(
        json.dumps(
            {
                "docs_per_s": round(ours),
                "baseline_docs_per_s": round(base),
                "api_rps": round(args.requests / seconds),
                "api_p95_ms": round(p95, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
