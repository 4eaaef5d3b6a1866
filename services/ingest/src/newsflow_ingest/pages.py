"""One article URL -> one RawDocument: the path every URL takes (feed items, links, sitemap entries, API URLs).

The page is fetched through the guarded Fetcher. When it cannot be fetched, what the source said
about it (the feed item's summary, else its title) is sent instead, marked with ``fetch_error``;
with nothing to send, the URL is Rejected so the caller counts or dead-letters it.

One fetch per URL across every source: the same page listed by an RSS feed, an Atom feed and two
sitemaps is fetched by whichever source comes first; the others skip it (``skipped{reason=fetched}``)
while it is in flight and afterwards, across restarts (keyed by the normalised URL in the seen-before
store). Only a source saying the page changed (an updated feed item, a new lastmod) fetches it again.
A fetch that failed is not remembered: another source may try.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_ingest.documents import Refusal, new_document
from newsflow_ingest.fetch import PAGE_TYPES, Fetcher, FetchError
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.metrics import FETCHES, SKIPPED
from newsflow_schemas import SourceHints
from newsflow_schemas.ids import normalize_url

log = get_logger(__name__)


class PageIngest:
    def __init__(self, fetcher: Fetcher, ingestor: Ingestor) -> None:
        self.fetcher = fetcher
        self.ingestor = ingestor
        self._in_flight: set[str] = set()

    async def ingest_url(
        self,
        url: str,
        *,
        source: str,
        hints: SourceHints | None = None,
        found_on: str | None = None,
        trace_id: str | None = None,
        changed: bool = False,
    ) -> bool:
        """Fetch and send one page, unless another source already did (``changed``: the source says it changed).

        True when something was sent. Raises Rejected when nothing can be.
        """
        key = normalize_url(url)
        if key in self._in_flight:
            return self._skip(url, source)
        self._in_flight.add(key)  # before the first await: a second source arriving meanwhile skips it
        try:
            if not changed and await self._fetched_before(key):
                return self._skip(url, source)
            return await self._ingest(url, source=source, hints=hints, found_on=found_on, trace_id=trace_id)
        finally:
            self._in_flight.discard(key)

    def _skip(self, url: str, source: str) -> bool:
        SKIPPED.labels(source, "fetched").inc()
        log.debug("page fetched for another source", url=url, source=source)
        return False

    async def _fetched_before(self, key: str) -> bool:
        seen = self.ingestor.seen
        return seen is not None and await seen.version(f"page:{key}") is not None

    async def _remember_fetched(self, key: str) -> None:
        if self.ingestor.seen is not None:
            await self.ingestor.seen.mark(f"page:{key}", datetime.now(UTC).isoformat())

    async def _ingest(
        self, url: str, *, source: str, hints: SourceHints | None, found_on: str | None, trace_id: str | None
    ) -> bool:
        metadata = {"found_on": found_on} if found_on else {}
        trace_id = trace_id or uuid.uuid4().hex
        try:
            page = await self.fetcher.fetch(url, PAGE_TYPES)
        except FetchError as exc:
            FETCHES.labels("page", exc.kind).inc()
            self.ingestor.count_refusal(exc.kind, source)
            log.warning("page not fetched", url=url, source=source, kind=exc.kind, error=str(exc))
            return await self._send_summary(
                url, source=source, hints=hints, error=exc, metadata=metadata, trace_id=trace_id
            )
        assert page is not None  # no validators were sent: never a 304
        FETCHES.labels("page", "ok").inc()
        await self._remember_fetched(normalize_url(url))
        try:
            document = new_document(
                page.body,
                source=source,
                locator=normalize_url(url),
                uri=url,
                url=page.url,
                content_type=page.content_type,
                max_bytes=self.fetcher.settings.max_document_bytes,
                declared_charset=page.charset,
                hints=hints,
                metadata=metadata,
                trace_id=trace_id,
            )
        except Rejected as exc:  # an empty or binary page under a text content type
            await self.ingestor.refuse(Refusal(exc.kind, str(exc), page.body, url), source)
            return False
        return await self.ingestor.deliver(document)

    async def _send_summary(
        self,
        url: str,
        *,
        source: str,
        hints: SourceHints | None,
        error: FetchError,
        metadata: dict[str, str],
        trace_id: str,
    ) -> bool:
        """The source's own summary (or title) of a page that could not be fetched, marked so."""
        text = (hints.summary or hints.title) if hints else None
        if not text or error.kind == "malformed-url":  # a URL that does not parse cannot key a document
            raise Rejected(error.kind, f"{error} (and the source gave no summary to send instead)")
        document = new_document(
            text.encode("utf-8"),
            source=source,
            locator=normalize_url(url),
            uri=url,
            url=url,
            content_type="text/html",  # feed summaries are HTML fragments
            max_bytes=self.fetcher.settings.max_document_bytes,
            declared_charset="utf-8",
            hints=hints,
            metadata=metadata,
            fetch_error=f"{error.kind}: {error}",
            trace_id=trace_id,
        )
        return await self.ingestor.deliver(document)
