"""The index service: consume enriched articles and trends, bulk-index them, then commit.

Offsets are committed only after Elasticsearch acknowledged the batch, so a
crash replays at most one batch, and replays overwrite by ``_id`` (articles
only with a version at least as new, decision 004). While Elasticsearch is
away the partitions are paused, the group membership is kept alive by polling
nothing, and /healthz says degraded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError
from elasticsearch import AsyncElasticsearch

from newsflow_common import es, kafka
from newsflow_common.dlq import Rejected
from newsflow_common.health import Health, start_http
from newsflow_common.lifecycle import shutdown_event
from newsflow_common.logs import configure_logging, get_logger, trace
from newsflow_common.metrics import BATCH_SIZE, CONSUMER_LAG, ES_BULK_SECONDS, LEDGER, MESSAGES_IN, MESSAGES_OUT
from newsflow_common.retry import retry_forever
from newsflow_common.stage import UNKNOWN_SOURCE, Record, decode_record, reject_record
from newsflow_index.bulk import Action, bulk_index, latest_versions, plan_moves
from newsflow_index.metrics import STALE_VERSIONS
from newsflow_index.routing import article_index, article_version
from newsflow_index.settings import IndexSettings
from newsflow_schemas import ENRICHED, TRENDS, EnrichedArticle, TrendCount

SERVICE = "index"
T = TypeVar("T")
log = get_logger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


def count_articles(actions: Iterable[Action], outcome: str) -> None:
    """The ledger's view of indexing: articles only (trends and the deletes of moved copies are not stories)."""
    for action in actions:
        if action.record.topic == ENRICHED and action.source is not None:
            LEDGER.labels(SERVICE, str(action.source.get("source") or UNKNOWN_SOURCE), outcome).inc()


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


