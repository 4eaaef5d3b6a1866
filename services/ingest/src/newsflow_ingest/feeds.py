"""RSS 2.0, Atom and RDF feeds (feedparser), polled on their interval with conditional GET.

Each new item's page is fetched through PageIngest and sent with the item's title, date, authors
and summary. A feed with errors (feedparser's bozo) still yields its valid items, with a warning;
a feed declaring XML entities (a billion-laughs bomb) is refused before feedparser sees it.

Feeds as they are written: titles and authors arrive with markup, entities and `email (Name)`,
dates in the feed's language, items without a link, several items that are posts of one page
(links that differ only by `#fragment`). Titles and authors are cleaned here; an item without a
link, or a post, becomes a document from its own content (see ``FeedPoller``).
"""

from __future__ import annotations

import asyncio
import calendar
import hashlib
import html
import json
import re
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import urldefrag
from xml.etree.ElementTree import ParseError

import dateparser
import defusedxml.ElementTree as safe_xml  # type: ignore[import-untyped]
import feedparser  # type: ignore[import-untyped]
import lxml.html  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException
from lxml.etree import ParserError  # type: ignore[import-untyped]

from newsflow_common.dlq import Rejected
from newsflow_common.lifecycle import wait_or_stop
from newsflow_common.logs import get_logger
from newsflow_common.retry import backoff_delay
from newsflow_ingest.documents import Refusal, new_document
from newsflow_ingest.fetch import XML_TYPES, Fetcher, FetchError, Page
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.metrics import FETCHES, SKIPPED
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.sources import PolledSource
from newsflow_schemas import RawDocument, SourceHints

FEED_TYPES = XML_TYPES | {"text/plain"}  # many servers send feeds as text/plain; HTML is refused
BREAKS = frozenset({"br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td"})
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
DATE_SETTINGS: Any = {"RETURN_AS_TIMEZONE_AWARE": True, "TIMEZONE": "UTC", "TO_TIMEZONE": "UTC"}
log = get_logger(__name__)


@dataclass(frozen=True)
class FeedItem:
    key: str
    """Identifies the item across polls: its guid (fragment included), else its link, else its title."""
    version: str
    """Changes when the item is updated."""
    link: str | None
    hints: SourceHints
    guid: str | None = None
    content: str | None = None
    """The item's full content (content:encoded, Atom content), else None; HTML."""


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
    if not parsed.entries and (not parsed.version or (parsed.bozo and not parsed.feed.get("title"))):
        raise Rejected("not-a-feed", f"no RSS, Atom or RDF feed in the document: {parsed.get('bozo_exception')!r}")
    site = clean_text(parsed.feed.get("title"))
    language = config.language or (parsed.feed.get("language") or "")[:2].lower() or None
    atom = str(parsed.version).startswith("atom")
    items = [_item(entry, config, site, language, atom) for entry in parsed.entries]
    problem = repr(parsed.get("bozo_exception")) if parsed.bozo else None
    return Feed(title=site, items=[item for item in items if item.key], problem=problem)


def _item(entry: Any, config: PolledSource, site: str | None, language: str | None, atom: bool) -> FeedItem:
    tags = [t["term"] for t in entry.get("tags", []) if t.get("term")]
    link = entry.get("link")
    guid = entry.get("id")
    title = clean_text(entry.get("title"))
    content = next((c.get("value") for c in entry.get("content", []) if c.get("value")), None)
    return FeedItem(
        key=f"item:{config.url}:{guid or link or title or ''}",  # guids compared whole: a #fragment is part of it
        version=(entry["updated"] if "updated" in entry else entry.get("published")) or "",
        link=link,
        guid=guid,
        content=content,
        hints=SourceHints(
            title=title,
            published_at=_published(entry, language),
            authors=_authors(entry, atom),
            summary=entry.get("summary"),
            section=config.section or (tags[0] if tags else None),
            language=language,
            site_name=site,
        ),
    )


