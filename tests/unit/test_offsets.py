"""Found by the fault run (bench/chaos.py): after a SIGKILL, the restarted enrich never got a fetch of articles.

faust lost the records on their way to the agent, booked their offsets as a gap and committed past them.
The stage now checks that its offsets follow one another, processes what it missed first, read again from
Kafka, and only then books the range as done.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.types import TP

from newsflow_common import offsets
from newsflow_common.offsets import OffsetGuard, catch_up
from newsflow_common.settings import Settings
from newsflow_common.stage import Record

ARTICLES = TP("news.articles.v1", 0)
OTHER = TP("newsflow-enrich-enrich-aliases-changelog", 0)


def test_offsets_that_follow_one_another_miss_nothing() -> None:
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    assert [guard.missing(ARTICLES, offset, committed=56) for offset in range(56, 64)] == [range(0)] * 8


def test_a_jump_is_the_range_the_stage_never_got() -> None:
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    for offset in range(56, 64):
        guard.missing(ARTICLES, offset, committed=56)
    assert guard.missing(ARTICLES, 108, committed=56) == range(64, 108)  # the chaos run's enrich restart
    assert guard.missing(ARTICLES, 109, committed=56) == range(0)


def test_the_first_record_is_checked_against_the_committed_offset() -> None:
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    assert guard.missing(ARTICLES, 36, committed=16) == range(16, 36)
    assert OffsetGuard(frozenset({ARTICLES.topic})).missing(ARTICLES, 5, committed=None) == range(0)


def test_redeliveries_and_other_topics_miss_nothing() -> None:
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    for offset in range(10, 20):
        guard.missing(ARTICLES, offset, committed=10)
    assert guard.missing(ARTICLES, 12, committed=12) == range(0)  # faust sought back: followed
    assert guard.missing(ARTICLES, 13, committed=12) == range(0)
    assert guard.missing(OTHER, 999, committed=0) == range(0)


def test_a_revoked_partition_expects_the_committed_offset_again() -> None:
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    guard.missing(ARTICLES, 10, committed=10)
    guard.forget({ARTICLES})  # another replica had it meanwhile and went on to 500
    assert guard.missing(ARTICLES, 500, committed=500) == range(0)


class FakeConsumer:
    def __init__(self) -> None:
        self._committed_offset: dict[TP, int] = {ARTICLES: 56}
        self.booked: list[tuple[TP, int, int]] = []


def record(offset: int) -> Record:
    return Record(ARTICLES.topic, ARTICLES.partition, offset, b"k", b"{}")


def test_what_was_missed_is_handled_first_then_booked_done(monkeypatch: pytest.MonkeyPatch) -> None:
    consumer = FakeConsumer()
    topic = {offset: record(offset) for offset in range(56, 120)}

    async def read_range(settings: Settings, tp: TP, wanted: range) -> list[Record]:
        return [topic[offset] for offset in wanted]

    async def book(self: Any, tp: TP, first: int, last: int) -> None:
        self.booked.append((tp, first, last))

    monkeypatch.setattr(offsets, "read_range", read_range)
    monkeypatch.setattr(offsets, "_book_gap", book)
    guard = OffsetGuard(frozenset({ARTICLES.topic}))
    handled: list[int] = []

    async def handle(records: list[Record]) -> None:
        handled.extend(r.offset for r in records)

    async def agent(batches: list[list[int]]) -> None:
        for batch in batches:  # what the agent gets from faust: 64..107 never came
            records = [topic[offset] for offset in batch]
            await catch_up(guard, consumer, Settings(), records, handle)
            await handle(records)

    asyncio.run(agent([list(range(56, 64)), list(range(108, 120))]))
    assert handled == list(range(56, 120))  # every offset, in order, once
    assert consumer.booked == [(ARTICLES, 64, 107)]


def test_faust_books_no_gap_in_an_input_topic(monkeypatch: pytest.MonkeyPatch) -> None:
    from faust.transport.consumer import Consumer

    booked: list[TP] = []

    async def book(self: Any, tp: TP, first: int, last: int) -> None:
        booked.append(tp)

    monkeypatch.setattr(Consumer, "_add_gap", Consumer._add_gap)  # restored after the test
    monkeypatch.setattr(offsets, "_book_gap", book)
    offsets.guard_offsets({ARTICLES.topic})
    asyncio.run(Consumer._add_gap(FakeConsumer(), ARTICLES, 17, 104))  # type: ignore[arg-type]
    asyncio.run(Consumer._add_gap(FakeConsumer(), OTHER, 3, 5))  # type: ignore[arg-type]
    assert booked == [OTHER]
