"""Sitemaps (sitemap.xml, sitemap indexes, Google News sitemaps) as a source of article URLs.

lastmod is respected: a child sitemap or an entry whose lastmod has not changed since the last poll
is not fetched again, and entries older than NEWSFLOW_SITEMAP_MAX_AGE_DAYS are left alone (a first
poll of a site's archive must not fetch ten years of pages). Each new entry goes through PageIngest,
the same path as a feed item. XML is parsed with defusedxml: entity declarations are refused.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_ingest.feeds import Poller, clean_text
from newsflow_ingest.fetch import GZIP_TYPES, XML_TYPES, Fetcher, Page
from newsflow_ingest.metrics import SKIPPED
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.sources import PolledSource
from newsflow_schemas import SourceHints
from newsflow_schemas.ids import normalize_url

SITEMAP_TYPES = XML_TYPES | GZIP_TYPES | {"text/plain"}
MAX_DEPTH = 3
"""Sitemap indexes nested deeper than this are not followed (a loop of indexes ends there)."""
log = get_logger(__name__)


@dataclass(frozen=True)
class Entry:
    loc: str
    lastmod: str | None = None
    hints: SourceHints | None = None

    @property
    def modified(self) -> datetime | None:
        """lastmod, else the news publication date."""
        return _date(self.lastmod) or (self.hints.published_at if self.hints else None)


@dataclass(frozen=True)
class Sitemap:
    pages: list[Entry] = field(default_factory=list)
    children: list[Entry] = field(default_factory=list)
    """Sitemaps listed by a sitemap index."""


def parse_sitemap(data: bytes) -> Sitemap:
    """A urlset's pages or a sitemapindex's children; raises Rejected for a bomb or what is not a sitemap."""
    try:
        root = safe_xml.fromstring(data)
    except DefusedXmlException as exc:
        raise Rejected("xml-entities", f"the sitemap declares entities or external references: {exc!r}") from exc
    except ParseError as exc:
        raise Rejected("xml", f"the sitemap is not well-formed XML: {exc}") from exc
    kind = _local(root.tag)
    if kind == "sitemapindex":
        return Sitemap(children=[_entry(node) for node in root if _local(node.tag) == "sitemap" and _text(node, "loc")])
    if kind == "urlset":
        return Sitemap(pages=[_entry(node) for node in root if _local(node.tag) == "url" and _text(node, "loc")])
    raise Rejected("not-a-sitemap", f"the root element is <{kind}>, not <urlset> or <sitemapindex>")


def _entry(node: Element) -> Entry:
    news = next((child for child in node if _local(child.tag) == "news"), None)
    return Entry(loc=_text(node, "loc") or "", lastmod=_text(node, "lastmod"), hints=_news_hints(news))


def _news_hints(news: Element | None) -> SourceHints | None:
    """What a Google News sitemap says: title, publication date, publication name and language."""
    if news is None:
        return None
    publication = next((child for child in news if _local(child.tag) == "publication"), None)
    language = _text(publication, "language") if publication is not None else None
    return SourceHints(
        title=clean_text(_text(news, "title")),  # titles carry markup and entities there too
        published_at=_date(_text(news, "publication_date")),
        site_name=_text(publication, "name") if publication is not None else None,
        language=language[:2].lower() if language else None,
    )


def _entry_key(entry: Entry) -> str:
    return f"entry:{normalize_url(entry.loc)}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(node: Element, name: str) -> str | None:
    child = next((c for c in node if _local(c.tag) == name), None)
    return child.text.strip() if child is not None and child.text and child.text.strip() else None


def _date(value: str | None) -> datetime | None:
    """A W3C datetime ('2024-03-01', '2024-03-01T10:00:00Z'); a date without a zone is read as UTC."""
    if not value:
        return None
    try:
        date = datetime.fromisoformat(value)
    except ValueError:
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


class SitemapPoller(Poller):
    def __init__(
        self, config: PolledSource, fetcher: Fetcher, pages: PageIngest, seen: SeenStore, max_age: timedelta
    ) -> None:
        super().__init__(config, fetcher, pages, seen)
        self.max_age = max_age

    async def poll(self) -> int:
        return await self._sitemap(self.config.url, depth=0)

    async def _sitemap(self, url: str, depth: int) -> int:
        page = await self.fetch(url, SITEMAP_TYPES, "sitemap")
        if page is None or await self.refused_before(url, page):
            return 0
        try:
            sitemap = parse_sitemap(self._unpack(page))
        except Rejected as exc:
            await self.refuse(url, page, exc)
            return 0
        found = 0
        for child in sitemap.children:
            if depth < MAX_DEPTH and not await self._unchanged(f"sitemap:{child.loc}", child):
                found += await self._sitemap(child.loc, depth + 1)
                await self.seen.mark(f"sitemap:{child.loc}", child.lastmod or "")
        recent = [entry for entry in sitemap.pages if self._recent(entry)]
        changes = await self.changes([(_entry_key(entry), entry.lastmod or "") for entry in recent])
        new = [(entry, updated) for entry, updated in zip(recent, changes, strict=True) if updated is not None]
        SKIPPED.labels(self.config.name, "lastmod").inc(len(recent) - len(new))
        await asyncio.gather(*(self._ingest(entry, url, updated) for entry, updated in new))
        await self.remember_validators(url, page)
        log.info("sitemap polled", source=self.config.name, url=url, pages=len(sitemap.pages), new=len(new))
        return found + len(new)

    async def _ingest(self, entry: Entry, sitemap_url: str, updated: bool) -> None:
        await self.ingest_link(entry.loc, entry.hints, sitemap_url, changed=updated)
        await self.seen.mark(_entry_key(entry), entry.lastmod or "")

    async def _unchanged(self, key: str, entry: Entry) -> bool:
        """Seen before with the same lastmod (an entry without lastmod is read once)."""
        if await self.seen.is_seen(key, entry.lastmod or ""):
            SKIPPED.labels(self.config.name, "lastmod").inc()
            return True
        return False

    def _recent(self, entry: Entry) -> bool:
        modified = entry.modified
        if modified is None or datetime.now(UTC) - modified <= self.max_age:
            return True
        SKIPPED.labels(self.config.name, "old").inc()
        return False

    def _unpack(self, page: Page) -> bytes:
        """sitemap.xml.gz is served as gzip data: inflate it, no further than max_document_bytes."""
        if page.content_type not in GZIP_TYPES and not page.body.startswith(b"\x1f\x8b"):
            return page.body
        limit = self.fetcher.settings.max_document_bytes
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(page.body)) as stream:
                data = stream.read(limit + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise Rejected("gzip", f"not readable gzip data: {exc}") from exc
        if len(data) > limit:
            raise Rejected("too-large", f"the sitemap inflates to more than {limit} bytes")
        return data
