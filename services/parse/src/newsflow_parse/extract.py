"""Raw document to articles (or to links to fetch): the parse service's pure, synchronous core.

Dispatches on the content type: HTML goes to :mod:`newsflow_parse.html` (one
article, or a listing's links for ingest to fetch), JSON to
:mod:`newsflow_parse.structured`, plain text to the listing splitter (one
article per story of a scraped listing page, or one plain article). A document
the source could not fetch becomes an article from the source's hints. A
document that cannot become an article raises :class:`Rejected` with a short
kind, and goes to the dead-letter queue.

CPU-bound and free of I/O: the service runs it in a worker process with a time limit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import lxml.html  # type: ignore[import-untyped]

from newsflow_common.dlq import Rejected
from newsflow_parse import dates
from newsflow_parse.html import HtmlArticle, Listing, extract_html
from newsflow_parse.listing import CHROME_MEMORY, Story, fallback_title, single_article, split_listing
from newsflow_parse.structured import JSON_LINES_TYPES, JSON_TYPES, PushedArticle, parse_pushed
from newsflow_schemas import Article, LinkToFetch, Position, RawDocument, SourceHints
from newsflow_schemas.ids import article_id, normalize_url
from newsflow_schemas.models import PublishedAtSource

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
SUPPORTED_TYPES = HTML_TYPES | TEXT_TYPES | JSON_TYPES | JSON_LINES_TYPES
BINARY_SAMPLE_CHARS = 4096
MAX_BINARY_SHARE = 0.05  # control or replacement characters: decoded bytes of an image or an archive
ODD_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd]")  # C0/C1 controls but tab and newlines

# How much each path is trusted (HTML computes its own from what it found).
CONFIDENCE = {"json": 1.0, "listing-splitter": 0.7, "plain-text": 0.6, "feed": 0.2}

Output = Article | LinkToFetch


def extract(raw: RawDocument, now: datetime | None = None) -> list[Output]:
    """The articles of a raw document in page order, or a listing page's links; raises ``Rejected`` when none.

    Kinds: "unsupported-type", "empty", "binary", "schema", "no-article", "error-page", "login-wall".
    """
    parsed_at = (now or datetime.now(UTC)).astimezone(UTC)
    media_type = raw.content_type.split(";", 1)[0].strip().lower()
    if raw.fetch_error:
        return [from_hints(raw, media_type, parsed_at)]
    if media_type not in SUPPORTED_TYPES:
        raise Rejected("unsupported-type", f"cannot parse content type {raw.content_type!r}")
    if not raw.body.strip():
        raise Rejected("empty", "the document has no text")
    if looks_binary(raw.body):
        raise Rejected("binary", "control or replacement characters in the text: decoded binary data, not writing")
    if media_type in HTML_TYPES:
        return from_html(raw, parsed_at)
    if media_type in JSON_TYPES | JSON_LINES_TYPES:
        return [from_pushed(raw, item, parsed_at) for item in parse_pushed(raw.body, media_type)]
    return from_text(raw, parsed_at)


def looks_binary(text: str) -> bool:
    """Whether the text is decoded binary data rather than writing."""
    sample = text[:BINARY_SAMPLE_CHARS]
    odd = len(ODD_CHARS.findall(sample))
    return odd > MAX_BINARY_SHARE * len(sample)


def make_article(
    raw: RawDocument,
    parsed_at: datetime,
    *,
    title: str,
    body: str,
    url: str | None,
    extractor: str,
    confidence: float,
    published: tuple[datetime, PublishedAtSource],
    **fields: Any,
) -> Article:
    """An Article with its deterministic id: canonical URL, else source + title + a date the page gave, else content."""
    published_at, source = published
    id_date = None if source == "fetch-time" else published_at  # a re-fetch tomorrow must give the same id
    return Article(
        trace_id=raw.trace_id,
        article_id=article_id(url=url, source=raw.source, title=title, published_at=id_date, body=body),
        doc_id=raw.doc_id,
        source=raw.source,
        url=url,
        canonical_url=normalize_url(url) if url else None,
        title=title,
        body=body,
        extractor=extractor,
        extraction_confidence=confidence,
        published_at=published_at,
        published_at_source=source,
        parsed_at=parsed_at,
        **fields,
    )


def from_html(raw: RawDocument, parsed_at: datetime) -> list[Output]:
    found = extract_html(raw.body, raw.url, raw.fetched_at, raw.hints)
    if isinstance(found, Listing):
        return links(raw, found, parsed_at)
    return [html_article(raw, found, parsed_at)]


def html_article(raw: RawDocument, page: HtmlArticle, parsed_at: datetime) -> Article:
    return make_article(
        raw,
        parsed_at,
        title=page.title,
        body=page.body,
        url=page.url,
        extractor=page.extractor,
        confidence=page.confidence,
        published=(page.published_at, page.published_at_source),
        authors=list(page.authors),
        section=page.section,
        site_name=page.site_name,
        summary=page.summary,
        language_hint=page.language,
    )


def links(raw: RawDocument, listing: Listing, parsed_at: datetime) -> list[Output]:
    """A listing page's article links, each with its headline as a hint, for ingest to fetch."""
    return [
        LinkToFetch(
            trace_id=raw.trace_id,
            url=url,
            source=raw.source,
            found_on=raw.url,
            hints=SourceHints(title=headline),
            found_at=parsed_at,
        )
        for url, headline in listing.links.items()
    ]


