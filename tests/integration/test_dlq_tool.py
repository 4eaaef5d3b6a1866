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
from newsflow_schemas import Article, DeadLetter, encode
from tests.integration.harness import BIN, Kafka, Service, indexed, wait_until

pytestmark = pytest.mark.integration


def dlq_run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / "newsflow-dlq"), *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60, check=False)


def dlq(env: dict[str, str], *args: str) -> str:
    result = dlq_run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def listed(env: dict[str, str], key: str, topic: str = "news.articles.v1.dlq") -> list[dict[str, object]]:
    rows = [json.loads(line) for line in dlq(env, "list", "--topic", topic, "--json").splitlines()]
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


def letters_for(key: str, n: int) -> list[DeadLetter]:
    """``n`` index dead letters of enriched articles, told apart by their error text."""
    return [
        dead_letter(
            original=f'{{"n": {i}}}'.encode(),
            stage="index",
            kind="elasticsearch-400",
            error=f"letter {i} of {key}",
            trace_id=f"{key}-{i}",
            key=key.encode(),
            topic="news.enriched.v1",
            partition=0,
            offset=i,
        )
        for i in range(n)
    ]


def test_show_reads_the_one_letter_its_id_names(kafka: Kafka, service_env: dict[str, str]) -> None:
    key = f"show-{uuid.uuid4().hex[:8]}"
    kafka.produce("news.enriched.v1.dlq", letters_for(key, 3))
    rows = wait_until(lambda: listed(service_env, key, "news.enriched.v1.dlq"), 30, "the letters to be listed")
    middle = str(rows[1]["id"])
    shown = dlq(service_env, "show", middle)
    assert f"letter 1 of {key}" in shown
    assert '{"n": 1}' in shown
    topic, partition, offset = middle.rsplit(":", 2)
    beyond = dlq_run(service_env, "show", f"{topic}:{partition}:{int(offset) + 10_000}")
    assert beyond.returncode == 1
    assert "no dead letter" in beyond.stderr
    assert dlq_run(service_env, "show", "news.enriched.v1.dlq:99:0").returncode == 1


def test_list_reports_progress_and_replay_json_says_what_it_did_to_each(
    kafka: Kafka, service_env: dict[str, str]
) -> None:
    key = f"json-{uuid.uuid4().hex[:8]}"
    kafka.produce("news.enriched.v1.dlq", letters_for(key, 2))
    rows = wait_until(lambda: listed(service_env, key, "news.enriched.v1.dlq"), 30, "the letters to be listed")
    listing = dlq_run(service_env, "list", "--topic", "news.enriched.v1.dlq")
    assert "read news.enriched.v1.dlq:" in listing.stderr  # the progress line
    ids = [str(row["id"]) for row in rows]
    args = ["replay", "--topic", "news.enriched.v1.dlq", "--dry-run", "--json", "--id", ids[0], "--id", ids[1]]
    out = dlq(service_env, *args)
    actions = [json.loads(line) for line in out.splitlines()]
    assert actions == [{"id": i, "action": "would replay", "topic": "news.enriched.v1"} for i in ids]
