"""Pre-structured input (pushed JSON, JSON lines) and pages the source could not fetch (feed hints)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_schemas import Article, RawDocument, SourceHints

FETCHED = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
PUSHED = {
    "url": "https://News.example.com/2024/12/27/bridge?utm_medium=push#top",
    "title": "Harbour bridge reopens after two years of repairs",
    "body": "The harbour bridge reopened to traffic on Friday morning.\n\nCyclists will wait until March.",
    "published": "2024-12-27T08:15:00+01:00",
    "author": "Maria Silva",
    "section": "City",
    "summary": "The bridge is open again.",
    "language": "en",
    "likes": 12,
}


def raw(body: str, content_type: str = "application/json", **fields: object) -> RawDocument:
    values: dict[str, object] = {
        "trace_id": "t",
        "doc_id": "d",
        "source": "push",
        "uri": "api",
        "content_type": content_type,
        "charset": "utf-8",
        "body": body,
        "fetched_at": FETCHED,
        **fields,
    }
    return RawDocument.model_validate(values)


def articles(document: RawDocument) -> list[Article]:
    outputs = extract(document, FETCHED)
    assert all(isinstance(out, Article) for out in outputs)
    return [out for out in outputs if isinstance(out, Article)]


def test_a_pushed_json_article_maps_onto_article_fields() -> None:
    [article] = articles(raw(json.dumps(PUSHED)))
    assert (article.title, article.body) == (PUSHED["title"], PUSHED["body"])
    assert article.published_at == datetime(2024, 12, 27, 7, 15, tzinfo=UTC)
    assert article.published_at_source == "feed"
    assert (article.authors, article.section, article.summary, article.language_hint) == (
        ["Maria Silva"],
        "City",
        "The bridge is open again.",
        "en",
    )
    assert article.canonical_url == "https://news.example.com/2024/12/27/bridge"
    assert article.extractor == "json"
    assert article.extraction_confidence == 1.0


def test_published_at_and_authors_spellings_are_accepted() -> None:
    item = {k: v for k, v in PUSHED.items() if k not in ("published", "author")}
    item |= {"published_at": "2024-12-27", "authors": ["Maria Silva", "John Roe"]}
    [article] = articles(raw(json.dumps(item)))
    assert article.published_at == datetime(2024, 12, 27, tzinfo=UTC)
    assert article.authors == ["Maria Silva", "John Roe"]


def test_json_lines_give_one_article_per_line() -> None:
    lines = [json.dumps(PUSHED | {"title": f"Story {k}", "url": f"https://example.com/{k}"}) for k in range(3)]
    found = articles(raw("\n".join(lines) + "\n", "application/x-ndjson"))
    assert [a.title for a in found] == ["Story 0", "Story 1", "Story 2"]
    assert len({a.article_id for a in found}) == 3


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"title": "No body"}),
        json.dumps(PUSHED | {"title": ""}),
        json.dumps(PUSHED | {"published": "the day after tomorrow-ish"}),
        json.dumps(["not an object"]),
    ],
    ids=["not-json", "no-body", "blank-title", "bad-date", "not-an-object"],
)
def test_invalid_json_is_rejected_as_schema(body: str) -> None:
    with pytest.raises(Rejected) as caught:
        extract(raw(body), FETCHED)
    assert caught.value.kind == "schema"


def test_a_future_pushed_date_drops_to_the_fetch_time() -> None:
    [article] = articles(raw(json.dumps(PUSHED | {"published": "2031-01-01T00:00:00Z"})))
    assert (article.published_at, article.published_at_source) == (FETCHED, "fetch-time")


HINTS = SourceHints(
    title="Harbour bridge reopens",
    published_at=datetime(2024, 12, 27, 8, 0, tzinfo=UTC),
    authors=["Maria Silva"],
    section="City",
    site_name="Example News",
    language="en",
)


def test_a_page_not_fetched_becomes_a_low_confidence_article_from_the_feed() -> None:
    document = raw(
        "<p>The bridge <b>reopened</b> on Friday.</p>",
        "text/html",
        url="https://example.com/bridge",
        hints=HINTS,
        fetch_error="HTTP 403",
    )
    [article] = articles(document)
    assert (article.title, article.body) == ("Harbour bridge reopens", "The bridge reopened on Friday.")
    assert (article.published_at, article.published_at_source) == (HINTS.published_at, "feed")
    assert (article.authors, article.section, article.site_name) == (["Maria Silva"], "City", "Example News")
    assert article.extractor == "feed"
    assert article.extraction_confidence is not None
    assert article.extraction_confidence <= 0.3


def test_a_page_not_fetched_with_nothing_to_go_on_is_rejected() -> None:
    with pytest.raises(Rejected) as caught:
        extract(raw("", "text/html", fetch_error="timeout"), FETCHED)
    assert caught.value.kind == "empty"


@pytest.mark.parametrize(
    ("published", "language"),
    [("mer, 16 nov 2022", "it"), ("16 ноября 2022", "ru"), ("2022年11月16日", "ja"), ("mer, 16 nov 2022", None)],
)
def test_a_pushed_date_in_the_article_language_is_read(published: str, language: str | None) -> None:
    """An Italian feed date was not parsed; with or without the article's language, it is a date."""
    article = {**PUSHED, "published": published, "language": language}
    [found] = extract(raw(json.dumps(article)), FETCHED)
    assert isinstance(found, Article)
    assert (found.published_at, found.published_at_source) == (datetime(2022, 11, 16, tzinfo=UTC), "feed")
