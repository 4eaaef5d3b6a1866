"""Bulk semantics on the real index service: versions, monthly partitions, refusals, trend ids.

- a replay of an older version never overwrites a newer one;
- an article whose published month changes moves to the new month's index: still exactly one copy;
- a document Elasticsearch refuses (400) goes to the DLQ with Elasticsearch's error, the rest is indexed;
- a re-emitted trend overwrites its earlier emission.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import EnrichedArticle, TrendCount
from tests.integration.harness import Kafka, Service, wait_until

pytestmark = pytest.mark.integration


def article(source: str, n: int, *, title: str, enriched_at: datetime, published_at: datetime | None = None,
            **extra: Any) -> EnrichedArticle:  # fmt: skip
    return EnrichedArticle(
        trace_id=uuid.uuid4().hex,
        article_id=f"{source}-{n}",
        doc_id=f"{source}-doc",
        source=source,
        title=title,
        body="A body about Kabul.",
        extractor="plain-text",
        parsed_at=enriched_at,
        published_at=published_at,
        language="en",
        enriched_at=enriched_at,
        **extra,
    )


def copies(es: Elasticsearch, article_id: str) -> list[dict[str, Any]]:
    """Every indexed copy of an article, over all the monthly indices."""
    es.indices.refresh(index="news-articles")
    response = es.search(index="news-articles", query={"term": {"article_id": article_id}}, size=10)
    return [{"index": hit["_index"], **hit["_source"]} for hit in response["hits"]["hits"]]


def stale_count(index: Service) -> float:
    return index.metric("newsflow_index_stale_versions_total", service="index")


def test_an_older_version_never_overwrites_a_newer_one(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    source = f"versions-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    newer = article(source, 1, title="Second, corrected version", enriched_at=now)
    older = article(source, 1, title="First version", enriched_at=now - timedelta(minutes=5))
    kafka.produce("news.enriched.v1", [newer])
    wait_until(lambda: copies(es, newer.article_id), 60, "the newer version to be indexed")
    before = stale_count(pipeline["index"])
    kafka.produce("news.enriched.v1", [older])  # a replay of what enrich emitted earlier
    wait_until(lambda: stale_count(pipeline["index"]) > before, 60, "the older version to be seen and left out")
    [kept] = copies(es, newer.article_id)
    assert kept["title"] == "Second, corrected version"


def test_an_article_that_changes_month_is_moved_not_duplicated(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    source = f"moves-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    january = article(source, 1, title="Dated January", enriched_at=now - timedelta(minutes=2),
                      published_at=datetime(2024, 1, 30, 22, tzinfo=UTC))  # fmt: skip
    kafka.produce("news.enriched.v1", [january])
    wait_until(lambda: copies(es, january.article_id), 60, "the January version")
    assert [c["index"] for c in copies(es, january.article_id)] == ["news-articles-2024.01"]

    february = article(source, 1, title="Redated February", enriched_at=now,
                       published_at=datetime(2024, 2, 1, 8, tzinfo=UTC))  # fmt: skip
    kafka.produce("news.enriched.v1", [february])
    moved = wait_until(
        lambda: [c for c in copies(es, january.article_id) if c["title"] == "Redated February"], 60, "the move"
    )
    assert [c["index"] for c in copies(es, january.article_id)] == ["news-articles-2024.02"], moved

    before = stale_count(pipeline["index"])
    kafka.produce("news.enriched.v1", [january])  # the old January version, replayed
    wait_until(lambda: stale_count(pipeline["index"]) > before, 60, "the replay to be seen and left out")
    [kept] = copies(es, january.article_id)
    assert (kept["index"], kept["title"]) == ("news-articles-2024.02", "Redated February")


def test_a_document_elasticsearch_refuses_goes_to_the_dlq_and_the_rest_is_indexed(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    source = f"refused-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    # Valid for pydantic (an int >= 0), out of range for the mapping's integer: Elasticsearch answers 400.
    poison = article(source, 0, title="Too many words", enriched_at=now, word_count=10**20)
    good = [article(source, n, title=f"Fine article {n}", enriched_at=now, word_count=120) for n in (1, 2, 3)]
    kafka.produce("news.enriched.v1", [good[0], poison, *good[1:]])

    def letter() -> dict[str, Any] | None:
        for record in kafka.read("news.enriched.v1.dlq"):
            value = record["value"]
            if isinstance(value, dict) and value.get("original_key") == poison.article_id:
                return value
        return None

    found = wait_until(letter, 60, "the refused article on news.enriched.v1.dlq")
    assert found["error_kind"] == "elasticsearch-400"
    assert found["stage"] == "index"
    assert "word_count" in found["error_message"]  # Elasticsearch's own words
    assert EnrichedArticle.model_validate_json(base64.urlsafe_b64decode(found["original"])) == poison
    wait_until(lambda: all(copies(es, a.article_id) for a in good), 60, "the rest of the batch")
    assert copies(es, poison.article_id) == []
    assert pipeline["index"].metric("newsflow_dead_letters_total", service="index", kind="elasticsearch-400") >= 1


def test_a_re_emitted_trend_overwrites_its_earlier_emission(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    kind = f"T{uuid.uuid4().hex[:8]}"
    end = datetime.now(UTC)

    def trend(count: int) -> TrendCount:
        return TrendCount(trace_id=uuid.uuid4().hex, trend_id=f"{kind}-kabul", term="Kabul", type=kind,
                          window_start=end - timedelta(hours=1), window_end=end, count=count, baseline=2.0,
                          score=count / 2.0)  # fmt: skip

    kafka.produce("news.trends.v1", [trend(3)])
    kafka.produce("news.trends.v1", [trend(8)])

    def indexed() -> list[dict[str, Any]]:
        es.indices.refresh(index="news-trends")
        hits = es.search(index="news-trends", query={"term": {"type": kind}})["hits"]["hits"]
        return [hit for hit in hits if hit["_source"]["count"] == 8]

    [hit] = wait_until(indexed, 60, "the second emission")
    assert hit["_id"] == f"{kind}-kabul"
    assert es.count(index="news-trends", query={"term": {"type": kind}})["count"] == 1
