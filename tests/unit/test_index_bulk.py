"""Index bulk semantics as pure logic: monthly routing, external versions, one version per batch, item outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from newsflow_common.runtime import is_surroundings_failure
from newsflow_common.stage import Record
from newsflow_index.bulk import Action, RetryItems, _operations, bulk_once, latest_versions, plan_moves
from newsflow_index.routing import article_index, article_version, month_index
from newsflow_index.service import INDEXED_BODY_CHARS, source
from newsflow_schemas import ENRICHED, EnrichedArticle

RECORD = Record(topic=ENRICHED, partition=0, offset=0, key=b"a", value=b"{}")
NOW = datetime(2024, 5, 7, 12, tzinfo=UTC)


def article(published_at: datetime | None, parsed_at: datetime = NOW) -> EnrichedArticle:
    return EnrichedArticle(
        trace_id="t", article_id="a-1", doc_id="d", source="s", title="T", body="B", extractor="plain-text",
        parsed_at=parsed_at, published_at=published_at, language="en", enriched_at=parsed_at,
    )  # fmt: skip


def versioned(doc_id: str, version: int, index: str = "news-articles-2024.05") -> Action:
    return Action(index, doc_id, {"v": version}, RECORD, version)


# routing


def test_month_index_is_the_utc_month():
    assert month_index("news-articles", datetime(2024, 5, 31, 23, 30, tzinfo=UTC)) == "news-articles-2024.05"
    # 1 June 01:30 in Berlin (UTC+2) is still May in UTC: the same instant always maps to the same index.
    berlin = timezone(timedelta(hours=2))
    assert month_index("news-articles", datetime(2024, 6, 1, 1, 30, tzinfo=berlin)) == "news-articles-2024.05"


def test_article_index_uses_published_time_else_parse_time():
    assert article_index("news-articles", article(datetime(2023, 12, 24, tzinfo=UTC))) == "news-articles-2023.12"
    assert article_index("news-articles", article(None, parsed_at=NOW)) == "news-articles-2024.05"


def test_version_is_the_enrich_time_in_milliseconds_and_grows_with_it():
    early, late = article(None, NOW), article(None, NOW + timedelta(milliseconds=1))
    assert article_version(early) == int(NOW.timestamp() * 1000)
    assert article_version(late) == article_version(early) + 1


# bulk lines


def test_operations_carry_the_external_version_and_deletes_have_no_source():
    operations = _operations([versioned("a", 7), Action("news-articles-2024.04", "a", None, RECORD, 7)])
    assert operations == [
        {"index": {"_index": "news-articles-2024.05", "_id": "a", "version": 7, "version_type": "external_gte"}},
        {"v": 7},
        {"delete": {"_index": "news-articles-2024.04", "_id": "a", "version": 7, "version_type": "external_gte"}},
    ]


def test_latest_versions_keep_the_newest_of_each_article_in_a_batch():
    actions = [versioned("a", 5), versioned("b", 1), versioned("a", 9, "news-articles-2024.06"), versioned("a", 3)]
    kept, dropped = latest_versions(actions)
    assert [(a.doc_id, a.version, a.index) for a in kept] == [
        ("a", 9, "news-articles-2024.06"),
        ("b", 1, "news-articles-2024.05"),
    ]
    assert dropped == 2


def test_latest_versions_keep_the_later_record_of_an_unversioned_document():
    first = Action("news-trends", "t-1", {"count": 3}, RECORD)
    second = Action("news-trends", "t-1", {"count": 8}, RECORD)
    assert latest_versions([first, second]) == ([second], 1)


# against canned Elasticsearch answers (what a real cluster returned in the probes of decision 004)


class Answers:
    """Canned answers to search and bulk, and the requests received."""

    def __init__(self, hits: list[dict[str, Any]] | None = None, items: list[list[dict[str, Any]]] | None = None):
        self.hits = hits or []
        self.items = items or []
        self.bulks: list[list[dict[str, Any]]] = []
        self.indices = self
        self.body: dict[str, Any] = {"hits": {"hits": self.hits}}
        self.meta = type("Meta", (), {"status": 200})()

    def options(self, **_: Any) -> Answers:
        return self

    async def refresh(self, index: str) -> None:
        return None

    async def search(self, **_: Any) -> Answers:
        return self

    async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        self.bulks.append(operations)
        return {"items": self.items.pop(0)}


def test_plan_moves_deletes_an_older_copy_in_another_month_and_drops_a_stale_version():
    moved, stale, staying = versioned("moved", 10), versioned("stale", 10), versioned("same", 10)
    hits = [
        {"_id": "moved", "_index": "news-articles-2024.04", "_version": 8},
        {"_id": "stale", "_index": "news-articles-2024.04", "_version": 12},
        {"_id": "same", "_index": "news-articles-2024.05", "_version": 4},
    ]
    planned, dropped = asyncio.run(plan_moves(Answers(hits), "news-articles", [moved, stale, staying]))  # type: ignore[arg-type]
    assert dropped == 1
    assert [(a.index, a.doc_id, a.source is None) for a in planned] == [
        ("news-articles-2024.05", "moved", False),
        ("news-articles-2024.05", "same", False),
        ("news-articles-2024.04", "moved", True),
    ]


def item(status: int, error: str | None = None, kind: str = "index") -> dict[str, Any]:
    return {kind: {"status": status, **({"error": {"type": error}} if error else {})}}


def test_bulk_outcome_stale_refused_and_missing_deletes():
    actions = [versioned("ok", 1), versioned("old", 1), versioned("bad", 1),
               Action("news-articles-2024.04", "gone", None, RECORD, 1)]  # fmt: skip
    answers = Answers(
        items=[[item(201), item(409, "version_conflict_engine_exception"), item(400, "document_parsing_exception"),
                item(404, kind="delete")]]
    )  # fmt: skip
    outcome = asyncio.run(bulk_once(answers, actions))  # type: ignore[arg-type]
    assert outcome.stale == 1
    assert [(r.action.doc_id, r.status) for r in outcome.refused] == [("bad", 400)]
    assert "document_parsing_exception" in outcome.refused[0].error


def test_a_busy_item_makes_the_bulk_a_transient_failure_for_the_runtime_to_retry():
    answers = Answers(items=[[item(201), item(429, "es_rejected_execution_exception")]])
    with pytest.raises(RetryItems) as info:
        asyncio.run(bulk_once(answers, [versioned("ok", 1), versioned("busy", 1)]))  # type: ignore[arg-type]
    assert is_surroundings_failure(info.value)


# the indexed document


def test_the_index_holds_a_bodys_first_characters_fewer_than_the_highlighter_reads():
    """Elasticsearch refuses to highlight a field longer than a million UTF-16 units and fails the whole search
    with it: a longer body (bodies up to 2 MB are accepted) would break every search that matched it."""
    emoji_body = "🦓" * 600_000  # two UTF-16 units each
    document = source(article(NOW).model_copy(update={"body": emoji_body}))
    assert document["body"] == emoji_body[:INDEXED_BODY_CHARS]
    assert len(document["body"].encode("utf-16-le")) // 2 < 1_000_000
    assert source(article(NOW))["body"] == "B"
