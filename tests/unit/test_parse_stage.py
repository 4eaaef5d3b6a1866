"""ParseStage: articles to news.articles.v1, a listing's links to news.links.v1, counted by extractor."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import REGISTRY

from newsflow_parse.service import ParseStage
from newsflow_parse.settings import ParseSettings
from newsflow_schemas import ARTICLES, LINKS, RawDocument

TEXT = "Bridge reopens after repairs\n\n" + "The harbour bridge reopened to traffic on Friday morning. " * 5
TEASERS = "".join(f'<h2><a href="/news/story-{k}">Story number {k} of the day here</a></h2>' for k in range(6))


def raw(body: str, content_type: str) -> RawDocument:
    return RawDocument(
        trace_id="t",
        doc_id="d",
        source="stage",
        uri="u",
        url="https://example.com/news/",
        content_type=content_type,
        charset="utf-8",
        body=body,
        fetched_at=datetime(2024, 12, 30, tzinfo=UTC),
    )


def count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_outputs_go_to_their_topics_and_are_counted() -> None:
    stage = ParseStage(ParseSettings(parse_workers=1))
    await stage.start()
    try:
        plain_before = count("newsflow_parse_articles_total", extractor="plain-text")
        listings_before = count("newsflow_parse_listing_pages_total")
        [(topic, _)] = await stage.transform_one(raw(TEXT, "text/plain"))
        assert topic == ARTICLES
        links = await stage.transform_one(raw(f"<html><body>{TEASERS}</body></html>", "text/html"))
        assert [topic for topic, _ in links] == [LINKS] * 6
        assert count("newsflow_parse_articles_total", extractor="plain-text") == plain_before + 1
        assert count("newsflow_parse_listing_pages_total") == listings_before + 1
    finally:
        await stage.close()
