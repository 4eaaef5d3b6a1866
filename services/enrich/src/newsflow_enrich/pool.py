"""Analysis off the event loop: a pool of spawned processes, each loading the models once.

A batch is split into one chunk per worker (balanced by text length) so every core runs nlp.pipe on its
share. A worker that dies (out of memory on a pathological article) breaks the pool: it is replaced and the
batch's articles are tried one by one, so only the article that kills a worker again is rejected.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

from newsflow_common.dlq import Rejected
from newsflow_common.lifecycle import exit_with_parent
from newsflow_common.logs import get_logger
from newsflow_enrich.analysis import Analysis, Options, analyse_batch, warm_up
from newsflow_schemas import Article

log = get_logger(__name__)


def _start_worker(service_pid: int) -> None:
    """A worker's initializer: exit with the service (a SIGKILLed one cannot shut its pool down), load models."""
    exit_with_parent(service_pid)
    warm_up()


def chunks(articles: Sequence[Article], count: int) -> list[list[int]]:
    """Indexes of the articles in ``count`` groups of about equal text length (longest first, greedy)."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(count, len(articles))))]
    sizes = [0] * len(groups)
    for index in sorted(range(len(articles)), key=lambda i: -len(articles[i].body)):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(index)
        sizes[smallest] += len(articles[index].body) + len(articles[index].title)
    return [sorted(group) for group in groups if group]


class AnalysisPool:
    """``await pool.analyse(articles)`` -> one Analysis (or Rejected) per article, in order."""

    def __init__(self, options: Options, workers: int = 0) -> None:
        self.options = options
        self.workers = workers or os.cpu_count() or 1
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, mp_context=get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),)
        )

    def start_workers(self) -> None:
        """Start every worker now (each loads its models as it starts), without waiting for them."""
        for _ in range(self.workers):
            self._executor.submit(warm_up)

    async def warm_up(self) -> None:
        """Start every worker and wait until each has loaded its models."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, warm_up) for _ in range(self.workers)))

    async def analyse(self, articles: Sequence[Article]) -> list[Analysis | Rejected]:
        try:
            return list(await self._analyse(articles))
        except BrokenProcessPool:
            log.warning("analysis worker died; retrying the batch one article at a time", size=len(articles))
            self._restart()
            return [await self._analyse_alone(article) for article in articles]

    async def _analyse(self, articles: Sequence[Article]) -> list[Analysis]:
        loop = asyncio.get_running_loop()
        groups = chunks(articles, self.workers)
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(self._executor, analyse_batch, [articles[i] for i in group], self.options)
                for group in groups
            )
        )
        results: dict[int, Analysis] = {}
        for group, part in zip(groups, parts, strict=True):
            results.update(zip(group, part, strict=True))
        return [results[i] for i in range(len(articles))]

    async def _analyse_alone(self, article: Article) -> Analysis | Rejected:
        try:
            return (await self._analyse([article]))[0]
        except BrokenProcessPool:
            self._restart()
            return Rejected("worker-died", "the analysis worker died on this article (out of memory?)")

    def _restart(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


class InlineAnalysis:
    """The same interface in a thread of this process: for tests and single-core runs."""

    def __init__(self, options: Options) -> None:
        self.options = options

    async def warm_up(self) -> None:
        await asyncio.to_thread(warm_up)

    async def analyse(self, articles: Sequence[Article]) -> list[Analysis | Rejected]:
        return list(await asyncio.to_thread(analyse_batch, articles, self.options))

    def close(self) -> None:
        pass
