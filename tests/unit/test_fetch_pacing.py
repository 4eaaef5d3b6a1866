"""Idle consumers on a broker that answers fetches at once pause between them, and only then."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from newsflow_common import kafka
from newsflow_common.kafka import EMPTY_FETCH_PAUSE_SECONDS, paced


class Clock:
    """The fetch's view of time: the broker's answer advances it; pauses are recorded, not slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(kafka.time, "monotonic", clock.monotonic)
    monkeypatch.setattr(kafka.asyncio, "sleep", clock.sleep)
    return clock


async def fetch_once(clock: Clock, *, has_data: bool, broker_wait: float, max_wait_ms: int = 500) -> bool:
    async def fetch(_: Any, *args: Any) -> bool:
        clock.now += broker_wait
        return has_data

    result: bool = await paced(fetch)(SimpleNamespace(_fetch_max_wait_ms=max_wait_ms), "assignment", 1, "request")
    return result


async def test_an_empty_answer_that_came_at_once_is_followed_by_a_pause(clock: Clock) -> None:
    assert await fetch_once(clock, has_data=False, broker_wait=0.001) is False
    assert clock.pauses == [EMPTY_FETCH_PAUSE_SECONDS]


async def test_the_pause_is_no_longer_than_what_is_left_of_the_wait_asked_for(clock: Clock) -> None:
    await fetch_once(clock, has_data=False, broker_wait=0.46)
    assert clock.pauses == [pytest.approx(0.04)]


async def test_an_answer_with_data_is_passed_on_without_a_pause(clock: Clock) -> None:
    assert await fetch_once(clock, has_data=True, broker_wait=0.001) is True
    assert clock.pauses == []


async def test_a_broker_that_held_the_fetch_for_its_wait_gets_no_pause(clock: Clock) -> None:
    await fetch_once(clock, has_data=False, broker_wait=0.5)
    assert clock.pauses == []


async def test_a_pause_cut_short_by_closing_the_consumer_answers_no_data(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cancelled(seconds: float) -> None:
        raise asyncio.CancelledError  # what aiokafka's close does to a pending fetch

    monkeypatch.setattr(kafka.asyncio, "sleep", cancelled)
    assert await fetch_once(clock, has_data=False, broker_wait=0.001) is False
