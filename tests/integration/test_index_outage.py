"""Elasticsearch away for 30 s mid-run: the index service waits (degraded, consumption paused), then catches up.

Afterwards every article is there exactly once. Stopping Elasticsearch alone (Kafka stays up) is a
feature of the local stand-in (``noida-db stop elasticsearch``); against real servers this test is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from tests.integration.harness import Kafka, Service, wait_until
from tests.integration.test_index_restart import articles, count

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30


def noida(*args: str) -> None:
    executable = shutil.which("noida-db", path=str(Path(sys.executable).parent)) or "noida-db"
    subprocess.run([executable, *args], check=True, capture_output=True, timeout=60)


@pytest.fixture
def stack_dir(servers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The stand-in's data dir, made by the session's `servers` fixture; Elasticsearch restarted on the way out."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("ELASTICSEARCH_URL"):
        pytest.skip("stops Elasticsearch with the local stand-in's `noida-db stop`; real servers are configured")
    base = tmp_path_factory.getbasetemp()
    found = sorted({path.resolve() for path in base.glob("stack*") if (path / "noida.control.json").exists()})
    assert len(found) == 1, f"expected the stand-in's data dir under {base}, found {found}"
    yield found[0]
    noida("start", "elasticsearch", "--data-dir", str(found[0]))  # whatever happened, leave it running


def test_elasticsearch_away_for_30s_loses_and_duplicates_nothing(
    pipeline: dict[str, Service], kafka: Kafka, es: Elasticsearch, stack_dir: Path
) -> None:
    index = pipeline["index"]
    source = f"outage-{uuid.uuid4().hex[:8]}"
    kafka.produce("news.enriched.v1", articles(source, 0, 1500))
    wait_until(lambda: count(es, source) > 0, 60, "indexing to start")

    noida("stop", "elasticsearch", "--data-dir", str(stack_dir))
    stopped = time.monotonic()
    kafka.produce("news.enriched.v1", articles(source, 1500, 500))  # arrives while Elasticsearch is away
    wait_until(lambda: index.get("/healthz")[0] == 503, 20, "index to report degraded")
    health = json.loads(index.get("/healthz")[1])
    assert health["status"] == "degraded"
    assert health["checks"]["elasticsearch"] != "ok", health

    def outage_over() -> bool:
        index.assert_running()  # waiting, not crashing
        return time.monotonic() - stopped >= OUTAGE_SECONDS

    wait_until(outage_over, OUTAGE_SECONDS + 5, f"{OUTAGE_SECONDS} s of outage", interval=1.0)
    assert index.get("/healthz")[0] == 503, "still degraded at the end of the outage"
    assert index.metric("newsflow_retries_total", service="index", operation="write outputs") > 0 or (
        index.metric("newsflow_retries_total", service="index", operation="transform") > 0
    )

    noida("start", "elasticsearch", "--data-dir", str(stack_dir))
    wait_until(lambda: count(es, source) >= 2000, 120, "all 2000 articles after the outage")
    wait_until(index.healthy, 30, "index to report ok again")
    assert count(es, source) == 2000, "an article was indexed twice"
    unique = es.search(
        index="news-articles",
        query={"term": {"source": source}},
        aggs={"ids": {"cardinality": {"field": "article_id"}}},
        size=0,
    )
    assert unique["aggregations"]["ids"]["value"] == 2000
    assert index.metric("newsflow_dead_letters_total", service="index", kind="elasticsearch-503") == 0
