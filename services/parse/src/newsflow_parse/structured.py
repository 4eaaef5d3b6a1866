"""Pre-structured input: a pushed JSON article (or JSON lines of them), validated and mapped onto Article fields.

Accepted fields: url, title, body, published or published_at, author or
authors, section, summary, language; others are ignored. title and body are
required; a date that does not parse makes the document invalid.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsflow_common.dlq import Rejected
from newsflow_parse.dates import parse_any

JSON_TYPES = frozenset({"application/json"})
JSON_LINES_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})


class PushedArticle(BaseModel):
    """One article as a source pushes it."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    url: str | None = None
    title: str = Field(min_length=1)
    body: str = Field(min_length=1)
    published: str | None = Field(default=None, validation_alias=AliasChoices("published_at", "published"))
    authors: list[str] = Field(default_factory=list, validation_alias=AliasChoices("authors", "author"))
    section: str | None = None
    summary: str | None = None
    language: str | None = None

    @field_validator("authors", mode="before")
    @classmethod
    def one_author_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    def published_at(self, fetched_at: datetime) -> datetime | None:
        """The article's date; raises ``Rejected("schema")`` when it is given but is not a date."""
        if not self.published:
            return None
        date = parse_any(self.published, fetched_at, self.language)
        if date is None:
            raise Rejected("schema", f"published date {self.published!r} is not a date")
        return date


def parse_pushed(body: str, media_type: str) -> list[PushedArticle]:
    """The articles of a JSON document (one object, or a list) or of JSON lines; ``Rejected("schema")`` when invalid."""
    if media_type in JSON_LINES_TYPES:
        items = [(f"line {n}", line) for n, line in enumerate(body.splitlines(), 1) if line.strip()]
    else:
        items = [("document", body)]
    articles = []
    for where, text in items:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise Rejected("schema", f"{where}: not JSON: {exc}") from exc
        for item in data if isinstance(data, list) else [data]:
            try:
                articles.append(PushedArticle.model_validate(item))
            except ValidationError as exc:
                raise Rejected("schema", f"{where}: not a valid article: {exc}") from exc
    if not articles:
        raise Rejected("empty", "the JSON document holds no article")
    return articles
