"""newsflow-dlq: list what the stages dead-lettered, show it, and replay it after a fix."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime

import pytest
from elasticsearch import Elasticsearch

from newsflow_common.dlq import dead_letter
from newsflow_schemas import Article, encode
from tests.integration.harness import BIN, Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration


def dlq(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "newsflow-dlq"), *args],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=60,
    )
    return result.stdout.decode("utf-8", "replace")


def listed(env: dict[str, str], key: str) -> list[dict[str, object]]:
    rows = [json.loads(line) for line in dlq(env, "list", "--topic", "news.articles.v1.dlq", "--json").splitlines()]
    return [row for row in rows if row["key"] == key]


def test_list_and_show_a_poison_message(
    pipeline: dict[str, Service], kafka: Kafka, service_env: dict[str, str]
) -> None:
    key = f"poison-{uuid.uuid4().hex[:8]}"
    kafka.produce_raw("news.articles.v1", b"<html>not an article message</html>", key.encode())
    row = wait_until(lambda: listed(service_env, key), 60, "the poison to be listed")[0]
    assert row["stage"] == "enrich"
    assert row["kind"] == "schema"
    shown = dlq(service_env, "show", str(row["id"]))
    assert "not a valid Article" in shown
    assert "<html>not an article message</html>" in shown  # the original bytes, as they were


def test_replay_sends_the_original_back_to_its_topic(
    pipeline: dict[str, Service], kafka: Kafka, service_env: dict[str, str], es: Elasticsearch
) -> None:
    source = f"replay-{uuid.uuid4().hex[:8]}"
    article = Article(
        trace_id=uuid.uuid4().hex,
        article_id=f"a-{source}",
        doc_id="d",
        source=source,
        title="Talks in Kabul resume",
        body="Delegations met in Kabul on Monday to resume talks, officials said.",
        extractor="plain-text",
        parsed_at=datetime.now(UTC),
    )
    # As if enrich had failed on it earlier for a reason since fixed: a dead letter holding a valid message.
    letter = dead_letter(
        original=encode(article),
        stage="enrich",
        kind="unexpected",
        error="RuntimeError: model not loaded",
        trace_id=article.trace_id,
        key=article.article_id.encode(),
        topic="news.articles.v1",
        partition=0,
        offset=0,
    )
    kafka.produce("news.articles.v1.dlq", [letter])
    row = wait_until(lambda: listed(service_env, article.article_id), 30, "the letter to be listed")[0]
    assert indexed(es, source) == []
    out = dlq(service_env, "replay", "--topic", "news.articles.v1.dlq", "--id", str(row["id"]))
    assert "replayed 1" in out
    found = wait_until(lambda: indexed(es, source), 90, "the replayed article to be indexed")
    assert found[0]["title"] == "Talks in Kabul resume"
    assert found[0]["trace_id"] == article.trace_id
