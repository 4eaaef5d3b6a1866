"""The index stage: enriched articles and trends into Elasticsearch, on the runtime with a bulk sink.

The runtime commits a batch only after Elasticsearch acknowledged it, so a crash replays at most one batch,
and replays overwrite by ``_id`` (articles only with a version at least as new, decision 004). While
Elasticsearch is away the runtime retries with backoff, pauses the partitions and reports degraded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiokafka import AIOKafkaProducer
from elasticsearch import AsyncElasticsearch

from newsflow_common import es
from newsflow_common.cli import parse_command_line
from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_common.metrics import ES_BULK_SECONDS
from newsflow_common.runtime import Refusal, Sink, run_service
from newsflow_common.stage import Outputs, Record, Stage
from newsflow_index.bulk import Action, bulk_once, latest_versions, plan_moves
from newsflow_index.metrics import STALE_VERSIONS
from newsflow_index.routing import article_index, article_version
from newsflow_index.settings import IndexSettings
from newsflow_schemas import ENRICHED, TRENDS, EnrichedArticle, Message, TrendCount

SERVICE = "index"
log = get_logger(__name__)


class IndexStage(Stage[Message]):
    name = SERVICE
    inputs: ClassVar[Mapping[str, type[Message]]] = {ENRICHED: EnrichedArticle, TRENDS: TrendCount}

    def __init__(self, settings: IndexSettings) -> None:
        self.settings = settings
        self.batch_size = settings.batch_size

    async def transform_one(self, message: Message) -> Outputs:
        """Where the document goes: its monthly index (an article) or the trends alias; a date no month can
        hold (year 1 in UTC, past 9999) raises here, so that record alone is dead-lettered."""
        if isinstance(message, EnrichedArticle):
            article_version(message)
            return [(article_index(self.settings.articles_alias, message), message)]
        return [(self.settings.trends_alias, message)]

    def ledger_outcome(self, record: Record) -> str | None:
        """Articles only: trends are not stories (a 409, an older version, counts as indexed: the article is)."""
        return "indexed" if record.topic == ENRICHED else None


class ElasticsearchSink(Sink):
    """Bulk requests bounded by bytes; a document Elasticsearch refuses for itself goes back for the DLQ."""

    def __init__(self, settings: IndexSettings, client: AsyncElasticsearch) -> None:
        self.settings, self.client = settings, client

    async def write(
        self, outputs: Sequence[Outputs], records: Sequence[Record], producer: AIOKafkaProducer, service: str
    ) -> list[Refusal]:
        actions, superseded = latest_versions(
            [self.action(index, message, records[i], i) for i, outs in enumerate(outputs) for index, message in outs]
        )
        stale = superseded
        refusals: list[Refusal] = []
        for chunk in chunks(actions, self.settings.batch_bytes):
            planned, dropped = await plan_moves(self.client, self.settings.articles_alias, chunk)
            started = time.perf_counter()
            outcome = await bulk_once(self.client, planned)
            ES_BULK_SECONDS.labels(SERVICE).observe(time.perf_counter() - started)
            refusals += [
                Refusal(r.action.position, Rejected(f"elasticsearch-{r.status}", r.error)) for r in outcome.refused
            ]
            stale += dropped + outcome.stale
        STALE_VERSIONS.labels(SERVICE).inc(stale)
        log.info("indexed batch", documents=len(actions), refused=len(refusals), stale=stale)
        return refusals

    @staticmethod
    def action(index: str, message: Message, record: Record, position: int) -> Action:
        version = article_version(message) if isinstance(message, EnrichedArticle) else None
        return Action(index, message.key(), source(message), record, version, position)


INDEXED_BODY_CHARS = 400_000
"""The index holds at most this much of a body; the whole text stays on news.enriched.v1. Elasticsearch refuses
to highlight a field longer than index.highlight.max_analyzed_offset (a million UTF-16 units: 400,000
characters of any kind fit) and fails the whole search: one 2 MB body broke every search that matched it."""


def source(message: Message) -> dict[str, Any]:
    document = message.model_dump(mode="json")
    if isinstance(document.get("body"), str):
        document["body"] = document["body"][:INDEXED_BODY_CHARS]
    document["indexed_at"] = datetime.now(UTC).isoformat()
    return document


def chunks(actions: Sequence[Action], max_bytes: int) -> Iterator[list[Action]]:
    """Split a batch so no bulk request carries more than ``max_bytes`` of documents (roughly)."""
    chunk: list[Action] = []
    size = 0
    for action in actions:
        length = len(action.record.value or b"")
        if chunk and size + length > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(action)
        size += length
    if chunk:
        yield chunk


def main() -> None:
    description = (
        "The index stage: enriched articles and trend counts into Elasticsearch, committed after the bulk ack."
    )
    settings = parse_command_line("newsflow-index", description, IndexSettings, "newsflow-index")
    client = es.client(settings)
    run_service(SERVICE, settings, [IndexStage(settings)], {SERVICE: ElasticsearchSink(settings, client)})
