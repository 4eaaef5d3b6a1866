"""Bad input gets a clear error and loses nothing: every stage dead-letters it, counts it, keeps going."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import Article
from newsflow_schemas.jsonschema import DEFAULT_DIR as SCHEMA_DIR
from tests.integration.harness import Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def dead_letters(kafka: Kafka, topic: str, **fields: Any) -> list[dict[str, Any]]:
    return [
        record["value"]
        for record in kafka.read(topic)
        if isinstance(record["value"], dict) and all(record["value"].get(k) == v for k, v in fields.items())
    ]


def original(letter: dict[str, Any]) -> bytes:
    return base64.urlsafe_b64decode(letter["original"])


@pytest.fixture
def ingest_watch(service_env: dict[str, str], logs: Path, tmp_path: Path) -> Any:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    service = Service("ingest", ["newsflow-ingest", "--watch", str(inbox)], service_env, logs).start()
    service.wait_healthy()
    yield service, inbox
    service.stop()


def test_empty_and_binary_files_are_dead_lettered_by_ingest_which_keeps_running(
    pipeline: dict[str, Service], ingest_watch: Any, kafka: Kafka, es: Elasticsearch
) -> None:
    ingest, inbox = ingest_watch
    source = "files"
    run = uuid.uuid4().hex[:8]
    files = {f"empty-{run}.html": b"", f"photo-{run}.html": PNG, f"report-{run}.html": PDF}
    for name, data in files.items():
        (inbox / name).write_bytes(data)

    def letters() -> dict[str, dict[str, Any]]:
        found = dead_letters(kafka, "news.raw.v1.dlq", stage="ingest")
        return {name: d for d in found for name in files if (d.get("source") or "").endswith("/" + name)}

    def all_three() -> dict[str, dict[str, Any]] | None:
        found = letters()
        return found if len(found) == len(files) else None

    got = wait_until(all_three, 60, "three dead letters")
    assert got[f"empty-{run}.html"]["error_kind"] == "empty"
    assert got[f"photo-{run}.html"]["error_kind"] == "binary"
    assert "PNG" in got[f"photo-{run}.html"]["error_message"]
    assert got[f"report-{run}.html"]["error_kind"] == "binary"
    for name, data in files.items():
        assert original(got[name]) == data, f"{name}: the DLQ must keep the original bytes"
    assert ingest.metric("newsflow_dead_letters_total", service="ingest", kind="binary") >= 2
    assert ingest.metric("newsflow_dead_letters_total", service="ingest", kind="empty") >= 1

    # Still running: a good file dropped afterwards goes all the way to the index.
    title = f"Floods close the river port of Passau {run}"
    body = "Heavy rain closed the river port of Passau on Monday, officials in Bavaria said. " * 4
    (inbox / f"good-{run}.txt").write_text(f"{title}\n\n{body}")
    wait_until(lambda: any(a["title"] == title for a in indexed(es, source)), 120, "the good file to be indexed")
    ingest.assert_running()


@pytest.mark.parametrize(
    ("topic", "stage", "service"),
    [
        ("news.raw.v1", "parse", "parse"),
        ("news.articles.v1", "enrich", "enrich"),
        ("news.enriched.v1", "index", "index"),
    ],
)
@pytest.mark.parametrize("poison", [b"not json at all", b'{"title": "valid JSON, wrong schema"}'])
def test_schema_invalid_message_is_dead_lettered_by_the_stage_that_reads_it(
    pipeline: dict[str, Service], kafka: Kafka, topic: str, stage: str, service: str, poison: bytes
) -> None:
    key = f"poison-{uuid.uuid4().hex[:8]}"
    before = pipeline[service].metric("newsflow_dead_letters_total", service=service, kind="schema")
    kafka.produce_raw(topic, poison, key.encode())
    dlq = f"{topic}.dlq"
    letter = wait_until(lambda: dead_letters(kafka, dlq, original_key=key), 60, f"{key} on {dlq}")[0]
    schema = json.loads((SCHEMA_DIR / f"{dlq}.json").read_text())
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(letter)
    assert letter["stage"] == stage
    assert letter["error_kind"] == "schema"
    assert letter["topic"] == topic
    assert letter["trace_id"] == key  # carried over from the poison's trace-id header
    assert original(letter) == poison
    wait_until(
        lambda: pipeline[service].metric("newsflow_dead_letters_total", service=service, kind="schema") > before,
        10,
        f"{service}'s dead-letter counter to move",
    )
    pipeline[service].assert_running()


def test_stream_flows_on_after_poison(pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch) -> None:
    source = f"after-poison-{uuid.uuid4().hex[:8]}"
    kafka.produce_raw("news.articles.v1", b"\xff\xfe garbage", b"garbage")
    article = Article(
        trace_id=uuid.uuid4().hex,
        article_id=f"a-{source}",
        doc_id="d",
        source=source,
        title="Reuters reports a record bond sale in Beijing",
        body="China approved a record bond sale, Reuters reported from Beijing on Tuesday.",
        extractor="plain-text",
        parsed_at=datetime.now(UTC),
    )
    kafka.produce("news.articles.v1", [article])
    found = wait_until(lambda: indexed(es, source), 90, "the article after the poison to be indexed")
    assert found[0]["language"] == "en"
    assert "Beijing" in found[0]["locations"]
