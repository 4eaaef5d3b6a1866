"""The standing poison suite: for every topic a service reads, records that are not JSON, of the wrong schema,
schema-valid with extreme values, null, keyless, with headers that are not UTF-8 — each ends in the topic's DLQ
with a reason, the service keeps running, and the next good record reaches Elasticsearch.

The same policies are exercised with generated records in tests/unit/test_runtime.py (hypothesis); here the
records cross the real wire to the real services.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaError
from elasticsearch import Elasticsearch

from newsflow_schemas import (
    ANALYSED,
    ARTICLES,
    ENRICHED,
    LINKS,
    RAW,
    TRENDS,
    AnalysedArticle,
    Article,
    EnrichedArticle,
    LinkToFetch,
    Message,
    RawDocument,
    TrendCount,
    dlq_of,
    registry,
)
from tests.integration.harness import Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
HUGE = "x" * (4 * 1024 * 1024)
EXTREME_DATES = ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"]


def common(model: type[Message]) -> dict[str, Any]:
    """A valid message's fields for ``model``, as JSON-ready values."""
    base: dict[str, Any] = {"trace_id": "t", "source": "poison"}
    if issubclass(model, RawDocument):
        return {**base, "doc_id": "d", "uri": "u", "content_type": "text/plain", "charset": "utf-8",
                "body": "Body text.", "fetched_at": NOW.isoformat()}  # fmt: skip
    if issubclass(model, LinkToFetch):
        return {**base, "url": "https://example.com/a", "found_at": NOW.isoformat()}
    if issubclass(model, TrendCount):
        return {"trace_id": "t", "trend_id": "tr", "term": "x", "type": "PERSON", "window_start": NOW.isoformat(),
                "window_end": NOW.isoformat(), "count": 1, "baseline": 0.0, "score": 0.0}  # fmt: skip
    fields = {**base, "article_id": "a", "doc_id": "d", "title": "T", "body": "Some body text here.",
              "extractor": "plain-text", "parsed_at": NOW.isoformat()}  # fmt: skip
    if issubclass(model, EnrichedArticle):
        fields.update(language="en", enriched_at=NOW.isoformat())
    if issubclass(model, AnalysedArticle):
        fields.update(language="en", analysed_at=NOW.isoformat())
    return fields


def extremes(model: type[Message]) -> list[bytes]:
    """Schema-valid or nearly: extreme dates, huge and odd strings, NUL, surrogates, numbers out of range."""
    date_field = {RawDocument: "fetched_at", LinkToFetch: "found_at", TrendCount: "window_start"}.get(
        model, "published_at"
    )
    fields = common(model)
    variants: list[dict[str, Any]] = [{**fields, date_field: date} for date in EXTREME_DATES]
    text_field = {LinkToFetch: "url", TrendCount: "term"}.get(model, "body" if "body" in fields else "term")
    variants += [
        {**fields, text_field: HUGE},
        {**fields, text_field: "nul \x00 inside"},
        {**fields, "trace_id": "i" * 600},
    ]
    if model is TrendCount:
        variants += [{**fields, "count": -1}, {**fields, "count": 10**30}, {**fields, "baseline": 1e308 * 10}]
    if model is LinkToFetch:
        variants += [{**fields, "url": "http://[::1/x"}, {**fields, "url": "http://１２７.０.０.１:1/"}]
    return [json.dumps(v).encode("utf-8", "surrogatepass") for v in variants]


def invalid(model: type[Message]) -> list[bytes]:
    """Records no stage can take: each must end in the DLQ."""
    return [
        b"not json at all",
        b"\xff\xfe\x00garbage",
        b"null",
        b"[]",
        b'{"title": "the wrong schema"}',
        json.dumps({k: None for k in common(model)}).encode(),
        json.dumps({**common(model), "trace_id": "lone \ud800 surrogate"}).encode("utf-8", "surrogatepass"),
    ]


UNREADABLE_HEADER = """
import asyncio, sys
from aiokafka import AIOKafkaProducer

class NotUtf8(str):
    def encode(self, *args, **kwargs):  # the pure-Python record builder asks the key for its bytes
        return b"\\xff\\xfekey"

async def main():
    producer = AIOKafkaProducer(bootstrap_servers=sys.argv[1])
    await producer.start()
    await producer.send_and_wait(sys.argv[2], b"{}", key=sys.argv[3].encode(), headers=[(NotUtf8("k"), b"v")])
    await producer.stop()

asyncio.run(main())
"""


def produce_unreadable(kafka: Kafka, topic: str, key: str) -> None:
    """A record whose header key is not UTF-8: aiokafka's consumer cannot parse it (nor its producer batch)."""
    env = {**os.environ, "AIOKAFKA_NO_EXTENSIONS": "1"}
    command = [sys.executable, "-c", UNREADABLE_HEADER, kafka.bootstrap, topic, key]
    subprocess.run(command, env=env, check=True, timeout=60)


