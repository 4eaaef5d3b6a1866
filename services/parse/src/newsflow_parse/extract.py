"""Raw document to articles: the parse service's pure, synchronous core.

Dispatches on the content type: HTML goes to trafilatura (one article), plain
text to the listing splitter (one article per story of a scraped listing page,
or one plain article). A document that cannot become an article raises
:class:`Rejected` with a short kind, and goes to the dead-letter queue.

CPU-bound and free of I/O: the faust glue runs it in an executor.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from newsflow_common.dlq import Rejected
from newsflow_parse.html import extract_html
from newsflow_parse.listing import Story, single_article, split_listing
from newsflow_schemas import Article, Position, RawDocument
from newsflow_schemas.ids import article_id

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
TEXT_TYPES = frozenset({"text/plain"})
BINARY_SAMPLE_CHARS = 4096
MAX_BINARY_SHARE = 0.05  # control or replacement characters: decoded bytes of an image or an archive


def extract(raw: RawDocument, now: datetime | None = None) -> list[Article]:
    """The articles of a raw document, in page order; raises ``Rejected`` when it holds none.

    Kinds: "unsupported-type", "empty", "binary", "no-article".
    """
    parsed_at = (now or datetime.now(UTC)).astimezone(UTC)
    media_type = raw.content_type.split(";", 1)[0].strip().lower()
    if media_type not in HTML_TYPES | TEXT_TYPES:
        raise Rejected("unsupported-type", f"cannot parse content type {raw.content_type!r}")
    if not raw.body.strip():
        raise Rejected("empty", "the document has no text")
    if looks_binary(raw.body):
        raise Rejected("binary", "control or replacement characters in the text: decoded binary data, not writing")
    if media_type in HTML_TYPES:
        return [from_html(raw, parsed_at)]
    return from_text(raw, parsed_at)


def looks_binary(text: str) -> bool:
    """Whether the text is decoded binary data rather than writing."""
    sample = text[:BINARY_SAMPLE_CHARS]
    odd = sum(1 for c in sample if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\t\n\r\f"))
    return odd > MAX_BINARY_SHARE * len(sample)


def from_html(raw: RawDocument, parsed_at: datetime) -> Article:
    page = extract_html(raw.body, raw.url)
    return Article(
        trace_id=raw.trace_id,
        article_id=article_id(
            url=page.url, source=raw.source, title=page.title, published_at=page.published_at, body=page.body
        ),
        doc_id=raw.doc_id,
        source=raw.source,
        url=page.url,
        title=page.title,
        body=page.body,
        section=page.section,
        authors=list(page.authors),
        published_at=page.published_at,
        extractor="trafilatura",
        parsed_at=parsed_at,
    )


def from_text(raw: RawDocument, parsed_at: datetime) -> list[Article]:
    """Several stories: a listing page, each story without the page's URL; else the text as one article."""
    stories = split_listing(raw.body, parsed_at)
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
    story = single_article(raw.body, stories, parsed_at)
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
    return Article(
        trace_id=raw.trace_id,
        article_id=article_id(
            url=url, source=raw.source, title=story.title, published_at=story.published_at, body=story.body
        ),
        doc_id=raw.doc_id,
        source=raw.source,
        url=url,
        title=story.title,
        body=story.body,
        section=story.section,
        authors=list(story.authors),
        published_at=story.published_at,
        extractor=extractor,
        position=position,
        parsed_at=parsed_at,
    )
