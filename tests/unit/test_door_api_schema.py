"""schemathesis against the push API's own OpenAPI document: generated requests, no 5xx, answers as documented.

The aiohttp app runs in this process (a thread with its own loop, Kafka replaced by a recording producer);
the examples are few and derandomized, so the run is deterministic and offline.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import checks

from newsflow_ingest.api import OPENAPI, SERVER_OPTIONS, PushApi
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Guard

TOKEN = "schema-token-77"
schema = schemathesis.openapi.from_dict(OPENAPI)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


class RecordingProducer:
    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        json.loads(value)  # what would go to Kafka is JSON


class ApiThread:
    """The push API served on 127.0.0.1 from a thread of this process."""

    def __init__(self, state_dir: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.state_dir = state_dir
        self.port = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.seen.close()
        self.loop.close()

    async def _start(self) -> None:
        self.seen = SeenStore.open(self.state_dir)
        ingestor = Ingestor(IngestSettings(), RecordingProducer(), self.seen)  # type: ignore[arg-type]
        push = PushApi(ingestor, Guard([]), TOKEN, max_request_bytes=1 << 20, send_timeout=5)
        self.runner = web.AppRunner(push.app(), access_log=None, **SERVER_OPTIONS)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    def __enter__(self) -> ApiThread:
        self.thread.start()
        assert self.ready.wait(10), "the API did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with ApiThread(tmp_path_factory.mktemp("seen")) as api:
        yield f"http://127.0.0.1:{api.port}"


@schema.parametrize()
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_the_push_api_answers_as_documented_and_never_5xx(case: schemathesis.Case, base_url: str) -> None:
    """Not checked: that every schema-valid request is accepted. A JSON schema cannot say which URLs the SSRF
    guard refuses or which dates parse reads; those get a documented 4xx with the reason instead."""
    case.call_and_validate(base_url=base_url, headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
ARTICLE_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "url": st.sampled_from(["https://news.example/a", "http://[::1", "http://ex＃ample.com/", "urn:x", "//x", ""]),
        "title": st.one_of(st.text(max_size=20), st.integers()),
        "body": st.one_of(st.text(max_size=40), st.integers(), st.none()),
        "published": st.sampled_from(
            [
                "2024-03-05T09:30:00Z",
                "0001-01-01T00:30:00+01:00",
                "9999-12-31T23:59:59-01:00",
                1,
                "x",
                "Mon, 01 Mar 2024 10:00:00 GMT",
            ]
        ),
        "authors": st.one_of(st.lists(st.text(max_size=5), max_size=2), st.text(max_size=5), st.integers()),
        "extra": JSON_VALUES,
    },
)
BODIES = st.one_of(
    ARTICLE_FIELDS.map(lambda value: json.dumps(value).encode()),
    st.lists(ARTICLE_FIELDS, max_size=3).map(lambda value: json.dumps(value).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 5000).map(lambda depth: b'{"title": "T", "body": "B", "x": ' + b"[" * depth + b"]" * depth + b"}"),
    st.text().map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=200),
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "text/html",
        "text/plain",
        "text/plain; charset=utf-16",
        "application/xml",
        "",
        "text/html; charset=nope",
    ]
)
QUERIES = st.fixed_dictionaries({}, optional={"source": st.text(max_size=70), "url": st.text(max_size=30)})


@settings(max_examples=150, derandomize=True, deadline=None, database=None)
@given(body=BODIES, content_type=CONTENT_TYPES, query=QUERIES)
def test_generated_requests_never_get_a_5xx(
    base_url: str, body: bytes, content_type: str, query: dict[str, str]
) -> None:
    response = requests.post(
        f"{base_url}/v1/documents",
        params=query,
        data=body,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type},
        timeout=30,
    )
    assert response.status_code < 500, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.status_code in {202, 400, 413, 415, 422}, response.text