def clean_text(value: str | None) -> str | None:
    """Plain text from a feed's title or name: markup stripped, entities decoded (twice-escaped ones too)."""
    text = CONTROL.sub("", value or "")
    for _ in range(3):  # "&amp;lt;b&amp;gt;" is markup escaped twice: strip, decode, and look again
        stripped = _strip_markup(text)
        decoded = html.unescape(stripped)
        if decoded == stripped:
            break
        text = decoded
    return " ".join(decoded.split()) or None


def _strip_markup(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    try:
        root = lxml.html.fragment_fromstring(text, create_parent="div")
    except (ParserError, ValueError):  # nothing an HTML parser can hold: keep the text as it came
        return text
    for element in root.iter():
        if element.tag in BREAKS:  # "Line<br>break" reads as two words
            element.tail = " " + (element.tail or "")
    return str(root.text_content())


def clean_author(value: str | None) -> str | None:
    """A byline's name: `email (Name)` and `Name <email>` give Name, an address alone gives nothing."""
    text = (value or "").strip()
    if "@" in text:
        name, address = parseaddr(text)
        if "@" in address:
            text = name
    return clean_text(text)


def _authors(entry: Any, atom: bool) -> list[str]:
    """Atom's <name>s; for RSS the author as written (feedparser cuts `email (Name)` in the wrong place)."""
    details = [detail.get("name") or "" for detail in entry.get("authors", [])]
    written = details if atom or len(details) > 1 else [entry.get("author") or ""]
    names = [name for raw in written if (name := clean_author(raw))]
    return list(dict.fromkeys(names))


def _published(entry: Any, language: str | None) -> datetime | None:
    """The item's date: feedparser's reading, else dateparser's in the feed's language (`mer, 16 nov 2022`)."""
    # dict.get: FeedParserDict.get maps a missing "updated" to "published", with a DeprecationWarning
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if parsed:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    return parse_date(dict.get(entry, "published") or dict.get(entry, "updated"), language)


def parse_date(value: str | None, language: str | None) -> datetime | None:
    """A date as feeds write it in any language dateparser knows; None when it is not one."""
    if not value or not value.strip():
        return None
    for languages in ([language], None) if language else (None,):
        try:
            date = dateparser.parse(value[:100], languages=languages, settings=DATE_SETTINGS)
        except ValueError:  # a language code dateparser does not know
            continue
        if isinstance(date, datetime) and date.tzinfo is not None:
            return date.astimezone(UTC)
    return None


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

    async def refused_before(self, url: str, page: Page) -> bool:
        """The very bytes refused last time (by content hash): not dead-lettered again on every poll."""
        if await self.seen.version(f"broken:{url}") != _sha256(page.body):
            return False
        SKIPPED.labels(self.config.name, "refused-before").inc()
        log.info("still broken, as refused before", source=self.config.name, url=url)
        return True

    async def refuse(self, url: str, page: Page, exc: Rejected) -> None:
        """Dead-letter a broken feed or sitemap once: its validators and content hash are remembered."""
        await self.ingestor.refuse(Refusal(exc.kind, str(exc), page.body, url), self.config.name)
        await self.seen.mark(f"broken:{url}", _sha256(page.body))
        await self.remember_validators(url, page)  # a server that knows validators answers 304 next time

    async def ingest_link(self, url: str, hints: SourceHints | None, found_on: str, changed: bool = False) -> None:
        """Fetch the page unless another source already did; ``changed``: this source says it was updated."""
        try:
            await self.pages.ingest_url(url, source=self.config.name, hints=hints, found_on=found_on, changed=changed)
        except Rejected as exc:  # unfetchable and nothing to send instead: counted by PageIngest
            log.warning("entry dropped", source=self.config.name, url=url, kind=exc.kind, error=str(exc))

    async def changes(self, keyed: list[tuple[str, str]]) -> list[bool | None]:
        """For each (key, version): None when seen as it is, else whether an earlier version was seen."""
        found = []
        for key, version in keyed:
            before = await self.seen.version(key)
            found.append(None if before == version else before is not None)
        return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FeedPoller(Poller):
    """A feed's new and updated items: each item's page, or for an item without a link or a post of a
    page (items sharing a page, told apart by a `#fragment`), a document made of the item's own content.
    """

    async def poll(self) -> int:
        url = self.config.url
        page = await self.fetch(url, FEED_TYPES, "feed")
        if page is None or await self.refused_before(url, page):
            return 0
        try:
            feed = parse_feed(page.body, self.config)
        except Rejected as exc:
            await self.refuse(url, page, exc)
            return 0
        if feed.problem:
            log.warning("feed has errors, keeping its valid items", feed=self.config.name, problem=feed.problem)
        changes = await self.changes([(item.key, item.version) for item in feed.items])
        new = [(item, updated) for item, updated in zip(feed.items, changes, strict=True) if updated is not None]
        posts = _posts(feed.items)
        await asyncio.gather(*(self._ingest(item, updated, item.key in posts) for item, updated in new))
        await self.remember_validators(url, page)
        log.info("feed polled", feed=self.config.name, items=len(feed.items), new=len(new))
        return len(new)

    async def _ingest(self, item: FeedItem, updated: bool, post: bool) -> None:
        if item.link is None or post:
            await self._own_content(item, post)
        else:
            await self.ingest_link(item.link, item.hints, self.config.url, changed=updated)
        await self.seen.mark(item.key, item.version)

    async def _own_content(self, item: FeedItem, post: bool) -> None:
        """The item as its own article: its content (else summary, else title), id from source + guid/title + date."""
        sent = own_document(item, self.config, post, self.fetcher.settings.max_document_bytes)
        if isinstance(sent, Refusal):
            await self.ingestor.refuse(sent, self.config.name)
        else:
            await self.ingestor.deliver(sent)


def _posts(items: list[FeedItem]) -> set[str]:
    """Keys of the posts of one page (a live blog): items sharing a page with others, told apart by a `#fragment`
    of their link or guid.

    Fetching the page would give each the same page, and the same article: each is its own content instead.
    """
    by_page: defaultdict[str, list[FeedItem]] = defaultdict(list)
    for item in items:
        if item.link:
            by_page[urldefrag(item.link).url].append(item)
    return {
        item.key
        for group in by_page.values()
        if len(group) > 1
        for item in group
        if "#" in (item.link or "") or "#" in (item.guid or "")
    }


def own_document(item: FeedItem, config: PolledSource, post: bool, max_bytes: int) -> RawDocument | Refusal:
    """A document from the item itself, marked with why (``fetch_error``: parse reads it as the source's article).

    Its URL is left empty: the article's id then comes from source + title + date, not from a page it shares.
    """
    date = item.hints.published_at.isoformat() if item.hints.published_at else ""
    locator = f"{config.url}#item={item.guid or item.hints.title or ''}|{date}"
    text = item.content or item.hints.summary or (html.escape(item.hints.title) if item.hints.title else None)
    why = (
        f"post: one of several posts of {urldefrag(item.link or '').url} (told apart by #fragment); its own content"
        if post
        else "no-link: the feed item has no link; its own content is the article"
    )
    if not text:
        original = json.dumps({"key": item.key, "guid": item.guid, "hints": item.hints.model_dump(mode="json")})
        what = "a post without" if post else "a feed item without a link,"
        return Refusal("empty" if post else "no-link", f"{what} a title or any content", original.encode(), locator)
    metadata = {
        "feed": config.url,
        **({"guid": item.guid} if item.guid else {}),
        **({"link": item.link} if item.link else {}),
    }
    try:
        return new_document(
            text.encode("utf-8"),
            source=config.name,
            locator=locator,
            uri=item.link or config.url,
            content_type="text/html",  # feed content is HTML
            max_bytes=max_bytes,
            declared_charset="utf-8",
            hints=item.hints,
            metadata=metadata,
            fetch_error=why,
        )
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), text.encode("utf-8"), locator)
