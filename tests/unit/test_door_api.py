"""The push API's door: whatever a request carries, the answer is a 4xx JSON error that says what is wrong,
never a 5xx; a 202 means the document will become an article or a link; auth comes before the body."""

from __future__ import annotations

import codecs
import functools
import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from newsflow_ingest.api import SERVER_OPTIONS, PushApi
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Guard, parse_allow
from tests.unit.test_ingest_api import RecordingProducer

TOKEN = "door-token-4b1d"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MAX_REQUEST = 8 * 1024 * 1024
MAX_DOCUMENT = 5 * 1024 * 1024


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], RecordingProducer]]:
    settings = IngestSettings(max_document_bytes=MAX_DOCUMENT)
    producer = RecordingProducer()
    seen = SeenStore.open(tmp_path)
    ingestor = Ingestor(settings, producer, seen)  # type: ignore[arg-type]
    push = PushApi(ingestor, Guard(parse_allow("")), TOKEN, max_request_bytes=MAX_REQUEST, send_timeout=5)
    server = TestServer(push.app())
    await server.start_server(**SERVER_OPTIONS)
    async with TestClient(server) as client:
        yield client, producer
    seen.close()


async def post(
    client: TestClient[Any, Any], data: bytes | str, content_type: str, *, auth: bool = True, **kwargs: Any
) -> tuple[int, Any]:
    headers = {**(AUTH if auth else {}), "Content-Type": content_type, **kwargs.pop("headers", {})}
    response = await client.post("/v1/documents", data=data, headers=headers, **kwargs)
    assert response.content_type == "application/json"
    return response.status, await response.json()


def article(**fields: Any) -> dict[str, Any]:
    return {"url": "https://news.example/a", "title": "A title", "body": "The story.", **fields}


BAD_CONTENT = [
    pytest.param(b"[" * 100_000 + b"]" * 100_000, "application/json", 400, id="json-nested-100000-deep"),
    pytest.param(
        b'{"title": "A", "body": "B", "extra": "\\ud800"}', "application/json", 400, id="lone-surrogate-unknown-field"
    ),
    pytest.param(
        b'{"title": "A", "body": "B", "extra": ' + b"[" * 980 + b"]" * 980 + b"}",
        "application/json",
        400,
        id="json-nested-just-under-the-parser-limit",
    ),
    pytest.param(
        codecs.BOM_UTF16_LE + b"\x00\xd8" + b"<\x00p\x00>\x00", "text/plain", 400, id="utf16-bom-lone-surrogate"
    ),
    pytest.param(codecs.BOM_UTF16_LE + b"<\x00p\x00>", "text/html", 400, id="utf16-bom-odd-byte-count"),
    pytest.param(
        codecs.BOM_UTF16_LE + json.dumps(article()).encode("utf-16-le") + b"\x00",
        "application/json",
        400,
        id="json-utf16-odd-byte-count",
    ),
    pytest.param(b"\x01" * (4 * 1024 * 1024), "text/plain", 415, id="4MiB-of-control-characters"),
    pytest.param(b'"' * (5 * 1024 * 1024), "text/plain", 413, id="5MiB-of-quotes-10MiB-once-escaped"),
    pytest.param(json.dumps(article(url="http://[::1")), "application/json", 422, id="url-unclosed-ipv6"),
    pytest.param(json.dumps(article(url="http://[::1/x")), "application/json", 422, id="url-unclosed-ipv6-path"),
    pytest.param(
        json.dumps(article(url="http://ex＃ample.com/a"), ensure_ascii=False), "application/json", 422, id="fullwidth-#"
    ),
    pytest.param(
        json.dumps({"url": "https://news.example/a", "body": "No title."}), "application/json", 422, id="no-title"
    ),
    pytest.param(json.dumps(article(published=1700000000)), "application/json", 422, id="numeric-published"),
    pytest.param(
        json.dumps(article(published="0001-01-01T00:30:00+01:00")), "application/json", 422, id="date-in-year-1"
    ),
    pytest.param(json.dumps(article(title="")), "application/json", 422, id="empty-title"),
]


@pytest.mark.parametrize(("data", "content_type", "status"), BAD_CONTENT)
async def test_bad_content_gets_a_4xx_that_says_what_is_wrong(
    api: Any, data: bytes | str, content_type: str, status: int
) -> None:
    client, producer = api
    got, body = await post(client, data, content_type, headers={"X-Newsflow-Url": "https://news.example/p"})
    assert got == status, body
    assert body["error"]
    assert len(body["message"]) > 10
    assert producer.sent == []


async def test_a_gzip_body_of_several_members_is_read_whole(api: Any) -> None:
    client, producer = api
    text = json.dumps(article()).encode()
    data = gzip.compress(text[:20]) + gzip.compress(text[20:])
    status, _ = await post(client, data, "application/json", headers={"Content-Encoding": "gzip"})
    assert status == 202
    assert json.loads(producer.sent[0][1]["body"]) == article()


async def test_a_truncated_gzip_body_is_malformed(api: Any) -> None:
    client, _ = api
    status, body = await post(
        client, gzip.compress(b"{}" * 1000)[:30], "application/json", headers={"Content-Encoding": "gzip"}
    )
    assert (status, body["error"]) == (400, "malformed")


@pytest.mark.parametrize("source", ["redteam\n", "redteam%0A", "a" * 65, "café", "red team", "x\x00"])
async def test_source_is_a_bounded_printable_name(api: Any, source: str) -> None:
    client, producer = api
    response = await client.post(
        "/v1/documents",
        data=json.dumps(article()),
        params={"source": source},
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert "source" in (await response.json())["message"]
    assert producer.sent == []


async def test_an_accepted_article_is_one_parse_will_take(api: Any) -> None:
    client, producer = api
    status, _ = await post(client, json.dumps(article(published="2024-03-05T09:30:00Z")), "application/json")
    assert status == 202
    assert len(producer.sent) == 1


@functools.cache
def gzip_bomb() -> bytes:
    """About 250 KB on the wire, 256 MiB inflated."""
    return gzip.compress(b"\0" * (256 * 1024 * 1024), compresslevel=9)


async def test_an_unauthenticated_gzip_bomb_is_refused_before_it_is_inflated(api: Any) -> None:
    client, _ = api
    bomb = gzip_bomb()
    started_cpu, started = time.process_time(), time.monotonic()
    for _ in range(4):
        response = await client.post(
            "/v1/documents",
            data=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert response.status == 401
        assert (await response.json())["error"] == "unauthorized"
    cpu, wall = time.process_time() - started_cpu, time.monotonic() - started
    assert cpu < 0.2, f"{cpu:.2f}s of CPU for four refused requests"
    assert wall < 2.0


async def test_an_authenticated_gzip_bomb_stops_at_the_request_cap(api: Any) -> None:
    client, producer = api
    status, body = await post(client, gzip_bomb(), "application/json", headers={"Content-Encoding": "gzip"})
    assert (status, body["error"]) == (413, "too-large")
    assert producer.sent == []
