"""The parse stage: one raw document in, its article(s) out, or a listing page's links for ingest to fetch."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import ClassVar

from newsflow_common.pool import WorkerPool
from newsflow_common.stage import Outputs, Stage
from newsflow_parse.extract import Output, extract
from newsflow_parse.metrics import ARTICLES_BY_EXTRACTOR, LISTING_PAGES
from newsflow_parse.settings import ParseSettings
from newsflow_schemas import ARTICLES, LINKS, RAW, Article, Message, RawDocument


class ParseStage(Stage[RawDocument]):
    name = "parse"
    inputs: ClassVar[Mapping[str, type[Message]]] = {RAW: RawDocument}

    def __init__(self, settings: ParseSettings | None = None) -> None:
        self.settings = settings or ParseSettings()
        self.pool: WorkerPool[list[Output]] | None = None

    async def start(self) -> None:
        # CPU work with a time limit, in worker processes: heartbeats and health keep answering meanwhile.
        if self.pool is None:  # start() is retried while the broker is away
            workers = self.settings.parse_workers or self.settings.workers or None
            self.pool = WorkerPool(extract, self.settings.parse_timeout_seconds, workers)
        await self.pool.warm_up()
        self.batch_size = 4 * self.pool.workers  # enough to keep every worker busy, few to redo after a crash

    async def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    async def transform_one(self, message: RawDocument) -> Outputs:
        assert self.pool is not None, "start() first"
        outputs = await self.pool.run(message, datetime.now(UTC))
        for output in outputs:
            if isinstance(output, Article):
                ARTICLES_BY_EXTRACTOR.labels(output.extractor).inc()
        if outputs and not isinstance(outputs[0], Article):
            LISTING_PAGES.inc()
        return routed(outputs)


def routed(outputs: Sequence[Message]) -> Outputs:
    return [(ARTICLES if isinstance(output, Article) else LINKS, output) for output in outputs]
