"""The one door to news.raw.v1: every source hands its documents and refusals to an Ingestor.

It skips what was seen before (same URL, same content), produces with the idempotent producer
and waits for the ack, dead-letters refusals with their bytes, and counts everything by source.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from aiokafka import AIOKafkaProducer
from watchfiles import Change, awatch

from newsflow_common import kafka
from newsflow_common.dlq import Rejected, dead_letter
from newsflow_common.lifecycle import wait_or_stop
from newsflow_common.logs import get_logger, trace
from newsflow_common.metrics import DEAD_LETTERS, ERRORS, LEDGER, MESSAGES_IN, MESSAGES_OUT, SOURCE_LABELS
from newsflow_common.progress import Progress
from newsflow_common.retry import retry_forever
from newsflow_common.stage import SOURCE_NAME_HEADER
from newsflow_ingest.documents import Refusal
from newsflow_ingest.files import file_digest, find_files, folder_entry, read_file, walk
from newsflow_ingest.metrics import REFUSED, SKIPPED
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import RAW, Message, RawDocument, dlq_of, encode, headers
from newsflow_schemas.ids import normalize_url

SERVICE = "ingest"
HEADROOM_BYTES = 64 * 1024
"""Room left under the Kafka request limit for the key, the headers and the record's framing."""
API_SOURCE = "api"
"""The source of a pushed document that names none."""
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
        SOURCE_LABELS.allow(settings.source_name, API_SOURCE)  # configured names: metrics may carry them
        self.producer = producer
        self.seen = seen
        self.counts = Counts()
        # A bulk run logs each document at DEBUG: a JSON line costs more than producing it, and the progress
        # line tells the rest. Refusals are always logged.
        self.log_document = log.debug if bulk else log.info

    async def send(self, topic: str, message: Message, source_name: str | None = None) -> None:
        """Produce and wait for the ack; a broker away is retried until it is back, never dropped.

        ``source_name`` goes into a header: a refusal's dead letter holds only the locator, the ledger wants the name.
        Raises Rejected('too-large') for a message the broker would refuse: text that JSON escapes (quotes,
        control characters) can grow past the limit although its bytes were under max_document_bytes.
        """
        value = encode(message)
        limit = self.settings.kafka_max_request_bytes - HEADROOM_BYTES
        if len(value) > limit:
            raise Rejected("too-large", f"{len(value)} bytes once encoded for Kafka, over {limit}")
        extra = [(SOURCE_NAME_HEADER, source_name.encode())] if source_name else []
        await retry_forever(
            lambda: self.producer.send_and_wait(
                topic, value, key=message.key().encode(), headers=[*headers(message, SERVICE), *extra]
            ),
            transient=kafka.is_transient_kafka_error,
            service=SERVICE,
            name=f"produce {topic}",
        )
        MESSAGES_OUT.labels(SERVICE, topic).inc()

    async def deliver(self, document: RawDocument) -> bool:
        """Send a document to news.raw.v1; False when its URL was already ingested with the same content."""
        MESSAGES_IN.labels(SERVICE, RAW).inc()
        key = _seen_key(document)
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
        MESSAGES_IN.labels(SERVICE, RAW).inc()
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

    async def ingest_file(self, path: Path | Refusal) -> None:
        """Every document of a file, or its refusals; the reading and decoding run in a worker thread.

        ``path`` may be the refusal of a folder entry that is not read (a link leading out): it is dead-lettered.
        """
        source = self.settings.source_name
        if isinstance(path, Refusal):
            await self.refuse(path, source)
            return
        items = read_file(path, source=source, max_bytes=self.settings.max_document_bytes)
        async for item in in_thread(items):
            if isinstance(item, Refusal):
                await self.refuse(item, source)
                continue
            try:
                await self.deliver(item)
            except Rejected as exc:  # too large once encoded
                await self.refuse(Refusal(exc.kind, str(exc), item.body.encode("utf-8", "replace"), item.uri), source)

    async def ingest_file_or_log(self, path: Path | Refusal) -> None:
        """ingest_file, where a failure that is not the file's (refusals are) is logged and counted: the run goes on."""
        try:
            await self.ingest_file(path)
        except Exception as exc:
            ERRORS.labels(SERVICE, "file-failed").inc()
            log.exception("file not ingested", path=str(path), error=str(exc)[:300])

    async def ingest_all(self, paths: Iterable[Path], concurrency: int = 64) -> Counts:
        """Ingest files with a bounded number of sends in flight, showing progress."""
        files = list(find_files(paths))
        progress = Progress("ingested files", total=len(files))
        slots = asyncio.Semaphore(concurrency)

        async def one(path: Path | Refusal) -> None:
            async with slots:
                await self.ingest_file_or_log(path)
                progress.advance()

        await asyncio.gather(*(one(path) for path in files))
        progress.finish()
        return self.counts


