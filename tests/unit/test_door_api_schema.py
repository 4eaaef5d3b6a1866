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
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
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
