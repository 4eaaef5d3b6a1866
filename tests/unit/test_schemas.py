"""The public contract: models, topic registry, checked-in JSON Schemas and their examples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError

from newsflow_schemas import DeadLetter, RawDocument, decode, encode, header, headers, registry
from newsflow_schemas.jsonschema import DEFAULT_DIR, render

EXAMPLES = Path(DEFAULT_DIR).parent / "examples"
TOPICS = list(registry().values())


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_checked_in_json_schema_is_up_to_date(topic):
    path = DEFAULT_DIR / f"{topic.name}.json"
    assert path.exists(), f"missing {path}: run `make schemas`"
    assert path.read_text() == render(topic), f"{path} is stale: run `make schemas` and commit the result"


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_example_validates_against_json_schema_and_model(topic):
    example = json.loads((EXAMPLES / f"{topic.name}.json").read_text())
    schema = json.loads((DEFAULT_DIR / f"{topic.name}.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(example)
    message = decode(topic.model_class, json.dumps(example).encode())
    assert getattr(message, topic.key) == message.key()


def test_json_schema_rejects_what_the_model_rejects():
    schema = json.loads((DEFAULT_DIR / "news.articles.v1.json").read_text())
    example = json.loads((EXAMPLES / "news.articles.v1.json").read_text())
    del example["title"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(example, schema)
    with pytest.raises(ValidationError):
        decode(registry()["news.articles.v1"].model_class, json.dumps(example).encode())


def test_every_stream_topic_has_a_registered_dead_letter_queue():
    for topic in TOPICS:
        if topic.model != "DeadLetter":
            assert topic.dlq in registry(), f"{topic.name}: DLQ {topic.dlq} is not a registered topic"
            assert registry()[topic.dlq].model == "DeadLetter"
        assert topic.key in topic.model_class.model_fields, f"{topic.name}: key {topic.key} is not a field"


def test_dead_letter_keeps_original_bytes_exactly():
    original = bytes(range(256))
    letter = DeadLetter(
        trace_id="t",
        original=original,
        topic="news.raw.v1",
        stage="parse",
        error_kind="schema",
        error_message="bad",
        failed_at=datetime.now(UTC),
    )
    assert decode(DeadLetter, encode(letter)).original == original


def test_headers_carry_content_type_schema_trace_and_producer():
    document = RawDocument(
        trace_id="abc",
        doc_id="d",
        source="files",
        uri="file:///x.txt",
        content_type="text/plain",
        charset="utf-8",
        body="text",
        fetched_at=datetime.now(UTC),
    )
    sent = headers(document, "ingest")
    assert header(sent, "content-type") == "application/json"
    assert header(sent, "schema-name") == "RawDocument"
    assert header(sent, "schema-version") == "1"
    assert header(sent, "trace-id") == "abc"
    assert header(sent, "producer") == "ingest"


def test_naive_datetimes_are_refused():
    with pytest.raises(ValidationError):
        RawDocument(
            trace_id="t",
            doc_id="d",
            source="s",
            uri="u",
            content_type="text/plain",
            charset="utf-8",
            body="b",
            fetched_at=datetime(2024, 1, 1),
        )


# --- who writes and reads each topic -----------------------------------------------------------

STAGES_WRITE = {
    "ingest": {"news.raw.v1", "news.links.v1"},  # links: a URL pushed to its API without a body
    "parse": {"news.articles.v1", "news.links.v1"},
    "enrich": {"news.analysed.v1", "news.enriched.v1", "news.trends.v1"},  # analysed: its own state stage's input
}
STAGES_READ = {
    "parse": {"news.raw.v1"},
    "enrich": {"news.articles.v1", "news.analysed.v1"},
    "index": {"news.enriched.v1", "news.trends.v1"},
    "ingest": {"news.links.v1"},
}


def test_registry_lists_what_each_stage_writes_and_reads():
    for stage, written in STAGES_WRITE.items():
        assert {t.name for t in TOPICS if stage in t.producers and t.model != "DeadLetter"} == written, stage
    for stage, read in STAGES_READ.items():
        assert {t.name for t in TOPICS if stage in t.consumers and t.model != "DeadLetter"} == read, stage


def test_every_topic_has_a_producer_and_each_dlq_is_written_by_the_readers_of_its_topic():
    for topic in TOPICS:
        assert topic.producers, f"{topic.name}: nobody writes it"
        if topic.dlq is not None:
            readers = set(topic.consumers) - {"newsflow-dlq"}
            assert readers, f"{topic.name}: nobody reads it"
            missing = readers - set(registry()[topic.dlq].producers)
            assert not missing, f"{topic.dlq}: {sorted(missing)} read {topic.name} and send its dead letters here"
