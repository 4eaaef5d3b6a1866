"""Pre-structured JSON articles (files and the push API): validated, then sent as their own JSON text.

Each article becomes one RawDocument with content type application/json whose body is that article's
JSON; parse maps it onto an Article. Field names: url, title, body, published, author, section, and
also published_at, authors, summary, language, site_name. Unknown fields travel along untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsflow_common.dlq import Rejected
from newsflow_ingest.documents import Refusal, decode_text, new_document
from newsflow_ingest.ssrf import Forbidden, parse_url
from newsflow_parse.structured import PushedArticle
from newsflow_schemas import RawDocument, SourceHints

JSON_TYPE = "application/json"
MAX_DEPTH = 64
"""Deepest nesting an article may hold: deeper, every stage that re-encodes it would hit the recursion limit."""


class ArticleIn(BaseModel):
    """One pushed or filed article; ``body`` may be left out only when ``url`` is there to be fetched."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    title: str | None = None
    body: str | None = None
    published: datetime | None = None
    published_at: datetime | None = None
    author: str | None = None
    authors: list[str] = Field(default_factory=list)
    section: str | None = None
    summary: str | None = None
    language: str | None = Field(default=None, min_length=2, max_length=8)
    site_name: str | None = None

    @field_validator("published", "published_at", mode="before")
    @classmethod
    def _rfc_2822_too(cls, value: Any) -> Any:
        """Feeds and CMS exports often write 'Mon, 01 Mar 2024 10:00:00 GMT'."""
        if isinstance(value, str) and "," in value:
            try:
                return parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return value
        return value

    @field_validator("published", "published_at")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        """Year 1 at +01:00 is before the first UTC instant a datetime holds: no stage could compare it."""
        if value is not None and value.tzinfo is not None:
            try:
                value.astimezone(UTC)
            except OverflowError as exc:
                raise ValueError("the date is out of range once in UTC") from exc
        return value

    @field_validator("url")
    @classmethod
    def _fetchable_form(cls, value: str | None) -> str | None:
        """A URL the HTTP client can parse: 'http://[::1' or a full-width '#' in the host cannot be fetched or keyed."""
        if value is not None:
            try:
                parse_url(value)
            except Forbidden as exc:
                raise ValueError(str(exc)) from exc
        return value

    def hints(self) -> SourceHints:
        published = self.published_at or self.published
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=UTC)  # a date without a zone: read as UTC
        authors = self.authors or ([self.author] if self.author else [])
        return SourceHints(
            title=self.title,
            published_at=published,
            authors=authors,
            summary=self.summary,
            section=self.section,
            language=self.language,
            site_name=self.site_name,
        )


def validate_article(value: object) -> ArticleIn:
    """The article, or Rejected('schema') saying what is wrong.

    An article with a body goes to parse as it is, so it is held to parse's own rules (its PushedArticle
    and date reading), not to a copy of them: what ingest accepts, parse turns into an article.
    """
    if not isinstance(value, dict):
        raise Rejected("schema", f"an article must be a JSON object, not {type(value).__name__}")
    try:
        article = ArticleIn.model_validate(value)
        if article.body:
            PushedArticle.model_validate(value).published_at(datetime.now(UTC))
    except ValidationError as exc:
        raise Rejected("schema", _problems(exc)) from exc
    return article


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'article'}: {e['msg']}" for e in error.errors())


def article_document(
    json_text: str, article: ArticleIn, *, source: str, locator: str, uri: str, max_bytes: int
) -> RawDocument:
    """The RawDocument carrying one article's JSON; raises Rejected when it has no body."""
    if not article.body:
        raise Rejected("schema", "body: an article needs a non-empty body")
    return new_document(
        json_text.encode("utf-8"),
        source=source,
        locator=article.url or locator,
        uri=uri,
        url=article.url,
        content_type=JSON_TYPE,
        max_bytes=max_bytes,
        declared_charset="utf-8",
        hints=article.hints(),
    )


def json_values(text: str, *, lines: bool) -> Iterator[tuple[int, str, object] | Refusal]:
    """(index, JSON text, value) of each article of a .json file (an object or an array) or a .jsonl file."""
    if lines:
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield _loads(number, line)
        return
    parsed = _loads(0, text)
    if isinstance(parsed, Refusal) or not isinstance(parsed[2], list):
        yield parsed
        return
    for index, value in enumerate(parsed[2]):
        yield index, json.dumps(value, ensure_ascii=False), value


def nesting_depth(value: object) -> int:
    """How deep lists and objects nest in a parsed JSON value (counted without recursion)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def loads_bounded(text: str) -> object:
    """json.loads, refusing (Rejected('json')) JSON nested deeper than MAX_DEPTH."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise Rejected("json", "JSON nested too deep") from exc
    if nesting_depth(value) > MAX_DEPTH:
        raise Rejected("json", f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _loads(index: int, text: str) -> tuple[int, str, object] | Refusal:
    try:
        return index, text, loads_bounded(text)
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), text.encode("utf-8", "replace"), f"#{index}")
    except ValueError as exc:
        return Refusal("json", f"not JSON ({exc})", text.encode("utf-8", "replace"), f"#{index}")


def json_line_articles(
    lines: Iterable[tuple[int, bytes] | Refusal], *, source: str, uri: str, max_bytes: int
) -> Iterator[RawDocument | Refusal]:
    """Every article of a JSON lines file read line by line: ``lines`` holds (number, bytes) or a line's refusal."""
    for line in lines:
        if isinstance(line, Refusal):
            yield Refusal(line.kind, line.message, line.original, uri + line.locator)
            continue
        number, data = line
        try:
            text, _ = decode_text(data)
        except Rejected as exc:
            yield Refusal(exc.kind, str(exc), data, f"{uri}#{number}")
            continue
        item = _loads(number, text)
        if isinstance(item, Refusal):
            yield Refusal(item.kind, item.message, item.original, uri + item.locator)
            continue
        yield _article_item(item, source=source, uri=uri, max_bytes=max_bytes)


def _article_item(item: tuple[int, str, object], *, source: str, uri: str, max_bytes: int) -> RawDocument | Refusal:
    index, json_text, value = item
    locator = f"{uri}#{index}"
    try:
        article = validate_article(value)
        return article_document(json_text, article, source=source, locator=locator, uri=uri, max_bytes=max_bytes)
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), json_text.encode("utf-8", "replace"), locator)


def file_articles(text: str, *, lines: bool, source: str, uri: str, max_bytes: int) -> Iterator[RawDocument | Refusal]:
    """Every article of a JSON or JSONL file's text; what is not a valid article is a Refusal."""
    for item in json_values(text, lines=lines):
        if isinstance(item, Refusal):
            yield Refusal(item.kind, item.message, item.original, uri + item.locator)
            continue
        yield _article_item(item, source=source, uri=uri, max_bytes=max_bytes)
