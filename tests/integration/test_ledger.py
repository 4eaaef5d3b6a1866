"""The completeness ledger and the quick look, on the real pipeline: `newsflow ledger`, `check` and `status`."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import Article
from tests.conftest import SAMPLE
from tests.integration.harness import BIN, Kafka, Service, free_port, indexed, wait_until

pytestmark = pytest.mark.integration
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64)
GROUPS = {"newsflow-parse", "newsflow-enrich", "newsflow-enrich-state", "newsflow-index"}


def newsflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "newsflow"), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def ledger_json(env: dict[str, str], source: str) -> dict[str, Any]:
    result = newsflow(env, "ledger", "--source", source, "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def article(source: str, title: str, body: str) -> Article:
    return Article(
        trace_id=uuid.uuid4().hex,
        article_id=f"a-{uuid.uuid4().hex[:12]}",
        doc_id=f"d-{source}",
        source=source,
        title=title,
        body=body,
        extractor="plain-text",
        parsed_at=datetime.now(UTC),
    )


def test_sample_and_two_refused_files_balance(
    pipeline: dict[str, Service], service_env: dict[str, str], es: Elasticsearch, tmp_path: Path
) -> None:
    source = f"ledger-{uuid.uuid4().hex[:8]}"
    refused = {"empty.html": b"", "photo.html": PNG}
    for name, data in refused.items():
        (tmp_path / name).write_bytes(data)
    subprocess.run(
        [str(BIN / "newsflow-ingest"), "--source", source, str(SAMPLE), *(str(tmp_path / n) for n in refused)],
        env={**os.environ, **service_env},
        check=True,
        timeout=120,
    )
    wait_until(lambda: len(indexed(es, source)) >= 4, 180, "the sample's four stories to be indexed")

    report = ledger_json(service_env, source)
    totals = report["totals"][source]
    # received = raw (accepted onto news.raw.v1) + refused by ingest
    assert (totals["received"], totals["raw"]) == (3, 1)
    assert totals["refused"] == {"binary": 1, "empty": 1}
    assert (totals["articles"], totals["enriched"], totals["indexed"]) == (4, 4, 4)
    assert (totals["parse_dlq"], totals["enrich_dlq"], totals["index_dlq"]) == (0, 0, 0)
    assert report["balanced"] is True
    assert sum(hour["indexed"] for hour in report["hours"][source].values()) == 4

    check = newsflow(service_env, "check", "--source", source)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "balanced" in check.stdout


def test_check_names_an_article_that_never_reached_the_index(
    pipeline: dict[str, Service], service_env: dict[str, str], kafka: Kafka, es: Elasticsearch
) -> None:
    source = f"ledger-broken-{uuid.uuid4().hex[:8]}"
    # Bodies far apart: a near-duplicate would be an end of its own (a counted duplicate).
    kept = article(source, "Council approves the Danube bridge", "Vienna's council voted 61 to 39 for a new bridge.")
    lost = article(source, "Tram line delayed", "Graz transport officials blamed a shortage of steel for the delay.")
    kafka.produce("news.articles.v1", [kept, lost])
    wait_until(lambda: len(indexed(es, source)) == 2, 120, "both articles to be indexed")

    def check_while_lost() -> tuple[subprocess.CompletedProcess[str], Any] | None:
        # As if the index had lost it: nothing in a DLQ says what became of it. At-least-once delivery may
        # index it again meanwhile (a redelivered batch), so the check counts only while it is really gone.
        # Deleted from the monthly index that holds it: the stand-in's delete_by_query through an alias
        # reaches only the alias's first index (decision 001).
        for hit in es.search(index="news-articles", query={"ids": {"values": [lost.article_id]}})["hits"]["hits"]:
            es.delete(index=hit["_index"], id=hit["_id"], refresh=True)
        check = newsflow(service_env, "check", "--source", source)
        report = ledger_json(service_env, source)
        gone = all(a["article_id"] != lost.article_id for a in indexed(es, source))
        return (check, report) if gone else None

    check, report = wait_until(check_while_lost, 360, "a check while the article is missing from the index")
    assert check.returncode == 1, check.stdout + check.stderr
    assert lost.article_id in check.stdout
    assert kept.article_id not in check.stdout
    broken = report["unbalanced"]
    assert [(b["what"], b["id"]) for b in broken] == [("article", lost.article_id)]
    assert "enriched, not indexed" in broken[0]["detail"]


def test_status_shows_the_groups_drained_the_services_and_the_dlqs(
    pipeline: dict[str, Service], service_env: dict[str, str]
) -> None:
    services = [f"--service={name}=http://127.0.0.1:{service.port}" for name, service in pipeline.items()]
    services.append(f"--service=ingest=http://127.0.0.1:{free_port()}")  # ingest is not running: nothing listens

    def drained() -> dict[str, Any] | None:
        result = newsflow(service_env, "status", "--json", "--no-ledger", "--interval", "0.2", *services)
        assert result.returncode == 0, result.stderr
        status: dict[str, Any] = json.loads(result.stdout)
        groups = {row["group"] for row in status["lag"]}
        behind = sum(row["lag"] for row in status["lag"] if row["group"] in GROUPS)
        return status if groups >= GROUPS and behind == 0 else None

    status = wait_until(drained, 90, "the pipeline's consumer groups to drain (lag 0)")
    health = {row["name"]: row["health"] for row in status["services"]}
    assert {name: health[name] for name in pipeline} == dict.fromkeys(pipeline, "ok")
    assert health["ingest"] == "unreachable"  # said, not hidden
    assert set(status["dlq"]) >= {"news.raw.v1.dlq", "news.articles.v1.dlq", "news.enriched.v1.dlq"}

    table = newsflow(service_env, "status", "--interval", "0.2", *services)
    assert table.returncode == 0, table.stderr
    for group in GROUPS:
        assert group in table.stdout
    assert "== ledger" in table.stdout
