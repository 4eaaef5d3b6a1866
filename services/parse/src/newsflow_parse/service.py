"""The parse stage: one raw document in, its article(s) out, or a listing page's links for ingest to fetch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from newsflow_common.stage import Stage
from newsflow_parse.extract import Output, extract
from newsflow_parse.metrics import ARTICLES_BY_EXTRACTOR, LISTING_PAGES
from newsflow_parse.pool import WorkerPool
from newsflow_parse.settings import ParseSettings
from newsflow_schemas import ARTICLES, LINKS, RAW, Article, Message, RawDocument


class ParseStage(Stage[RawDocument]):
    service = "parse"
    input_topic = RAW

    def __init__(self, settings: ParseSettings | None = None) -> None:
        settings = settings or ParseSettings()
        # CPU work with a time limit: in worker processes, so heartbeats and health keep answering.
        self.pool: WorkerPool[list[Output]] = WorkerPool(
            extract, settings.parse_timeout_seconds, settings.parse_workers
        )
        self.concurrency = self.pool.workers  # one document per worker at a time: each is timed from its start

    @property
    def input_model(self) -> type[RawDocument]:
        return RawDocument

    async def transform(self, message: RawDocument) -> Sequence[tuple[str, Message]]:
        outputs = await self.pool.run(message, datetime.now(UTC))
        for output in outputs:
            if isinstance(output, Article):
                ARTICLES_BY_EXTRACTOR.labels(output.extractor).inc()
        if outputs and not isinstance(outputs[0], Article):
            LISTING_PAGES.inc()
        return [(ARTICLES if isinstance(output, Article) else LINKS, output) for output in outputs]
