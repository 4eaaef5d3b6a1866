"""Extraction in worker processes with a time limit: a huge page, deep markup, garbage, a hang or a crash
end in an Article or a rejection within the limit, and the pool keeps working after."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from newsflow_common.dlq import Rejected
from newsflow_common.pool import WorkerDied, WorkerPool
from newsflow_parse.extract import Output, extract
from newsflow_schemas import Article, RawDocument

LIMIT = 30.0  # the service default
NOW = datetime(2024, 12, 30, 12, 0, tzinfo=UTC)
SENTENCES = [
    "The council said the bridge would reopen next week after repairs to its steel supports.",
    "Engineers found cracks in two of the supports during a routine inspection last spring.",
    "Traffic has been diverted through the old town, adding half an hour to many commutes.",
    "Cyclists will have to wait until March for the new lane on the eastern side of the bridge.",
]


def raw(body: str, content_type: str = "text/html") -> RawDocument:
    return RawDocument(
        trace_id="t",
        doc_id="d",
        source="robust",
        uri="test",
        url="https://example.com/2024/12/30/story",
        content_type=content_type,
        charset="utf-8",
        body=body,
        fetched_at=NOW,
    )


def five_megabytes() -> str:
    paragraphs = (f"<p>{SENTENCES[k % 4]} Paragraph {k} of the record.</p>\n" for k in range(60_000))
    page = "<html><head><title>A very long record</title></head><body><article><h1>A very long record</h1>"
    page += "".join(paragraphs)
    return page[: 5 * 1024 * 1024] + "</article></body></html>"


def deeply_nested() -> str:
    body = f"<p>{' '.join(SENTENCES * 3)}</p>"
    return "<html><body>" + "<div><span>" * 50_000 + body + "</span></div>" * 50_000 + "</body></html>"


def garbage() -> str:
    return os.urandom(300_000).decode("latin-1")


@pytest.fixture(scope="module")
async def pool() -> AsyncIterator[WorkerPool[list[Output]]]:
    workers: WorkerPool[list[Output]] = WorkerPool(extract, LIMIT, workers=1)
    await workers.run(raw("<p>warm up</p>", "text/plain"), NOW)  # workers started: the clock is the document's
    yield workers
    workers.close()


async def outcome(pool: WorkerPool[list[Output]], document: RawDocument) -> list[Output] | str:
    """The outputs, or the reject kind: the pool itself enforces the time limit ('timeout' past it)."""
    try:
        return await pool.run(document, NOW)
    except Rejected as exc:
        return exc.kind


async def test_a_five_megabyte_page_gives_an_article_within_the_limit(pool: WorkerPool[list[Output]]) -> None:
    page = five_megabytes()
    assert len(page) >= 5 * 1024 * 1024
    result = await outcome(pool, raw(page))
    assert isinstance(result, list), f"the pool gave {result!r}: over the limit it answers 'timeout'"
    [article] = result
    assert isinstance(article, Article)
    assert SENTENCES[0] in article.body


async def test_deeply_nested_markup_ends_within_the_limit(pool: WorkerPool[list[Output]]) -> None:
    result = await outcome(pool, raw(deeply_nested()))
    assert result == "no-article" or (isinstance(result, list) and isinstance(result[0], Article))


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/json"])
async def test_garbage_bytes_are_rejected_within_the_limit(pool: WorkerPool[list[Output]], content_type: str) -> None:
    result = await outcome(pool, raw(garbage(), content_type))
    assert result == "binary"


# time.sleep stands for a parser spinning on a pathological page, os._exit for one dying in C code.


async def test_a_hung_worker_is_killed_at_the_limit_and_the_pool_recovers() -> None:
    pool: WorkerPool[None] = WorkerPool(time.sleep, timeout=2.0, workers=1)
    try:
        await pool.run(0.0)  # workers started: the clock is the document's
        started = time.monotonic()
        with pytest.raises(Rejected) as caught:
            await pool.run(600.0)
        assert caught.value.kind == "timeout"
        assert time.monotonic() - started < 2.0 + 5  # the limit, plus killing the worker
        assert await pool.run(0.0) is None  # a fresh worker answers
    finally:
        pool.close()


async def test_other_documents_in_flight_survive_a_timeout() -> None:
    pool: WorkerPool[None] = WorkerPool(time.sleep, timeout=3.0, workers=2)
    try:
        await pool.run(0.0)  # start a worker
        stuck, quick = pool.run(600.0), pool.run(1.0)
        results = await asyncio.gather(stuck, quick, return_exceptions=True)
        assert isinstance(results[0], Rejected)
        assert results[0].kind == "timeout"
        assert results[1] is None  # only the stuck worker is killed: the other call is not blamed
    finally:
        pool.close()


async def test_a_crashed_worker_raises_worker_died_and_the_pool_recovers() -> None:
    pool: WorkerPool[None] = WorkerPool(os._exit, timeout=LIMIT, workers=1)
    try:
        with pytest.raises(WorkerDied):
            await pool.run(3)
        with pytest.raises(WorkerDied):  # a fresh worker took the dead one's place
            await pool.run(4)
    finally:
        pool.close()