GOOD_BODY = "\n\n".join(
    [
        "Reuters reported from Paris on Monday that the talks between the ministers went well, and that both "
        "sides agreed to meet again in Brussels before the end of the month to settle the remaining questions.",
        "The French foreign minister said the two governments had narrowed their differences on trade and energy, "
        "while officials in Berlin cautioned that several technical points were still open.",
        "Analysts said the meeting was the most constructive in a year, after months of disputes over subsidies "
        "and the pace of the energy transition in both countries.",
    ]
)


def good(model: type[Message], source: str) -> Message | None:
    """A valid record of ``model`` from ``source`` that must reach Elasticsearch (None: it would fetch a URL)."""
    if model is LinkToFetch:
        return None
    fields = {**common(model), "source": source, "trace_id": f"good-{source}", "doc_id": f"{source}-doc"}
    fields.update(article_id=f"{source}-article", title=f"Good article from {source}")
    fields["body"] = GOOD_BODY
    if model is TrendCount:
        return TrendCount.model_validate({**common(model), "trend_id": f"{source}-trend", "term": source})
    return model.model_validate({k: v for k, v in fields.items() if k in model.model_fields})


def reached_elasticsearch(es: Elasticsearch, model: type[Message], source: str) -> bool:
    if model is TrendCount:
        es.indices.refresh(index="news-trends")
        return bool(es.count(index="news-trends", query={"term": {"term": source}})["count"])
    return bool(indexed(es, source))


@pytest.fixture(scope="module")
def links_consumer(service_env: dict[str, str], logs: Path) -> Iterator[Service]:
    service = Service("ingest-links", ["newsflow-ingest", "--links"], service_env, logs).start()
    service.wait_healthy()
    yield service
    service.stop()


CASES = {
    RAW: (RawDocument, "parse"),
    ARTICLES: (Article, "enrich"),
    ANALYSED: (AnalysedArticle, "enrich"),
    ENRICHED: (EnrichedArticle, "index"),
    TRENDS: (TrendCount, "index"),
    LINKS: (LinkToFetch, "ingest-links"),
}


STAGE_OF = {RAW: "parse", ARTICLES: "enrich", ANALYSED: "enrich-state", ENRICHED: "index", TRENDS: "index",
            LINKS: "ingest"}  # fmt: skip


@pytest.mark.parametrize("topic", list(CASES))
def test_poison_on_every_input_ends_in_its_dlq_and_the_next_good_record_gets_through(
    topic: str,
    pipeline: dict[str, Service],
    links_consumer: Service,
    kafka: Kafka,
    es: Elasticsearch,
) -> None:
    model, reader = CASES[topic]
    service = links_consumer if reader == "ingest-links" else pipeline[reader]
    run = uuid.uuid4().hex[:8]
    bad, odd = invalid(model), extremes(model)
    keys = [f"poison-{run}-{i}" for i in range(len(bad) + len(odd))]
    odd_headers = [("trace-id", b"\xff\xfe not utf-8 value"), ("content-type", b"\x00")]
    before = service.metric("newsflow_messages_in_total", service=STAGE_OF[topic], topic=topic)
    kafka.produce_records(
        topic, [(value, key.encode(), odd_headers) for value, key in zip(bad + odd, keys, strict=True)]
    )
    keyless = [(b"{}", None, [])]
    if registry()[topic].cleanup_policy == "compact":  # the broker itself refuses a record with no key there
        with pytest.raises(KafkaError):
            kafka.produce_records(topic, keyless)
    else:
        kafka.produce_records(topic, keyless)
    produce_unreadable(kafka, topic, f"unreadable-{run}")
    source = f"poison-{run}"
    message = good(model, source)
    if message is not None:
        kafka.produce(topic, [message])

    def letters() -> dict[str, dict[str, Any]]:
        found = {}
        for record in kafka.read(dlq_of(topic)):
            letter = record["value"]
            if isinstance(letter, dict) and letter.get("original_key") in keys:
                found[letter["original_key"]] = letter
        return found

    invalid_keys = set(keys[: len(bad)])
    dead = wait_until(lambda: invalid_keys <= set(letters()) and letters(), 180, f"dead letters on {topic}")
    assert all(letter["error_kind"] and letter["error_message"] for letter in dead.values())
    consumed = len(keys) + 1 + (registry()[topic].cleanup_policy != "compact") + (message is not None)
    wait_until(
        lambda: service.metric("newsflow_messages_in_total", service=STAGE_OF[topic], topic=topic) >= before + consumed,
        180,
        f"{consumed} records taken from {topic} (the extreme ones end as outputs or dead letters, none is stuck)",
    )

    def unreadable() -> list[dict[str, Any]]:
        return [
            r["value"]
            for r in kafka.read(dlq_of(topic))
            if isinstance(r["value"], dict) and r["value"].get("error_kind") == "unreadable"
        ]

    wait_until(unreadable, 180, f"the record with a non-UTF-8 header key on {topic} dead-lettered as unreadable")
    if message is not None:
        wait_until(lambda: reached_elasticsearch(es, model, source), 180, "the good record, in Elasticsearch")
    for process in (*pipeline.values(), links_consumer):
        process.assert_running()
