"""Parse on real protocols: a listing page's links go to news.links.v1, a pushed JSON article is indexed."""

from __future__ import annotations

import html
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import RawDocument
from tests.integration.harness import Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration

HEADLINES = [
    "Harbour bridge reopens after two years of repairs",
    "Heavy rain floods river valley as thousands leave their homes",
    "Local orchestra wins national prize for its youth programme",
    "Airport to reopen its second runway after summer works",
    "City council approves new cycle lanes after long debate",
    "Museum returns ancient bronze statues to their home country",
]


def raw(source: str, body: str, content_type: str, url: str | None) -> RawDocument:
    doc_id = f"{source}-doc"
    return RawDocument(
        trace_id=uuid.uuid4().hex,
        doc_id=doc_id,
        source=source,
        uri=url or doc_id,
        url=url,
        content_type=content_type,
        charset="utf-8",
        body=body,
        fetched_at=datetime.now(UTC),
    )


def listing_page(run: str) -> str:
    teasers = "".join(
        f'<article><h2><a href="/2025/01/0{k + 1}/story-{run}-{k}">{html.escape(title)}</a></h2>'
        f"<p>{html.escape(title)}: what we know so far, and what happens next.</p></article>"
        for k, title in enumerate(HEADLINES)
    )
    return f"<html><head><title>Latest news</title></head><body><nav><a href='/'>Home</a></nav>{teasers}</body></html>"


def records_of(kafka: Kafka, topic: str, trace_id: str) -> list[dict[str, Any]]:
    return [
        r["value"] for r in kafka.read(topic) if isinstance(r["value"], dict) and r["value"].get("trace_id") == trace_id
    ]


def test_a_listing_page_sends_its_links_to_ingest_and_makes_no_article(
    pipeline: dict[str, Service], kafka: Kafka
) -> None:
    run = uuid.uuid4().hex[:8]
    page_url = f"https://news.example.com/latest-{run}/"
    document = raw(f"listing-{run}", listing_page(run), "text/html; charset=utf-8", page_url)
    kafka.produce("news.raw.v1", [document])

    def all_links() -> list[dict[str, Any]] | None:
        found = records_of(kafka, "news.links.v1", document.trace_id)
        return found if len(found) == len(HEADLINES) else None

    links = wait_until(all_links, 90, "the listing's links on news.links.v1")
    by_url = {link["url"]: link for link in links}
    assert set(by_url) == {f"https://news.example.com/2025/01/0{k + 1}/story-{run}-{k}" for k in range(6)}
    assert {link["found_on"] for link in links} == {page_url}
    assert {link["source"] for link in links} == {document.source}
    assert sorted(link["hints"]["title"] for link in links) == sorted(HEADLINES)
    # The links are acknowledged together with the input's offset: no article can come later for this page.
    assert records_of(kafka, "news.articles.v1", document.trace_id) == []
    assert pipeline["parse"].metric("newsflow_messages_out_total", service="parse", topic="news.links.v1") >= 6


def test_a_pushed_json_article_is_indexed_with_its_fields(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    source = f"push-{uuid.uuid4().hex[:8]}"
    pushed = {
        "url": f"https://News.example.com/2025/01/03/{source}?utm_source=app",
        "title": "Reuters reports a record bond sale in Beijing",
        "body": "China approved a record bond sale on Tuesday, Reuters reported from Beijing.\n\n"
        "The Ministry of Finance said the proceeds would fund railways and ports.",
        "published": "2025-01-03T08:15:00Z",
        "authors": ["Maria Silva", "Li Wei"],
        "section": "Business",
        "summary": "A record bond sale.",
        "language": "en",
    }
    kafka.produce("news.raw.v1", [raw(source, json.dumps(pushed), "application/json", None)])
    [article] = wait_until(lambda: indexed(es, source), 120, "the pushed article to be indexed")
    assert (article["title"], article["body"]) == (pushed["title"], pushed["body"])
    assert article["authors"] == pushed["authors"]
    assert (article["section"], article["summary"], article["language_hint"]) == (
        "Business",
        "A record bond sale.",
        "en",
    )
    assert datetime.fromisoformat(article["published_at"]) == datetime(2025, 1, 3, 8, 15, tzinfo=UTC)
    assert article["published_at_source"] == "feed"
    assert article["canonical_url"] == f"https://news.example.com/2025/01/03/{source}"
    assert article["extractor"] == "json"
    assert "Beijing" in article["locations"]
