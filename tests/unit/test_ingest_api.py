"""The push API over HTTP: auth, every error status, 202 with ids, the OpenAPI document; seen-before state."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from newsflow_ingest.api import PushApi
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.service import ConfigError, api_token
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Guard, parse_allow

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class RecordingProducer:
    """Stands in for the Kafka producer in this HTTP-level test (the integration tests use real Kafka)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        self.sent.append((topic, json.loads(value)))


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], RecordingProducer]]:
    settings = IngestSettings(max_document_bytes=2000)
    producer = RecordingProducer()
    seen = SeenStore.open(tmp_path)
    ingestor = Ingestor(settings, producer, seen)  # type: ignore[arg-type]
    push = PushApi(ingestor, Guard(parse_allow("")), TOKEN, max_request_bytes=10_000, send_timeout=5)
    async with TestClient(TestServer(push.app())) as client:
        yield client, producer
    seen.close()


async def post(client: TestClient[Any, Any], data: bytes | str, content_type: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {**AUTH, "Content-Type": content_type, **kwargs.pop("headers", {})}
    response = await client.post("/v1/documents", data=data, headers=headers, **kwargs)
    return response.status, await response.json()


async def test_a_json_article_is_accepted_with_its_id(api: Any) -> None:
    client, producer = api
    article = {"url": "https://news.example/a", "title": "A", "body": "Body", "author": "Ann"}
    status, body = await post(client, json.dumps(article), "application/json", params={"source": "cms"})
    assert status == 202
    ((topic, raw),) = producer.sent
    assert topic == "news.raw.v1"
    assert body["ids"] == [raw["doc_id"]]
    assert raw["source"] == "cms"
    assert raw["content_type"] == "application/json"
    assert json.loads(raw["body"]) == article
    assert raw["hints"]["authors"] == ["Ann"]


async def test_a_batch_is_accepted_and_the_same_content_again_is_a_counted_duplicate(api: Any) -> None:
    client, producer = api
    batch = [{"url": f"https://news.example/{n}", "title": str(n), "body": f"Body {n}"} for n in range(3)]
    status, first = await post(client, json.dumps(batch), "application/json")
    assert status == 202
    assert len(first["ids"]) == 3
    assert first["duplicates"] == []
    status, again = await post(client, json.dumps(batch), "application/json")
    assert status == 202
    assert again["duplicates"] == first["ids"]
    assert len(producer.sent) == 3


async def test_raw_html_with_url_and_source_in_headers(api: Any) -> None:
    client, producer = api
    headers = {"X-Newsflow-Url": "https://news.example/page", "X-Newsflow-Source": "crawler"}
    status, _ = await post(client, "<html><p>Story</p></html>", "text/html; charset=utf-8", headers=headers)
    assert status == 202
    raw = producer.sent[0][1]
    assert (raw["url"], raw["source"], raw["content_type"]) == ("https://news.example/page", "crawler", "text/html")


async def test_an_article_with_only_a_url_is_queued_as_a_link(api: Any) -> None:
    client, producer = api
    status, body = await post(
        client, json.dumps({"url": "https://news.example/later", "title": "T"}), "application/json"
    )
    assert status == 202
    assert body["links"] == ["https://news.example/later"]
    assert producer.sent[0][0] == "news.links.v1"


@pytest.mark.parametrize(
    ("data", "content_type", "status", "error"),
    [
        ("{not json", "application/json", 400, "malformed"),
        ("[]", "application/json", 400, "malformed"),
        ("", "text/plain", 400, "empty"),
        ("x" * 20_000, "text/plain", 413, "too-large"),
        ("x" * 3000, "text/plain", 413, "too-large"),  # under the request cap, over the document cap
        ("a,b\n1,2", "text/csv", 415, "unsupported-type"),
        (b"\x89PNG\r\n\x1a\n" + bytes(16), "text/html", 415, "binary"),
        (json.dumps({"title": "no body, no url"}), "application/json", 422, "schema"),
        (
            json.dumps([{"title": "ok", "body": "ok"}, {"body": 7, "published": "yesterday-ish"}]),
            "application/json",
            422,
            "schema",
        ),
        (json.dumps({"url": "http://169.254.169.254/latest/meta-data/"}), "application/json", 422, "schema"),
    ],
)
async def test_errors_are_clear_json_and_nothing_is_sent(
    api: Any, data: str | bytes, content_type: str, status: int, error: str
) -> None:
    client, producer = api
    got_status, body = await post(client, data, content_type)
    assert (got_status, body["error"]) == (status, error)
    assert body["message"]
    assert producer.sent == []


async def test_the_schema_error_says_which_article_and_field(api: Any) -> None:
    client, _ = api
    batch = [{"title": "ok", "body": "ok"}, {"body": "b", "published": "not a date"}]
    status, body = await post(client, json.dumps(batch), "application/json")
    assert status == 422
    assert body["details"][0]["index"] == 1
    assert "published" in body["details"][0]["problem"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}])
async def test_without_the_token_it_is_401(api: Any, headers: dict[str, str]) -> None:
    client, producer = api
    response = await client.post("/v1/documents", data="{}", headers={"Content-Type": "application/json", **headers})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (await response.json())["error"] == "unauthorized"
    assert producer.sent == []


async def test_the_openapi_document_describes_the_endpoint(api: Any) -> None:
    client, _ = api
    response = await client.get("/openapi.json")
    spec = await response.json()
    post_op = spec["paths"]["/v1/documents"]["post"]
    assert {"202", "400", "401", "413", "415", "422"} <= set(post_op["responses"])
    assert {"application/json", "text/html", "text/plain"} <= set(post_op["requestBody"]["content"])
    assert "body" in spec["components"]["schemas"]["Article"]["properties"]


def test_the_api_refuses_to_start_without_a_token_unless_auth_is_switched_off() -> None:
    with pytest.raises(ConfigError):
        api_token(IngestSettings(api_token=None, api_auth_disabled=False))
    assert api_token(IngestSettings(api_token=None, api_auth_disabled=True)) is None
    assert api_token(IngestSettings(api_token=TOKEN)) == TOKEN


async def test_seen_before_state_survives_reopening(tmp_path: Path) -> None:
    store = SeenStore.open(tmp_path)
    await store.mark("url:https://news.example/a", "hash-1")
    await store.set_validators("https://news.example/feed", '"etag-1"', "Tue, 05 Mar 2024 10:00:00 GMT")
    store.close()
    reopened = SeenStore.open(tmp_path)
    assert await reopened.is_seen("url:https://news.example/a", "hash-1")
    assert not await reopened.is_seen("url:https://news.example/a", "hash-2")  # changed content: a new version
    assert await reopened.validators("https://news.example/feed") == ('"etag-1"', "Tue, 05 Mar 2024 10:00:00 GMT")
    reopened.close()


async def test_watch_modes_old_json_state_is_carried_over(tmp_path: Path) -> None:
    (tmp_path / "seen-files.json").write_text(json.dumps({"/inbox/a.txt": "abc"}))
    store = SeenStore.open(tmp_path)
    assert await store.is_seen("file:/inbox/a.txt", "abc")
    assert not (tmp_path / "seen-files.json").exists()
    store.close()
