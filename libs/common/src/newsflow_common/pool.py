"""CPU work off the event loop: worker processes with a time limit per call (pebble).

A thread cannot be stopped, so a page that makes a parser spin would hold it forever; a process can be
killed. pebble kills only the worker whose call overran and starts a new one, the other calls go on.
A worker that dies (a segfault, the kernel's OOM killer) fails only the call it was running: that call
raises :class:`WorkerDied`, and the runtime tries the record once more, alone, before it dead-letters it
as ``worker-died`` (a record that kills a worker twice is the record's fault, not bad luck).

Workers are never forked from the service (a process with a running event loop and threads): they are
spawned, or — for a pool given modules to ``preload`` — forked from a forkserver that imported those modules
first, so models loaded there once are shared by every worker, copy-on-write, instead of loaded in each
(enrich: docs/decisions/014-shared-models.md). They exit with their service even when it is SIGKILLed, and
are replaced after a number of calls so the memory a library leaks stays bounded (a forked replacement
starts with the models already loaded). Their number defaults to the cores this process may use (its
cgroup's CPU quota included), not the host's; ``NEWSFLOW_WORKERS`` (Settings.workers) overrides it.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from pebble import ProcessExpired, ProcessPool

from newsflow_common.dlq import Rejected
from newsflow_common.lifecycle import exit_with_parent
from newsflow_common.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)

CALLS_PER_WORKER = 500
STARTUP_SECONDS = 180.0  # spawning workers and loading models, on a slow, loaded machine


class WorkerDied(Exception):
    """The worker running a call died (not a timeout): the runtime retries the record once, alone."""


@dataclass(frozen=True)
class Rejection:
    """A ``Rejected`` carried back from a worker as a value (an exception with extra fields does not pickle)."""

    kind: str
    message: str


@dataclass(frozen=True)
class Failure:
    """Any other exception raised in a worker, as text: the record's fault, so the runtime dead-letters it."""

    kind: str
    message: str


def call_in_worker(function: Callable[..., T], *args: object) -> T | Rejection | Failure:
    """Runs in the worker: a rejection or a library's failure on this input comes back as a value."""
    try:
        return function(*args)
    except Rejected as exc:
        return Rejection(exc.kind, str(exc))
    except Exception as exc:  # the worker stays; the record is dead-lettered with the reason
        return Failure(type(exc).__name__, str(exc)[:1000])


class WorkerFailure(Exception):
    """An exception a worker raised, rebuilt in the service with its original type name as the kind."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind


def cgroup_cpus() -> float | None:
    """The CPU quota of this process's cgroup (v2 ``cpu.max``), in cores; None when unlimited or unknown."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def default_workers() -> int:
    """The cores this process may run on, bounded by its cgroup's CPU quota (not the host's core count)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cgroup_cpus()
    return max(1, min(cores, math.ceil(quota) if quota else cores))


def worker_context(preload: Sequence[str]) -> multiprocessing.context.BaseContext:
    """Spawn; or, with modules to preload, fork from a forkserver that imported them (one per service)."""
    if not preload:
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(preload))
    return context


def _start_worker(service_pid: int, initializer: Callable[[], None] | None) -> None:
    exit_with_parent(service_pid)  # a SIGKILLed service cannot shut its pool down
    if initializer is not None:
        initializer()


class WorkerPool(Generic[T]):
    """``await pool.run(*args)`` runs ``function(*args)`` in a worker, within ``timeout`` seconds."""

    def __init__(
        self,
        function: Callable[..., T],
        timeout: float | None,
        workers: int | None = None,
        initializer: Callable[[], None] | None = None,
        preload: Sequence[str] = (),
    ) -> None:
        self.function, self.timeout = function, timeout
        self.workers = workers or default_workers()
        self._pool = ProcessPool(
            max_workers=self.workers,
            max_tasks=CALLS_PER_WORKER,
            initializer=_start_worker,
            initargs=(os.getpid(), initializer),
            context=worker_context(preload),
        )

    async def warm_up(self) -> None:
        """Wait until every worker has started and run its initializer (models loaded), so no call's clock
        runs while a worker is still importing."""
        calls = [self._pool.schedule(_ready) for _ in range(self.workers)]
        await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, calls)), STARTUP_SECONDS)

    async def run(self, *args: object) -> T:
        """The function's result; ``Rejected`` for the record's own failures and timeouts, ``WorkerDied``."""
        future = self._pool.schedule(call_in_worker, args=(self.function, *args), timeout=self.timeout)
        try:
            outcome: Any = await asyncio.wrap_future(future)
        except FutureTimeout:
            raise Rejected("timeout", f"took longer than {self.timeout:g}s; its worker was replaced") from None
        except ProcessExpired as exc:
            log.warning("worker died", exitcode=exc.exitcode)
            raise WorkerDied(f"the worker died (exit code {exc.exitcode})") from None
        if isinstance(outcome, Rejection):
            raise Rejected(outcome.kind, outcome.message)
        if isinstance(outcome, Failure):
            raise WorkerFailure(outcome.kind, outcome.message)
        return cast(T, outcome)

    def close(self) -> None:
        self._pool.stop()  # type: ignore[no-untyped-call]  # pebble's stop() has no annotations
        self._pool.join(timeout=5)


def _ready() -> None:
    """A call that proves a worker is up."""