def _seen_key(document: RawDocument) -> str | None:
    """The seen-before key of a fetched or pushed page: its normalised URL (none for a URL that does not parse)."""
    if not document.url or document.fetch_error:
        return None
    try:
        return f"url:{normalize_url(document.url)}"
    except ValueError:  # a WARC record's target URI is whatever the crawler wrote
        return None


async def in_thread(items: Iterator[T], chunk: int = 8) -> AsyncIterator[T]:
    """Iterate a blocking iterator (file reading, decoding) in worker threads, a few items at a time."""
    while True:
        batch = await asyncio.to_thread(lambda: list(itertools.islice(items, chunk)))
        for item in batch:
            yield item
        if len(batch) < chunk:  # exhausted: no second trip to a thread for a one-document file
            return


async def watch_folder(ingestor: Ingestor, seen: SeenStore, folder: Path, stop: asyncio.Event) -> None:
    """Ingest every new or changed file in ``folder`` once, even across restarts (seen-before by path and hash).

    At start every file is hashed once; afterwards only what changed is hashed and read: what the kernel
    reports (inotify, through watchfiles), or with NEWSFLOW_WATCH_FORCE_POLLING (bind mounts, network file
    systems: no events) the files whose size, mtime or inode moved since the last look.
    """
    root = await asyncio.to_thread(folder.resolve)
    polling = bool(ingestor.settings.watch_force_polling)
    log.info("watching", folder=str(folder), polling=polling)
    if polling:
        first_look = await asyncio.to_thread(_file_stats, folder)
        changes = _polled(folder, stop, ingestor.settings.poll_seconds, first_look)
    else:
        changes = _notified(folder, stop)
    # The watch begins (inotify registers the folder) before the scan lists it: a file written in between is
    # seen by both and sent once (seen-before by path and hash), never by neither.
    first_change = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0)
    try:
        for entry in await asyncio.to_thread(lambda: list(find_files([folder]))):
            await _ingest_if_changed(ingestor, seen, entry)
        async for paths in _resumed(first_change, changes):
            for entry in await asyncio.to_thread(_changed_entries, paths, root):
                if stop.is_set():
                    return
                await _ingest_if_changed(ingestor, seen, entry)
    finally:
        first_change.cancel()  # still waiting when the watch ends during the start-up scan


async def _notified(folder: Path, stop: asyncio.Event) -> AsyncIterator[list[Path]]:
    """Paths added or modified, as inotify reports them (a burst of events comes as one batch)."""
    async for batch in awatch(folder, stop_event=stop, force_polling=False, debounce=200, step=50):
        yield sorted({Path(path) for change, path in batch if change != Change.deleted})


async def _resumed(first: asyncio.Future[list[Path]], rest: AsyncIterator[list[Path]]) -> AsyncIterator[list[Path]]:
    """The changes of an iterator whose first step was started early."""
    try:
        yield await first
    except StopAsyncIteration:
        return
    async for paths in rest:
        yield paths


async def _polled(
    folder: Path, stop: asyncio.Event, seconds: float, last: dict[Path, tuple[int, int, int]]
) -> AsyncIterator[list[Path]]:
    """Paths whose size, mtime (ns) or inode changed between two looks, the first one ``last``.

    Not watchfiles' polling: it compares mtimes in whole seconds and misses a file rewritten within one.
    """
    while not await wait_or_stop(stop, seconds):
        now = await asyncio.to_thread(_file_stats, folder)
        changed = sorted(path for path, stats in now.items() if last.get(path) != stats)
        last = now
        if changed:
            yield changed


def _file_stats(folder: Path) -> dict[Path, tuple[int, int, int]]:
    stats = {}
    for directory, _, names in os.walk(folder):
        for name in names:
            try:
                found = os.stat(Path(directory, name))
            except OSError:  # gone, or a link to nowhere
                continue
            stats[Path(directory, name)] = (found.st_size, found.st_mtime_ns, found.st_ino)
    return stats


def _changed_entries(paths: list[Path], root: Path) -> list[Path | Refusal]:
    """The entries to read or refuse among changed paths: a folder moved in is walked, links judged against root."""
    entries: list[Path | Refusal] = []
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            entries += walk(path, root)
        elif path.exists() or path.is_symlink():
            entry = folder_entry(path, root)
            if entry is not None:
                entries.append(entry)
    return entries


async def _ingest_if_changed(ingestor: Ingestor, seen: SeenStore, entry: Path | Refusal) -> None:
    key = f"file:{entry.locator if isinstance(entry, Refusal) else entry}"
    try:
        version = f"refused:{entry.kind}" if isinstance(entry, Refusal) else await asyncio.to_thread(file_digest, entry)
    except Rejected as exc:  # a FIFO, a socket, a device: ingest_file dead-letters it with the reason
        version = f"refused:{exc.kind}"
    except OSError as exc:  # removed since the event: nothing to ingest
        log.info("file gone before it was read", path=str(entry), error=str(exc))
        return
    if await seen.is_seen(key, version):
        return
    await ingestor.ingest_file_or_log(entry)
    await seen.mark(key, version)
