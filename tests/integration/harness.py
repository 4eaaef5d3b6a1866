"""What the integration tests drive: the stack, real service processes, and waits with deadlines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from elasticsearch import Elasticsearch

from newsflow_schemas import Message, encode, headers

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T], timeout: float, what: str, interval: float = 0.3) -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class Service:
    """One newsflow service as a real process, with its own health port and log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def start(self) -> Service:
        env = {**os.environ, **self.env, "NEWSFLOW_HTTP_PORT": str(self.port), "NEWSFLOW_HTTP_HOST": "127.0.0.1"}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen([str(BIN / self.argv[0]), *self.argv[1:]], env=env, stdout=log, stderr=log)
        return self

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return 0, ""

    def healthy(self) -> bool:
        self.assert_running()
        return self.get("/healthz")[0] == 200

    def wait_healthy(self, timeout: float = 90) -> Service:
        wait_until(self.healthy, timeout, f"{self.name} /healthz to answer 200 (log: {self.log_path})")
        return self

    def assert_running(self) -> None:
        assert self.process is not None
        code = self.process.poll()
        assert code is None, f"{self.name} exited with {code}; log tail:\n{self.log_tail()}"

    def metric(self, name: str, **labels: str) -> float:
        """The value of one Prometheus sample from /metrics (0 when absent)."""
        _, text = self.get("/metrics")
        wanted = {f'{k}="{v}"' for k, v in labels.items()}
        for line in text.splitlines():
            if line.startswith(name + "{") and wanted <= set(line[line.index("{") + 1 : line.index("}")].split(",")):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill(self) -> None:
        """SIGKILL: no chance to finish the batch or commit."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


PIPELINE_GROUPS = {
    "newsflow-parse": ["news.raw.v1"],
    "newsflow-enrich": ["news.articles.v1"],
    "newsflow-enrich-state": ["news.analysed.v1"],
    "newsflow-index": ["news.enriched.v1", "news.trends.v1"],
}
"""Each stage's consumer group and what it reads."""


class Kafka:
    """Produce and read topics the way a downstream consumer would."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def produce(self, topic: str, messages: list[Message]) -> None:
        items = [(encode(m), m.key().encode(), headers(m, "test")) for m in messages]
        asyncio.run(self._produce(topic, items))

    def produce_raw(self, topic: str, value: bytes, key: bytes) -> None:
        asyncio.run(self._produce(topic, [(value, key, [("trace-id", key)])]))

    def produce_records(self, topic: str, items: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]]) -> None:
        """Records as given: any bytes, no key, odd headers (what a careless or hostile producer sends)."""
        asyncio.run(self._produce(topic, items))

    async def _produce(self, topic: str, items: list[tuple[bytes, bytes | None, list[tuple[str, bytes]]]]) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, enable_idempotence=True, acks="all", max_request_size=10 * 1024 * 1024
        )
        await producer.start()
        try:
            batch = [await producer.send(topic, value, key=key, headers=hdrs) for value, key, hdrs in items]
            await asyncio.gather(*batch)
        finally:
            await producer.stop()

    def drained(self) -> bool:
        """Every stage of the pipeline has committed all of its input: each document has reached its end."""
        return all(self.lag(group, topics) == 0 for group, topics in PIPELINE_GROUPS.items())

    def lag(self, group: str, topics: list[str]) -> int:
        """Records of ``topics`` the group has not committed yet (0: it is done with everything so far)."""
        return asyncio.run(self._lag(group, topics))

    async def _lag(self, group: str, topics: list[str]) -> int:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False)
        await consumer.start()
        try:
            await consumer.topics()  # loads the metadata of every topic
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
            end = await consumer.end_offsets(partitions)
            committed = [await consumer.committed(tp) or 0 for tp in partitions]
            return sum(end[tp] for tp in partitions) - sum(committed)
        finally:
            await consumer.stop()

    def read(self, topic: str) -> list[dict[str, Any]]:
        """Every record of a topic from the beginning, as dicts with the decoded JSON value."""
        return asyncio.run(self._read(topic))

    async def _read(self, topic: str) -> list[dict[str, Any]]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                await consumer.topics()  # asks the broker for the metadata of every topic
                partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            end = await consumer.end_offsets(partitions)
            records: list[dict[str, Any]] = []
            while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
                for messages in (await consumer.getmany(timeout_ms=500)).values():
                    records += [
                        {"key": m.key, "raw": m.value, "value": _json(m.value), "headers": dict(m.headers)}
                        for m in messages
                    ]
            return records
        finally:
            await consumer.stop()


def indexed(es: Elasticsearch, source: str, size: int = 1000) -> list[dict[str, Any]]:
    """The indexed articles of one source (each test ingests under a source of its own)."""
    es.indices.refresh(index="news-articles")
    response = es.search(index="news-articles", query={"term": {"source": source}}, size=size)
    return [hit["_source"] for hit in response["hits"]["hits"]]


def _json(value: bytes | None) -> Any:
    try:
        return json.loads(value or b"")
    except ValueError:
        return None