class Indexer:
    def __init__(
        self,
        settings: IndexSettings,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        client: AsyncElasticsearch,
        health: Health,
    ) -> None:
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.client = client
        self.health = health
        self.paused = False

    async def run(self, stop: asyncio.Event) -> None:
        """Batch after batch until asked to stop; the batch in hand is finished and committed first."""
        while not stop.is_set():
            batch: Batch = await self.consumer.getmany(
                timeout_ms=int(self.settings.batch_seconds * 1000), max_records=self.settings.batch_size
            )
            if batch:
                await self.index_batch([Record.of(m) for messages in batch.values() for m in messages])
                await self.commit(batch)
            await self.report_lag()

    async def report_lag(self) -> None:
        """How far behind the end of each assigned partition we are (the highwater of the last fetch)."""
        for partition in self.consumer.assignment():
            highwater = self.consumer.highwater(partition)
            if highwater is not None:
                behind = max(0, highwater - await self.consumer.position(partition))
                CONSUMER_LAG.labels(SERVICE, partition.topic, str(partition.partition)).set(behind)

    async def index_batch(self, records: list[Record]) -> None:
        BATCH_SIZE.labels(SERVICE).observe(len(records))
        decoded: list[Action] = []
        for record in records:
            MESSAGES_IN.labels(SERVICE, record.topic).inc()
            try:
                decoded.append(self.action(record))
            except Rejected as exc:
                await self.dead_letter(record, exc.kind, str(exc))
        actions, superseded = latest_versions(decoded)
        count_articles(left_out(decoded, actions), "stale")
        stale = superseded
        for chunk in chunks(actions, self.settings.batch_bytes):
            planned, dropped = await self.until_done(self.plan(chunk))
            count_articles(left_out(chunk, planned), "stale")
            started = time.perf_counter()
            outcome = await self.until_done(
                bulk_index(self.client, planned, service=SERVICE, on_failure=self.es_failed)
            )
            ES_BULK_SECONDS.labels(SERVICE).observe(time.perf_counter() - started)
            self.es_back()
            for refusal in outcome.refused:
                kind = f"elasticsearch-{refusal.status}"
                await self.dead_letter(refusal.action.record, kind, refusal.error, refusal.action.source)
            refused = {id(refusal.action) for refusal in outcome.refused}
            for action in planned:
                if action.source is not None and id(action) not in refused:
                    MESSAGES_OUT.labels(SERVICE, action.index).inc()
            # A 409 (an older version than the indexed one) counts as indexed here: the article is in the index.
            count_articles((action for action in planned if id(action) not in refused), "indexed")
            stale += dropped + outcome.stale
        STALE_VERSIONS.labels(SERVICE).inc(stale)
        log.info("indexed batch", records=len(records), indexed=len(actions), stale=stale)

    def action(self, record: Record) -> Action:
        if record.topic == ENRICHED:
            article = decode_record(record, EnrichedArticle)
            index = article_index(self.settings.articles_alias, article)
            return Action(index, article.key(), self.source(article), record, article_version(article))
        trend = decode_record(record, TrendCount)
        return Action(self.settings.trends_alias, trend.key(), self.source(trend), record)

    @staticmethod
    def source(message: EnrichedArticle | TrendCount) -> dict[str, Any]:
        document = message.model_dump(mode="json")
        document["indexed_at"] = datetime.now(UTC).isoformat()
        return document

    async def plan(self, chunk: list[Action]) -> tuple[list[Action], int]:
        """Deletes of copies in another month's index, found with a retried lookup."""
        return await retry_forever(
            lambda: plan_moves(self.client, self.settings.articles_alias, chunk),
            transient=es.is_transient_es_error,
            service=SERVICE,
            name="elasticsearch lookup",
            on_failure=self.es_failed,
        )

    async def until_done(self, work: Awaitable[T]) -> T:
        """Await ``work``; while Elasticsearch is failing, poll the paused consumer so the group keeps us."""
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            if self.paused and not task.done():
                self.consumer.pause(*self.consumer.assignment())  # again: a rebalance may have assigned new ones
                for partition, messages in (await self.consumer.getmany(timeout_ms=0)).items():
                    self.consumer.seek(partition, messages[0].offset)  # not ours to take now: read them again later
        return task.result()

    async def dead_letter(self, record: Record, kind: str, error: str, document: dict[str, Any] | None = None) -> None:
        """Send a record to its DLQ; ``document`` is the decoded article, when it decoded (for the ledger's source)."""
        if record.topic == ENRICHED:
            source = str((document or {}).get("source") or UNKNOWN_SOURCE)
            LEDGER.labels(SERVICE, source, f"dead-letter:{kind}").inc()
        with trace(record.trace_id):
            dlq, letter = reject_record(record, SERVICE, kind, error)
            await retry_forever(
                lambda: kafka.send(self.producer, dlq, letter, SERVICE),
                transient=kafka.is_transient_kafka_error,
                service=SERVICE,
                name=f"produce {dlq}",
            )

    async def commit(self, batch: Batch) -> None:
        offsets = {tp: messages[-1].offset + 1 for tp, messages in batch.items()}
        try:
            await self.consumer.commit(offsets)
        except CommitFailedError as exc:  # a rebalance raced the commit: the records come again
            log.warning("commit failed; records will be redelivered", error=str(exc))

    def es_failed(self, exc: BaseException) -> None:
        """Backpressure: no new records while Elasticsearch cannot take the ones in hand."""
        self.health.degraded("elasticsearch", repr(exc)[:200])
        if not self.paused:
            self.paused = True
            self.consumer.pause(*self.consumer.assignment())
            log.warning("elasticsearch failing: consumption paused", error=repr(exc)[:200])

    def es_back(self) -> None:
        self.health.ok("elasticsearch")
        if self.paused:
            self.paused = False
            self.consumer.resume(*self.consumer.assignment())
            log.info("elasticsearch back: consumption resumed")


def left_out(before: Iterable[Action], after: Iterable[Action]) -> list[Action]:
    """The actions of ``before`` that are not in ``after`` (the same objects): older versions dropped."""
    kept = {id(action) for action in after}
    return [action for action in before if id(action) not in kept]


async def serve(settings: IndexSettings) -> None:
    stop = shutdown_event()
    health = Health(SERVICE)
    health.degraded("kafka", "starting")
    runner = await start_http(health, settings.http_host, settings.http_port)
    consumer = kafka.consumer(settings, SERVICE, ENRICHED, TRENDS)
    producer = kafka.producer(settings, SERVICE)
    client = es.client(settings)
    try:
        for start in (consumer.start, producer.start):
            await retry_forever(start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
        health.ok("kafka")
        health.ok("elasticsearch")
        log.info("indexing", topics=[ENRICHED, TRENDS], group=f"newsflow-{SERVICE}")
        await Indexer(settings, consumer, producer, client, health).run(stop)
    finally:
        await consumer.stop()
        await producer.stop()
        await client.close()
        await runner.cleanup()
        log.info("stopped")


def main() -> None:
    settings = IndexSettings()
    configure_logging(SERVICE, settings.log_level)
    asyncio.run(serve(settings))
