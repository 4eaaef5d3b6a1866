"""Enrich on real protocols: clusters and trend windows survive a SIGKILL; odd input flows or is dead-lettered.

Trend windows close by article time (the watermark), and a date ahead of its arrival is clamped to it, so the
restart test dates its stories three days back: their windows are closed already by the session's other
articles and corrected as these arrive, the last count sent for each being the window's count.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from newsflow_schemas import Article, Message, encode
from tests.integration.harness import Kafka, Service, wait_until
from tests.unit.test_enrich_state import STORY, light_edit

pytestmark = pytest.mark.integration

OTHER_STORIES = [
    "Vladimir Putin returned to Magnitogorsk on Tuesday, a week after the gas explosion that destroyed a block "
    "of flats there, and met rescuers and families of the victims at the city hospital.",
    "Investigators in Magnitogorsk said on Thursday they had found no trace of explosives in the ruins and that "
    "a gas leak remained the most likely cause; the regional governor promised new homes to the families.",
]


def article(source: str, article_id: str, body: str, at: datetime, title: str = "Magnitogorsk collapse") -> Article:
    return Article(
        trace_id=f"trace-{article_id}",
        article_id=article_id,
        doc_id=f"doc-{article_id}",
        source=source,
        title=title,
        body=body,
        extractor="plain-text",
        parsed_at=at,
        published_at=at,
    )


def produce_large(kafka: Kafka, topic: str, message: Message) -> None:
    """Produce one message past the client's 1 MB request bound, gzipped as the services' producers do.

    The topics keep the broker's default max.message.bytes (1 MB): what gets through is the compressed batch.
    """

    async def produce() -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka.bootstrap, max_request_size=10 * 1024 * 1024, compression_type="gzip"
        )
        await producer.start()
        try:
            await producer.send_and_wait(topic, encode(message), key=message.key().encode())
        finally:
            await producer.stop()

    asyncio.run(produce())


def at_least(count: int, found: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
    return found if len(found) >= count else None


def enriched(kafka: Kafka, source: str) -> dict[str, dict[str, Any]]:
    """The latest enriched record of each article of ``source``."""
    records = kafka.read("news.enriched.v1")
    return {r["value"]["article_id"]: r["value"] for r in records if (r["value"] or {}).get("source") == source}


def window_counts(kafka: Kafka, term: str, start: datetime, hours: int) -> list[int]:
    """The count of each trend of ``term`` in the window, as last sent (a correction overwrites its trend_id)."""
    end = start + timedelta(hours=hours)
    latest = {
        v["trend_id"]: v["count"]
        for r in kafka.read("news.trends.v1")
        if (v := r["value"] or {}).get("term") == term
        and datetime.fromisoformat(v["window_start"]) == start
        and datetime.fromisoformat(v["window_end"]) == end
    }
    return list(latest.values())


def test_duplicates_and_windows_continue_across_a_restart(pipeline: dict[str, Service], kafka: Kafka) -> None:
    source = f"enrich-restart-{uuid.uuid4().hex[:8]}"
    # Days in the past: a date ahead of its arrival is clamped to it, and a window others' articles have
    # closed already is corrected, its count sent again (decision 010).
    earlier = datetime.now(UTC).timestamp() - 3 * 86400
    day = datetime.fromtimestamp(earlier // 86400 * 86400, UTC)
    ten = day + timedelta(hours=10)
    copies = [
        article(source, f"{source}-copy-{i}", light_edit(STORY, i), ten + timedelta(minutes=i)) for i in range(10)
    ]
    others = [
        article(source, f"{source}-other-{i}", text, ten + timedelta(minutes=20 + i))
        for i, text in enumerate(OTHER_STORIES)
    ]

    kafka.produce("news.articles.v1", [*copies[:5], others[0]])
    wait_until(lambda: at_least(6, enriched(kafka, source)), 90, "the first six articles enriched")

    pipeline["enrich"].kill()  # SIGKILL: no commit, no flush; the state must come back from the changelogs
    pipeline["enrich"].start().wait_healthy()

    kafka.produce("news.articles.v1", [*copies[5:], others[1]])
    found = wait_until(lambda: at_least(12, enriched(kafka, source)), 120, "all twelve articles enriched")
    clusters = {found[c.article_id]["cluster_id"] for c in copies}
    assert len(clusters) == 1  # one story, before and after the restart
    first = [c.article_id for c in copies if found[c.article_id]["duplicate_of"] is None]
    assert first == list(clusters)  # the first processed (partitions interleave) starts the cluster
    assert all(found[c.article_id]["duplicate_of"] in found for c in copies if c.article_id not in first)
    assert [found[o.article_id]["cluster_id"] for o in others] == [o.article_id for o in others]

    # An article a day and two hours on closes the 10:00 hour and the day: ten copies count once, plus two.
    kafka.produce("news.articles.v1", [article(source, f"{source}-clock", OTHER_STORIES[0], ten + timedelta(hours=26))])
    wait_until(lambda: window_counts(kafka, "Magnitogorsk", ten, 1) == [3], 90, "the 10:00 window's trend: 3")
    wait_until(lambda: window_counts(kafka, "Magnitogorsk", day, 24) == [3], 30, "the day's trend: 3")
    pipeline["enrich"].assert_running()


def test_odd_articles_flow_or_go_to_the_dlq_with_their_reason(pipeline: dict[str, Service], kafka: Kafka) -> None:
    source = f"enrich-odd-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    huge = article(source, f"{source}-huge", (STORY + "\n\n") * (2_000_000 // len(STORY)), now)
    swahili = article(
        source,
        f"{source}-sw",
        "Rais wa Tanzania amesema serikali itaendelea kujenga barabara mpya katika mikoa yote ya nchi mwaka huu.",
        now,
        title="Barabara mpya",
    )
    empty = article(source, f"{source}-empty", "  \n ", now)
    produce_large(kafka, "news.articles.v1", huge)
    kafka.produce("news.articles.v1", [swahili, empty])
    kafka.produce_raw("news.articles.v1", b'{"title": "no schema"}', f"{source}-poison".encode())

    found = wait_until(lambda: at_least(2, enriched(kafka, source)), 120, "two articles enriched")
    assert found[huge.article_id]["ner_truncated"] is True
    assert "Magnitogorsk" in found[huge.article_id]["locations"]
    assert found[swahili.article_id]["language"] == "sw"
    assert found[swahili.article_id]["entities"] == []

    def letters() -> dict[str, dict[str, Any]]:
        records = kafka.read("news.articles.v1.dlq")
        return {
            v["original_key"]: v
            for r in records
            if (v := r["value"] or {}).get("original_key", "").startswith(source) and v.get("stage") == "enrich"
        }

    got = wait_until(lambda: at_least(2, letters()), 60, "two dead letters")
    assert got[empty.article_id]["error_kind"] == "empty"
    assert json.loads(base64.urlsafe_b64decode(got[empty.article_id]["original"]))["body"] == "  \n "
    assert got[f"{source}-poison"]["error_kind"] == "schema"
    assert pipeline["enrich"].metric("newsflow_dead_letters_total", service="enrich", kind="empty") >= 1
    pipeline["enrich"].assert_running()
