"""The one door to news.raw.v1: every source hands its documents and refusals to an Ingestor.

It skips what was seen before (same URL, same content), produces with the idempotent producer
and waits for the ack, dead-letters refusals with their bytes, and counts everything by source.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaProducer

from newsflow_common import kafka
from newsflow_common.dlq import dead_letter
from newsflow_common.logs import get_logger, trace
from newsflow_common.metrics import DEAD_LETTERS, ERRORS, LEDGER, MESSAGES_IN, MESSAGES_OUT
from newsflow_common.progress import Progress
from newsflow_common.retry import retry_forever
from newsflow_common.stage import SOURCE_NAME_HEADER
from newsflow_ingest.documents import Refusal
from newsflow_ingest.files import find_files, read_file
from newsflow_ingest.metrics import REFUSED, SKIPPED
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import RAW, Message, RawDocument, dlq_of, encode, headers
from newsflow_schemas.ids import normalize_url

SERVICE = "ingest"
T = TypeVar("T")
log = get_logger(__name__)


@dataclass
class Counts:
    sent: int = 0
    seen: int = 0
    refused: dict[str, int] = field(default_factory=dict)


class Ingestor:
    """Sends documents (skipping those seen before when a store is given) and dead-letters refusals."""

    def __init__(
        self, settings: IngestSettings, producer: AIOKafkaProducer, seen: SeenStore | None = None, bulk: bool = False
    ) -> None:
        self.settings = settings
        self.producer = producer
        self.seen = seen
        self.counts = Counts()
        # A bulk run logs each document at DEBUG: a JSON line costs more than producing it, and the progress
        # line tells the rest. Refusals are always logged.
        self.log_document = log.debug if bulk else log.info

    async def send(self, topic: str, message: Message, source_name: str | None = None) -> None:
        """Produce and wait for the ack; a broker away is retried until it is back, never dropped.

        ``source_name`` goes into a header: a refusal's dead letter holds only the locator, the ledger wants the name.
        """
        extra = [(SOURCE_NAME_HEADER, source_name.encode())] if source_name else []
        await retry_forever(
            lambda: self.producer.send_and_wait(
                topic, encode(message), key=message.key().encode(), headers=[*headers(message, SERVICE), *extra]
            ),
            transient=kafka.is_transient_kafka_error,
            service=SERVICE,
            name=f"produce {topic}",
        )
        MESSAGES_OUT.labels(SERVICE, topic).inc()

    async def deliver(self, document: RawDocument) -> bool:
        """Send a document to news.raw.v1; False when its URL was already ingested with the same content."""
        MESSAGES_IN.labels(SERVICE, document.source).inc()
        key = f"url:{normalize_url(document.url)}" if document.url and not document.fetch_error else None
        version = document.metadata.get("sha256", "")
        with trace(document.trace_id, doc_id=document.doc_id, source=document.source):
            if self.seen is not None and key and await self.seen.is_seen(key, version):
                SKIPPED.labels(document.source, "seen").inc()
                LEDGER.labels(SERVICE, document.source, "seen-before").inc()
                self.counts.seen += 1
                log.info("seen before", url=document.url)
                return False
            await self.send(RAW, document)
            LEDGER.labels(SERVICE, document.source, "sent").inc()
            self.log_document(
                "ingested", uri=document.uri, content_type=document.content_type, chars=len(document.body)
            )
        if self.seen is not None and key:
            await self.seen.mark(key, version)
        self.counts.sent += 1
        return True

    async def refuse(self, refusal: Refusal, source: str) -> None:
        """Count, log and dead-letter what is not ingestible, original bytes included."""
        MESSAGES_IN.labels(SERVICE, source).inc()
        self.count_refusal(refusal.kind, source)
        dlq = dlq_of(RAW)
        DEAD_LETTERS.labels(SERVICE, dlq, refusal.kind).inc()
        letter = dead_letter(
            original=refusal.original,
            stage=SERVICE,
            kind=refusal.kind,
            error=refusal.message,
            trace_id=uuid.uuid4().hex,
            key=refusal.locator.encode(),
            source=refusal.locator,
        )
        with trace(letter.trace_id, source=source):
            log.warning("refused", locator=refusal.locator, kind=refusal.kind, error=refusal.message[:300])
            await self.send(dlq, letter, source_name=source)

    def count_refusal(self, kind: str, source: str) -> None:
        """Count a refusal by reason (also those that have nothing to dead-letter, like an SSRF attempt)."""
        self.counts.refused[kind] = self.counts.refused.get(kind, 0) + 1
        REFUSED.labels(source, kind).inc()
        LEDGER.labels(SERVICE, source, f"refused:{kind}").inc()
        ERRORS.labels(SERVICE, kind).inc()

    async def ingest_file(self, path: Path) -> None:
        """Every document of a file, or its refusals; the reading and decoding run in a worker thread."""
        source = self.settings.source_name
        items = read_file(path, source=source, max_bytes=self.settings.max_document_bytes)
        async for item in in_thread(items):
            if isinstance(item, Refusal):
                await self.refuse(item, source)
            else:
                await self.deliver(item)

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


async def in_thread(items: Iterator[T], chunk: int = 8) -> AsyncIterator[T]:
    """Iterate a blocking iterator (file reading, decoding) in worker threads, a few items at a time."""
    while True:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(items, chunk)))
        for item in batch:
            yield item
        if len(batch) < chunk:  # exhausted: no second trip to a thread for a one-document file
            return
