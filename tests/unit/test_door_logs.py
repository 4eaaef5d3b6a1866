"""Secrets never reach a log line in any form, and metrics carry only label values someone configured."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from newsflow_common.logs import configure_logging, get_logger, register_secrets
from newsflow_common.metrics import SOURCE_LABELS
from newsflow_ingest.api import SERVER_OPTIONS, PushApi
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Guard

QUOTED_TOKEN = 'tok"en\\with-quote-9c1'


def test_a_secret_holding_a_quote_appears_in_no_form(capsys: pytest.CaptureFixture[str]) -> None:
    register_secrets(QUOTED_TOKEN)
    configure_logging("test", "INFO")
    log = get_logger("test")
    log.warning("auth failed", header=f"Bearer {QUOTED_TOKEN}", nested={"token": [QUOTED_TOKEN]})
    logging.getLogger("aiohttp.server").error("bad token %s", QUOTED_TOKEN)
    try:
        raise PermissionError(f"refused {QUOTED_TOKEN!r}")
    except PermissionError:
        log.exception("request failed")
    logged = capsys.readouterr().err
    assert logged.count("\n") == 3, logged
    forms = {QUOTED_TOKEN, json.dumps(QUOTED_TOKEN)[1:-1], repr(QUOTED_TOKEN)[1:-1], quote(QUOTED_TOKEN, safe="")}
    for form in forms:
        assert form not in logged, form
    assert "with-quote-9c1" not in logged
    assert logged.count("***") >= 4


@pytest.mark.parametrize(
    "message",
    [
        "robots.txt of user:hunter2-pw@news.example disallows /x",
        "GET https://user:hunter2-pw@news.example/feed failed",
        "fetching //editor:hunter2-pw@10.0.0.1:8080/feed",
    ],
)
def test_a_password_in_any_url_or_netloc_is_redacted(capsys: pytest.CaptureFixture[str], message: str) -> None:
    configure_logging("test", "INFO")
    get_logger("test").warning(message, url=message.split()[-2])
    logged = capsys.readouterr().err
    assert "hunter2-pw" not in logged
    assert "news.example" in logged or "10.0.0.1" in logged  # the host stays: it is what an operator needs


def ingest_series() -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for metric in REGISTRY.collect()
        if metric.name.startswith("newsflow")
        for sample in metric.samples
    }


async def test_300_distinct_sources_add_no_series(tmp_path: Path) -> None:
    settings = IngestSettings(max_document_bytes=1 << 16)
    producer = _Producer()
    seen = SeenStore.open(tmp_path)
    push = PushApi(Ingestor(settings, producer, seen), Guard([]), "t0ken-xyz", 1 << 20, 5)  # type: ignore[arg-type]
    server = TestServer(push.app())
    await server.start_server(**SERVER_OPTIONS)
    headers = {"Authorization": "Bearer t0ken-xyz", "Content-Type": "application/json"}
    async with TestClient(server) as client:
        for warm in range(2):  # every series a request of each outcome creates exists after the first round
            await client.post("/v1/documents", params={"source": f"warm-{warm}"}, data="{}", headers=headers)
            body = json.dumps({"title": "T", "body": f"warm {warm}", "url": f"https://news.example/w{warm}"})
            await client.post("/v1/documents", params={"source": f"warm-{warm}"}, data=body, headers=headers)
        before = ingest_series()
        for n in range(300):
            body = json.dumps({"title": "T", "body": f"story {n}", "url": f"https://news.example/{n}"})
            response = await client.post("/v1/documents", params={"source": f"src-{n}"}, data=body, headers=headers)
            assert response.status == 202
            await client.post("/v1/documents", params={"source": f"bad-{n}"}, data="{}", headers=headers)
    seen.close()
    added = ingest_series() - before
    assert added == set(), sorted(added)[:5]
    # The documents keep their source: only the metrics' label is bounded.
    assert {value["source"] for value in producer.sent} >= {f"src-{n}" for n in range(300)}


def test_configured_sources_keep_their_name_the_rest_are_other() -> None:
    SOURCE_LABELS.allow("bbc-world")
    assert SOURCE_LABELS("bbc-world") == "bbc-world"
    assert SOURCE_LABELS("redteam\n") == "other"
    assert SOURCE_LABELS("unknown") == "unknown"  # what a stage counts when a record names no source


def test_ingest_does_not_put_the_source_in_the_topic_label(tmp_path: Path) -> None:
    import asyncio

    (tmp_path / "a.txt").write_text("A story.")
    ingestor = Ingestor(IngestSettings(source_name="door-topic"), _Producer(), bulk=True)  # type: ignore[arg-type]
    asyncio.run(ingestor.ingest_all([tmp_path / "a.txt"]))
    topics = {
        sample.labels["topic"]
        for metric in REGISTRY.collect()
        if metric.name == "newsflow_messages_in"
        for sample in metric.samples
        if sample.labels.get("service") == "ingest"
    }
    assert "door-topic" not in topics
    assert "news.raw.v1" in topics


class _Producer:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        if topic == "news.raw.v1":
            self.sent.append(json.loads(value))


def test_the_feeds_names_are_configured_sources(tmp_path: Path) -> None:
    from newsflow_ingest.__main__ import allow_configured_sources

    feeds = tmp_path / "feeds.yaml"
    feeds.write_text('feeds:\n  - {name: door-feed, url: "https://news.example/rss"}\n')
    assert SOURCE_LABELS("door-feed") == "other"
    allow_configured_sources(feeds)
    assert SOURCE_LABELS("door-feed") == "door-feed"
