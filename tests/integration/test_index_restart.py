"""Kill the index service mid-run and restart it: nothing lost, nothing duplicated in Elasticsearch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import EnrichedArticle, Entity
from tests.integration.harness import Kafka, Service, wait_until

pytestmark = pytest.mark.integration


def articles(source: str, first: int, count: int) -> list[EnrichedArticle]:
    now = datetime.now(UTC)
    return [
        EnrichedArticle(
            trace_id=uuid.uuid4().hex,
            article_id=f"{source}-{n:05d}",
            doc_id=f"{source}-doc",
            source=source,
            title=f"Story number {n}",
            body=f"Body of story {n} about Kabul.",
            extractor="plain-text",
            parsed_at=now,
            language="en",
            entities=[Entity(name="Kabul", type="LOC", count=1, first_offset=20)],
            locations=["Kabul"],
            enriched_at=now,
        )
        for n in range(first, first + count)
    ]


def count(es: Elasticsearch, source: str) -> int:
    es.indices.refresh(index="news-articles")
    return int(es.count(index="news-articles", query={"term": {"source": source}})["count"])


def test_killed_index_service_resumes_without_loss_or_duplicates(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch
) -> None:
    index = pipeline["index"]
    source = f"restart-{uuid.uuid4().hex[:8]}"
    kafka.produce("news.enriched.v1", articles(source, 0, 1500))
    wait_until(lambda: count(es, source) > 0, 60, "indexing to start")
    index.kill()  # mid-run: no chance to finish the batch or commit
    kafka.produce("news.enriched.v1", articles(source, 1500, 500))  # arrives while it is down
    index.start().wait_healthy()

    wait_until(lambda: count(es, source) >= 2000, 180, "all 2000 articles after the restart")
    ids = {f"{source}-{n:05d}" for n in range(2000)}
    # A search, not mget: the alias spans monthly indices, and mget needs a single index.
    found = es.search(index="news-articles", query={"ids": {"values": sorted(ids)}}, source=False, size=len(ids) + 10)
    assert {hit["_id"] for hit in found["hits"]["hits"]} == ids, "an article was lost"
    assert count(es, source) == 2000, "an article was indexed twice"
    unique = es.search(
        index="news-articles",
        query={"term": {"source": source}},
        aggs={"ids": {"cardinality": {"field": "article_id"}}},
        size=0,
    )
    assert unique["aggregations"]["ids"]["value"] == 2000
