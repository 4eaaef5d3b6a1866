"""Retry a transient failure with exponential backoff and jitter, forever (cancel the task to stop it)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from newsflow_common.logs import get_logger
from newsflow_common.metrics import RETRIES

T = TypeVar("T")
log = get_logger(__name__)


def backoff_delay(attempt: int, base: float = 0.2, cap: float = 30.0) -> float:
    """Full jitter: a random delay in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap, base * 2 ** min(attempt, 32)))  # no overflow in a long outage


async def retry_forever(
    operation: Callable[[], Awaitable[T]],
    *,
    transient: Callable[[BaseException], bool],
    service: str,
    name: str,
    on_failure: Callable[[BaseException], None] | None = None,
) -> T:
    """Run ``operation`` until it succeeds; transient errors are never dropped, only delayed."""
    attempt = 0
    while True:
        try:
            return await operation()
        except Exception as exc:
            if not transient(exc):
                raise
            RETRIES.labels(service, name).inc()
            if on_failure is not None:
                on_failure(exc)
            delay = backoff_delay(attempt)
            log.warning("retrying", operation=name, attempt=attempt, delay=round(delay, 2), error=repr(exc))
            attempt += 1
            await asyncio.sleep(delay)
