"""Every stage scales out: two replicas each of parse, enrich and index give what one replica of each gives.

Each run gets a stack of its own (a fresh stand-in, or with real servers configured the same servers: then
the test is skipped, it needs empty topics), the same raw documents — stories, reprints of them under other
URLs, and a later article whose time closes the trend windows — and is compared on what a user sees: the
indexed articles, the clusters as sets of article ids, and the trend counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from newsflow_schemas import RAW, TRENDS, RawDocument
from tests.conftest import SAMPLE
from tests.integration.harness import ROOT, Kafka, Service, free_port, wait_until

pytestmark = pytest.mark.integration

T0 = datetime(2024, 3, 4, 10, tzinfo=UTC)
VOLATILE = {"parsed_at", "enriched_at", "indexed_at", "cluster_id", "duplicate_of", "trace_id"}
"""Fields that say when or through which copy an article went by, not what it is."""


def stories() -> list[str]:
    """The four stories of the sample page as parse extracts them, each a text of its own (title, body)."""
    from newsflow_parse.extract import extract

    page = raw("file:sample", SAMPLE.read_text(), T0)
    return [f"{a.title}\n\n{a.body}" for a in extract(page) if hasattr(a, "body")]


def documents() -> list[RawDocument]:
    """Each story twice under different URLs (a reprint with an edit), an hour apart; then a later clock."""
    texts = stories()
    assert len(texts) == 4, "the sample page holds four stories"
    docs = []
    for i, text in enumerate(texts):
        for copy in range(2):
            body = text if copy == 0 else text + "\n\nReprinted with permission."
            at = T0 + timedelta(minutes=10 * i + copy)
            docs.append(raw(f"https://site{copy}.example/news/story-{i}", body, at))
    clock = "Two days on\n\nOfficials gave new figures on Thursday, and reactions came from the region. " * 3
    docs.append(raw("https://site0.example/news/later", clock, T0 + timedelta(days=2)))
    return docs


def raw(url: str, body: str, at: datetime) -> RawDocument:
    return RawDocument(
        trace_id=uuid.uuid4().hex, doc_id=url.rsplit("/", 1)[-1] + url.split(".")[0][-1], source="replicas",
        uri=url, url=url, content_type="text/plain", charset="utf-8", body=body,
        fetched_at=at,
    )  # fmt: skip


def stack(command: str, data_dir: Path, kafka_port: int, es_port: int) -> None:
    argv = [sys.executable, str(ROOT / "deploy/local/stack.py"), command, "--data-dir", str(data_dir)]
    subprocess.run([*argv, "--kafka-port", str(kafka_port), "--es-port", str(es_port)], check=True)


def run_pipeline(replicas: int, tmp: Path) -> dict[str, Any]:
    """The documents through ``replicas`` replicas of each stage on a fresh stand-in; what came out."""
    kafka_port, es_port = free_port(), free_port()
    stack("up", tmp / "stack", kafka_port, es_port)
    services: list[Service] = []
    try:
        env = {
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka_port}",
            "NEWSFLOW_ELASTICSEARCH_URL": f"http://127.0.0.1:{es_port}",
            "NEWSFLOW_WORKERS": "1",
            "NEWSFLOW_PARSE_WORKERS": "1",
            "NEWSFLOW_LOG_LEVEL": "WARNING",
        }
        for setup in ("newsflow-topics", "newsflow-es-setup"):
            subprocess.run([str(Path(sys.executable).parent / setup)], env={**os.environ, **env}, check=True)
        for name in ("parse", "enrich", "index"):
            for replica in range(replicas):
                replica_env = {**env, "NEWSFLOW_REPLICA": f"r{replica}"}
                services.append(Service(f"{name}-{replicas}x{replica}", [f"newsflow-{name}"], replica_env, tmp))
        for service in services:
            service.start()
        for service in services:
            service.wait_healthy(180)
        kafka = Kafka(env["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"])
        docs = documents()
        kafka.produce(RAW, docs[:-1])
        es = Elasticsearch(env["NEWSFLOW_ELASTICSEARCH_URL"], request_timeout=30)
        wait_until(lambda: len(articles(es)) >= len(docs) - 1, 300, f"{len(docs) - 1} articles, {replicas} replica(s)")
        kafka.produce(RAW, docs[-1:])  # the clock: its time closes the windows of the others
        wait_until(lambda: len(articles(es)) >= len(docs), 300, "the later article")
        for service in services:
            service.assert_running()
        trends = wait_until(lambda: trend_counts(kafka, es), 300, "the closed windows' trend counts in Elasticsearch")
        found = {"articles": articles(es), "trends": trends}
        es.close()
        return found
    finally:
        for service in services:
            service.stop()
        stack("down", tmp / "stack", kafka_port, es_port)


def articles(es: Elasticsearch) -> dict[str, dict[str, Any]]:
    es.indices.refresh(index="news-articles")
    hits = es.search(index="news-articles", size=100, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"]: hit["_source"] for hit in hits}


def trend_counts(kafka: Kafka, es: Elasticsearch) -> dict[tuple[str, str, str], int] | None:
    """The last count of every trend on news.trends.v1, once Elasticsearch holds each of them (else None)."""
    latest = {r["value"]["trend_id"]: r["value"] for r in kafka.read(TRENDS) if isinstance(r["value"], dict)}
    if not latest:
        return None
    es.indices.refresh(index="news-trends")
    indexed = es.count(index="news-trends")["count"]
    if indexed < len(latest):
        return None
    return {(t["type"], t["term"], t["window_start"]): t["count"] for t in latest.values()}


def clusters(found: dict[str, dict[str, Any]]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for article_id, article in found.items():
        groups.setdefault(article["cluster_id"], set()).add(article_id)
    return {frozenset(group) for group in groups.values()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        pytest.skip("needs stacks of its own with empty topics: runs on the local stand-in only")
    return run_pipeline(1, tmp_path_factory.mktemp("one")), run_pipeline(2, tmp_path_factory.mktemp("two"))


def test_two_replicas_index_the_same_articles(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    one, two = (run["articles"] for run in runs)
    assert set(one) == set(two)
    for article_id in one:
        same = {k: v for k, v in one[article_id].items() if k not in VOLATILE}
        assert same == {k: v for k, v in two[article_id].items() if k not in VOLATILE}, article_id


def test_two_replicas_find_the_same_clusters(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    one, two = (clusters(run["articles"]) for run in runs)
    assert one == two
    assert any(len(cluster) == 2 for cluster in one), "the reprints should cluster with their stories"


def test_two_replicas_count_the_same_trends(runs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    one, two = (run["trends"] for run in runs)
    assert one == two
    assert one, "the clock article should have closed windows with counts"
