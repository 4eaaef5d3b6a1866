"""Extraction off the event loop, in worker processes, with a time limit per document.

A thread cannot be stopped, so a page that makes the HTML parser spin would
hold the worker forever. A process can be killed: when a document overruns its
time limit (or a worker dies), the pool's processes are killed, a new pool is
started (its workers warmed up before the next document's clock runs), and
the document is rejected with that reason ("timeout",
"worker-crashed"). Workers are started with "spawn" (no fork of a process with
a running event loop and threads) and replaced after a number of documents, so
the memory a parser leaks stays bounded.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Generic, TypeVar

from newsflow_common.dlq import Rejected
from newsflow_common.lifecycle import exit_with_parent
from newsflow_common.logs import get_logger

T = TypeVar("T")
log = get_logger(__name__)
DOCUMENTS_PER_WORKER = 500
STARTUP_SECONDS = 120.0  # spawning workers and importing the parsers, on a slow machine


@dataclass(frozen=True)
class Rejection:
    """A ``Rejected`` carried back from a worker (the exception itself does not survive pickling)."""

    kind: str
    message: str


def call_in_worker(function: Callable[..., T], *args: object) -> T | Rejection:
    """Runs in the worker: a rejection comes back as a value, anything else unexpected as text."""
    try:
        return function(*args)
    except Rejected as exc:
        return Rejection(exc.kind, str(exc))
    except Exception as exc:  # a library failing on this input: report it, keep the worker
        return Rejection("unexpected", f"{type(exc).__name__}: {exc}")


def warm_up(function: Callable[..., object]) -> None:
    """Runs in a new worker: receiving ``function`` imported its module (trafilatura, lxml...)."""


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class WorkerPool(Generic[T]):
    """Runs a picklable function on documents in worker processes, each call bounded by ``timeout`` seconds."""

    def __init__(self, function: Callable[..., T], timeout: float, workers: int | None = None) -> None:
        self.function, self.timeout, self.workers = function, timeout, workers or default_workers()
        self._executor: ProcessPoolExecutor | None = None
        self._starting = asyncio.Lock()
        self._generation = 0  # counts recycles: a call whose worker another call's timeout killed runs again

    async def _pool(self) -> ProcessPoolExecutor:
        """The running pool; a new one has its workers started and imports done before any document's clock runs."""
        async with self._starting:
            if self._executor is None:
                executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=DOCUMENTS_PER_WORKER,
                    initializer=exit_with_parent,  # a SIGKILLed parse leaves no orphaned workers behind
                    initargs=(os.getpid(),),
                )
                warm_ups = [executor.submit(warm_up, self.function) for _ in range(self.workers)]
                await asyncio.wait_for(asyncio.gather(*map(asyncio.wrap_future, warm_ups)), STARTUP_SECONDS)
                self._executor = executor
            return self._executor

    async def run(self, *args: object) -> T:
        """The function's result; raises ``Rejected`` for the document's own failures, timeouts and crashes.

        The time limit counts from the submission: callers that run more
        documents at once than there are workers should allow for the wait.
        """
        while True:
            generation = self._generation
            future = (await self._pool()).submit(call_in_worker, self.function, *args)
            try:
                outcome = await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
                break
            except TimeoutError:
                self.recycle()
                raise Rejected("timeout", f"extraction took longer than {self.timeout:g}s") from None
            except BrokenProcessPool as exc:
                if generation != self._generation:
                    continue  # killed for another document's timeout: not this document's fault
                self.recycle()
                raise Rejected("worker-crashed", f"the extraction worker died on this document: {exc!r}") from None
        if isinstance(outcome, Rejection):
            raise Rejected(outcome.kind, outcome.message)
        return outcome

    def recycle(self) -> None:
        """Kill the workers (a stuck one cannot be asked to stop) and start afresh on the next call."""
        executor, self._executor = self._executor, None
        self._generation += 1
        if executor is None:
            return
        processes = list(executor._processes.values())  # no public API kills a running worker
        for process in processes:
            process.kill()
        executor.shutdown(wait=False)  # its pending calls fail with BrokenProcessPool and run again
        for process in processes:
            process.join(timeout=5)
        log.warning("extraction workers recycled", killed=len(processes))

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