def from_pushed(raw: RawDocument, item: PushedArticle, parsed_at: datetime) -> Article:
    hints = raw.hints or SourceHints()
    published = dates.choose([("feed", item.published_at(raw.fetched_at))], raw.fetched_at)
    return make_article(
        raw,
        parsed_at,
        title=item.title,
        body=item.body,
        url=item.url or raw.url,
        extractor="json",
        confidence=CONFIDENCE["json"],
        published=published,
        authors=item.authors,
        section=item.section or hints.section,
        summary=item.summary,
        language_hint=item.language or hints.language,
        site_name=hints.site_name,
    )


def from_hints(raw: RawDocument, media_type: str, parsed_at: datetime) -> Article:
    """A page the source could not fetch: the feed's title, date and summary, with a low confidence."""
    hints = raw.hints or SourceHints()
    text = raw.body.strip()
    if text and media_type in HTML_TYPES:
        text = " ".join(lxml.html.fromstring(text).text_content().split())  # feed summaries carry markup
    title = hints.title or (fallback_title(text) if text else "")
    if not title:
        raise Rejected("empty", f"not fetched ({raw.fetch_error}) and no title or summary to go on")
    return make_article(
        raw,
        parsed_at,
        title=title,
        body=text or hints.summary or "",
        url=raw.url,
        extractor="feed",
        confidence=CONFIDENCE["feed"],
        published=dates.choose([("feed", hints.published_at)], raw.fetched_at),
        authors=list(hints.authors),
        section=hints.section,
        site_name=hints.site_name,
        summary=hints.summary,
        language_hint=hints.language,
    )


def from_text(raw: RawDocument, parsed_at: datetime) -> list[Output]:
    """Several stories: a listing page, each story without the page's URL; else the text as one article."""
    stories = split_listing(raw.body, raw.fetched_at, CHROME_MEMORY.known(raw.source))
    CHROME_MEMORY.remember(raw.source, raw.body)
    if len(stories) >= 2:
        # The page URL is not the story's: sharing it would give all stories one article_id.
        return [
            story_article(
                raw,
                story,
                "listing-splitter",
                parsed_at,
                url=None,
                position=Position(index=k, start=story.start, end=story.end),
            )
            for k, story in enumerate(stories)
        ]
    story = single_article(raw.body, stories, raw.fetched_at)
    if story is None:
        raise Rejected("empty", "the document has no text")
    return [story_article(raw, story, "plain-text", parsed_at, url=raw.url)]


def story_article(
    raw: RawDocument,
    story: Story,
    extractor: str,
    parsed_at: datetime,
    *,
    url: str | None,
    position: Position | None = None,
) -> Article:
    # The source's hints describe the page: they fit a single article, not each story of a listing.
    hints = (raw.hints if position is None else None) or SourceHints()
    return make_article(
        raw,
        parsed_at,
        title=story.title,
        body=story.body,
        url=url,
        extractor=extractor,
        confidence=CONFIDENCE[extractor],
        published=dates.choose([("text", story.published_at), ("feed", hints.published_at)], raw.fetched_at),
        authors=list(story.authors or hints.authors),
        section=story.section or hints.section,
        site_name=hints.site_name,
        language_hint=hints.language,
        position=position,
    )
