"""Send files to news.raw.v1, refused ones to its DLQ; one-shot or watching a folder."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaProducer

from newsflow_common import kafka
from newsflow_common.dlq import Rejected, dead_letter
from newsflow_common.health import Health, start_http
from newsflow_common.lifecycle import shutdown_event, wait_or_stop
from newsflow_common.logs import get_logger, trace
from newsflow_common.metrics import DEAD_LETTERS, ERRORS, MESSAGES_IN, MESSAGES_OUT
from newsflow_common.progress import Progress
from newsflow_common.retry import retry_forever
from newsflow_ingest.files import file_uri, find_files, raw_document
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import RAW, Message, dlq_of

SERVICE = "ingest"
DLQ_ORIGINAL_CAP = 4 * 1024 * 1024
"""A refused document's bytes kept in its dead letter, at most (a DLQ record must fit a Kafka message)."""

log = get_logger(__name__)


@dataclass
class Counts:
    sent: int = 0
    refused: dict[str, int] = field(default_factory=dict)


class Ingestor:
    """Turns files into messages and produces them, waiting for every ack."""

    def __init__(self, settings: IngestSettings, producer: AIOKafkaProducer) -> None:
        self.settings = settings
        self.producer = producer
        self.counts = Counts()

    async def send(self, topic: str, message: Message) -> None:
        await retry_forever(
            lambda: kafka.send(self.producer, topic, message, SERVICE),
            transient=kafka.is_transient_kafka_error,
            service=SERVICE,
            name=f"produce {topic}",
        )
        MESSAGES_OUT.labels(SERVICE, topic).inc()

    async def ingest_file(self, path: Path) -> None:
        data = await asyncio.to_thread(path.read_bytes)
        MESSAGES_IN.labels(SERVICE, self.settings.source_name).inc()
        try:
            document = raw_document(
                data, path=path, source=self.settings.source_name, max_bytes=self.settings.max_document_bytes
            )
        except Rejected as exc:
            await self.refuse(path, data, exc)
            return
        with trace(document.trace_id, doc_id=document.doc_id):
            await self.send(RAW, document)
            log.info("ingested", uri=document.uri, content_type=document.content_type, chars=len(document.body))
        self.counts.sent += 1

    async def refuse(self, path: Path, data: bytes, exc: Rejected) -> None:
        """Count, log and dead-letter a file that is not ingestible, original bytes included."""
        self.counts.refused[exc.kind] = self.counts.refused.get(exc.kind, 0) + 1
        dlq = dlq_of(RAW)
        DEAD_LETTERS.labels(SERVICE, dlq, exc.kind).inc()
        ERRORS.labels(SERVICE, exc.kind).inc()
        letter = dead_letter(
            original=data[:DLQ_ORIGINAL_CAP],
            stage=SERVICE,
            kind=exc.kind,
            error=str(exc),
            trace_id=uuid.uuid4().hex,
            key=str(path).encode(),
            source=file_uri(path),
        )
        with trace(letter.trace_id):
            log.warning("refused", path=str(path), kind=exc.kind, error=str(exc))
            await self.send(dlq, letter)

    async def ingest_all(self, paths: Iterable[Path], concurrency: int = 64) -> Counts:
        """Ingest files with a bounded number of sends in flight, showing progress."""
        files = list(find_files(paths))
        progress = Progress("ingested files", total=len(files))
        slots = asyncio.Semaphore(concurrency)

        async def one(path: Path) -> None:
            async with slots:
                await self.ingest_file(path)
                progress.advance()

        await asyncio.gather(*(one(path) for path in files))
        progress.finish()
        return self.counts


class SeenFiles:
    """What watch mode already ingested (path -> sha256), kept on disk across restarts."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file
        self.seen: dict[str, str] = json.loads(state_file.read_text()) if state_file.exists() else {}

    def is_new(self, path: Path) -> bool:
        return self.seen.get(str(path)) != hashlib.sha256(path.read_bytes()).hexdigest()

    def mark(self, path: Path) -> None:
        self.seen[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()

    def save(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.seen))
        temporary.replace(self.state_file)  # atomic: a crash leaves the old state or the new, never half


async def start_producer(settings: IngestSettings) -> AIOKafkaProducer:
    producer = kafka.producer(settings, SERVICE)
    await retry_forever(producer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
    return producer


async def run_once(settings: IngestSettings, paths: list[Path]) -> Counts:
    producer = await start_producer(settings)
    try:
        return await Ingestor(settings, producer).ingest_all(paths)
    finally:
        await producer.stop()


async def run_watch(settings: IngestSettings, folder: Path) -> None:
    """Ingest every new or changed file in ``folder`` until SIGTERM; state survives restarts."""
    stop = shutdown_event()
    health = Health(SERVICE)
    runner = await start_http(health, settings.http_host, settings.http_port)
    producer = await start_producer(settings)
    health.ok("kafka")
    seen = SeenFiles(settings.state_dir / "seen-files.json")
    ingestor = Ingestor(settings, producer)
    log.info("watching", folder=str(folder))
    try:
        while not stop.is_set():
            for path in find_files([folder]):
                if stop.is_set():
                    break
                if seen.is_new(path):
                    await ingestor.ingest_file(path)
                    seen.mark(path)
            seen.save()
            await wait_or_stop(stop, settings.poll_seconds)
    finally:
        seen.save()
        await producer.stop()
        await runner.cleanup()
