"""RSS 2.0, Atom and RDF feeds (feedparser), polled on their interval with conditional GET.

Each new item's page is fetched through PageIngest and sent with the item's title, date, authors
and summary. A feed with errors (feedparser's bozo) still yields its valid items, with a warning;
a feed declaring XML entities (a billion-laughs bomb) is refused before feedparser sees it.
"""

from __future__ import annotations

import asyncio
import calendar
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as safe_xml  # type: ignore[import-untyped]
import feedparser  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from newsflow_common.dlq import Rejected
from newsflow_common.lifecycle import wait_or_stop
from newsflow_common.logs import get_logger
from newsflow_common.retry import backoff_delay
from newsflow_ingest.documents import Refusal
from newsflow_ingest.fetch import XML_TYPES, Fetcher, FetchError, Page
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.metrics import FETCHES
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.sources import PolledSource
from newsflow_schemas import SourceHints

FEED_TYPES = XML_TYPES | {"text/plain"}  # many servers send feeds as text/plain; HTML is refused
log = get_logger(__name__)


@dataclass(frozen=True)
class FeedItem:
    key: str
    """Identifies the item across polls: its guid, else its link."""
    version: str
    """Changes when the item is updated."""
    link: str | None
    hints: SourceHints


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: list[FeedItem]
    problem: str | None
    """feedparser's bozo exception, when the feed is not well-formed (its valid items are kept)."""


def refuse_entities(data: bytes) -> None:
    """Raise Rejected when the XML declares entities (billion laughs) or external references."""
    try:
        safe_xml.fromstring(data)
    except DefusedXmlException as exc:
        raise Rejected("xml-entities", f"the XML declares entities or external references: {exc!r}") from exc
    except ParseError:
        if b"<!entity" in data[:65536].lower():  # malformed and declaring entities: no benefit of the doubt
            raise Rejected("xml-entities", "malformed XML declaring entities") from None


def parse_feed(data: bytes, config: PolledSource) -> Feed:
    """The feed's items with their hints; raises Rejected for a bomb or something that is no feed at all."""
    refuse_entities(data)
    headers = {"content-location": config.url, "content-type": "application/xml"}  # the fetcher checked the type
    parsed = feedparser.parse(data, response_headers=headers)
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        raise Rejected("not-a-feed", f"no feed in the document: {parsed.get('bozo_exception')!r}")
    site = parsed.feed.get("title")
    language = config.language or (parsed.feed.get("language") or "")[:2].lower() or None
    items = [_item(entry, config, site, language) for entry in parsed.entries]
    problem = repr(parsed.get("bozo_exception")) if parsed.bozo else None
    return Feed(title=site, items=[item for item in items if item.key], problem=problem)


def _item(entry: Any, config: PolledSource, site: str | None, language: str | None) -> FeedItem:
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    authors = [a["name"] for a in entry.get("authors", []) if a.get("name")]
    tags = [t["term"] for t in entry.get("tags", []) if t.get("term")]
    link = entry.get("link")
    return FeedItem(
        key=f"item:{config.url}:{entry.get('id') or link or entry.get('title') or ''}",
        version=(entry["updated"] if "updated" in entry else entry.get("published")) or "",
        link=link,
        hints=SourceHints(
            title=entry.get("title"),
            published_at=datetime.fromtimestamp(calendar.timegm(published), UTC) if published else None,
            authors=authors or ([entry["author"]] if entry.get("author") else []),
            summary=entry.get("summary"),
            section=config.section or (tags[0] if tags else None),
            language=language,
            site_name=site,
        ),
    )


class Poller(ABC):
    """Polls one source on its interval until stopped; a failing host is retried with backoff, alone."""

    def __init__(self, config: PolledSource, fetcher: Fetcher, pages: PageIngest, seen: SeenStore) -> None:
        self.config = config
        self.fetcher = fetcher
        self.pages = pages
        self.seen = seen

    @property
    def ingestor(self) -> Ingestor:
        return self.pages.ingestor

    @abstractmethod
    async def poll(self) -> int:
        """One poll: how many new entries it found; raises FetchError when the host is failing."""

    async def run(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            delay = self.config.interval
            try:
                await self.poll()
                failures = 0
            except FetchError as exc:  # transient, tries exhausted: come back sooner than the interval
                failures += 1
                delay = max(1.0, backoff_delay(failures, base=2.0, cap=self.config.interval))
                log.warning("source unreachable", source=self.config.name, error=str(exc), retry_in=round(delay, 1))
            except Exception:  # a bug on one source must not stop it for good
                log.exception("poll failed", source=self.config.name)
            if await wait_or_stop(stop, delay):
                return

    async def fetch(self, url: str, accept: Collection[str], what: str) -> Page | None:
        """The document, or None when unchanged (conditional GET) or refused (counted); transient failures raise."""
        etag, last_modified = await self.seen.validators(url)
        try:
            page = await self.fetcher.fetch(url, accept, etag=etag, last_modified=last_modified)
        except FetchError as exc:
            FETCHES.labels(what, exc.kind).inc()
            if exc.transient:
                raise
            self.ingestor.count_refusal(exc.kind, self.config.name)
            log.warning(f"{what} refused", source=self.config.name, url=url, kind=exc.kind, error=str(exc))
            return None
        FETCHES.labels(what, "ok" if page else "not-modified").inc()
        return page

    async def remember_validators(self, url: str, page: Page) -> None:
        """Saved once the entries are in: a crash before this re-reads it in full (entries seen are skipped)."""
        await self.seen.set_validators(url, page.etag, page.last_modified)

    async def ingest_link(self, url: str, hints: SourceHints | None, found_on: str) -> None:
        try:
            await self.pages.ingest_url(url, source=self.config.name, hints=hints, found_on=found_on)
        except Rejected as exc:  # unfetchable and nothing to send instead: counted by PageIngest
            log.warning("entry dropped", source=self.config.name, url=url, kind=exc.kind, error=str(exc))


class FeedPoller(Poller):
    async def poll(self) -> int:
        page = await self.fetch(self.config.url, FEED_TYPES, "feed")
        if page is None:
            return 0
        try:
            feed = parse_feed(page.body, self.config)
        except Rejected as exc:
            await self.ingestor.refuse(Refusal(exc.kind, str(exc), page.body, self.config.url), self.config.name)
            return 0
        if feed.problem:
            log.warning("feed has errors, keeping its valid items", feed=self.config.name, problem=feed.problem)
        new = [item for item in feed.items if not await self.seen.is_seen(item.key, item.version)]
        await asyncio.gather(*(self._ingest(item) for item in new))
        await self.remember_validators(self.config.url, page)
        log.info("feed polled", feed=self.config.name, items=len(feed.items), new=len(new))
        return len(new)

    async def _ingest(self, item: FeedItem) -> None:
        if item.link is None:
            self.ingestor.count_refusal("no-link", self.config.name)
            log.warning("feed item without a link", feed=self.config.name, item=item.key)
        else:
            await self.ingest_link(item.link, item.hints, self.config.url)
        await self.seen.mark(item.key, item.version)
