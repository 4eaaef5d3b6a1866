"""What ``newsflow status`` and ``newsflow ledger`` gather: consumer lag, DLQ sizes, the services' health and
rates, and the ledger's facts read from the topics and Elasticsearch.

Reading the ledger's facts reads whole topics and scrolls the whole article index: O(everything retained).
Fine for an ops check; on a large cluster narrow it with ``--source`` (the filter applies after reading
Kafka, before reading Elasticsearch).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import aiohttp
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from elasticsearch import AsyncElasticsearch
from prometheus_client.parser import text_string_to_metric_families

from newsflow_common import kafka
from newsflow_common.progress import Progress
from newsflow_common.settings import Settings
from newsflow_ops.ledger import LEDGER_TOPICS, Fact, Indexed, facts_of
from newsflow_schemas import ANALYSED, ARTICLES, ENRICHED, LINKS, RAW, TRENDS, registry

GROUPS = {
    "newsflow-parse": [RAW],
    "newsflow-enrich": [ARTICLES],
    "newsflow-enrich-state": [ANALYSED],
    "newsflow-index": [ENRICHED, TRENDS],
}
"""The consumer groups of the pipeline and the topics each reads; ingest's (links) is shown when it exists."""
OPTIONAL_GROUPS = {"newsflow-ingest": [LINKS]}
DEFAULT_SERVICES = {
    name: f"http://127.0.0.1:{port}"
    for name, port in [("ingest", 8001), ("parse", 8002), ("enrich", 8003), ("index", 8004)]
}
"""Where ``make run`` starts the services (/healthz and /metrics)."""
RATES = {"in": "newsflow_messages_in_total", "out": "newsflow_messages_out_total"}
TOTALS = {
    **RATES,
    "errors": "newsflow_errors_total",
    "dead_letters": "newsflow_dead_letters_total",
    "retries": "newsflow_retries_total",
}
ES_PAGE = 1000


@dataclass(frozen=True)
class Lag:
    group: str
    topic: str
    lag: int
    """End offsets minus committed offsets, summed over partitions (an uncommitted partition counts from its start)."""
    partitions: int


@dataclass
class ServiceStatus:
    name: str
    url: str
    health: str
    """ok, degraded, or unreachable."""
    checks: dict[str, str] = field(default_factory=dict)
    totals: dict[str, float] = field(default_factory=dict)
    per_second: dict[str, float] = field(default_factory=dict)


def offsets_reader(settings: Settings) -> AIOKafkaConsumer:
    """A consumer with no group: it reads offsets and whole topics, and commits nothing."""
    return AIOKafkaConsumer(
        **kafka.connection_kwargs(settings),
        client_id="newsflow-ops",
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=settings.kafka_max_request_bytes,
    )


def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions, from the metadata the client fetched when it started (none: no such topic)."""
    return [TopicPartition(topic, partition) for partition in sorted(consumer.partitions_for_topic(topic) or ())]


async def group_lags(settings: Settings, consumer: AIOKafkaConsumer) -> list[Lag]:
    admin = AIOKafkaAdminClient(**kafka.connection_kwargs(settings), client_id="newsflow-ops")
    await admin.start()
    try:
        existing = {group for group, *_ in await admin.list_consumer_groups()}
        groups = GROUPS | {g: topics for g, topics in OPTIONAL_GROUPS.items() if g in existing}
        lags = []
        for group, topics in groups.items():
            committed = await admin.list_consumer_group_offsets(group) if group in existing else {}
            for topic in topics:
                partitions = partitions_of(consumer, topic)
                end = await consumer.end_offsets(partitions)
                start = await consumer.beginning_offsets(partitions)
                behind = sum(end[tp] - committed_or_start(committed, start, tp) for tp in partitions)
                lags.append(Lag(group, topic, behind, len(partitions)))
        return lags
    finally:
        await admin.close()


def committed_or_start(
    committed: dict[TopicPartition, Any], start: dict[TopicPartition, int], tp: TopicPartition
) -> int:
    """Where the group resumes a partition: its committed offset, else the partition's first record."""
    offset = committed[tp].offset if tp in committed else -1
    return int(offset) if offset >= 0 else start[tp]


async def dlq_sizes(consumer: AIOKafkaConsumer) -> dict[str, int]:
    """Records held by each DLQ (end minus start offsets: what retention has not yet deleted)."""
    sizes = {}
    for topic in sorted(t.name for t in registry().values() if t.model == "DeadLetter"):
        partitions = partitions_of(consumer, topic)
        end, start = await consumer.end_offsets(partitions), await consumer.beginning_offsets(partitions)
        sizes[topic] = sum(end[tp] - start[tp] for tp in partitions)
    return sizes


async def read_topic(
    consumer: AIOKafkaConsumer, topic: str, partitions: list[TopicPartition]
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``partitions`` from the start to the end they had when asked, with a progress line."""
    if not partitions:
        return
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    end = await consumer.end_offsets(partitions)
    start = await consumer.beginning_offsets(partitions)
    progress = Progress(f"read {topic}", total=sum(end[tp] - start[tp] for tp in partitions))
    while pending := [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
        for tp, messages in (await consumer.getmany(*pending, timeout_ms=500)).items():
            for message in messages:
                if message.offset < end[tp]:
                    yield message
            progress.advance(len(messages))
    if progress.total:
        progress.finish()


async def read_facts(
    settings: Settings, consumer: AIOKafkaConsumer, client: AsyncElasticsearch, alias: str, source: str | None
) -> list[Fact]:
    """The ledger's facts: every record of the ledger topics, and the articles Elasticsearch holds."""
    facts: list[Fact] = []
    # Partitions first: once a consumer is assigned partitions, its metadata covers only their topics.
    layout = {topic: partitions_of(consumer, topic) for topic in LEDGER_TOPICS}
    for topic, partitions in layout.items():
        async for record in read_topic(consumer, topic, partitions):
            facts += [f for f in facts_of(topic, record.value, list(record.headers)) if source in (None, f.source)]
    return facts + await indexed_facts(client, alias, source)


async def indexed_facts(client: AsyncElasticsearch, alias: str, source: str | None) -> list[Fact]:
    """Every article in the index (of one source), a page at a time (search_after on the unique article_id)."""
    lenient = client.options(ignore_status=404)  # no index yet: nothing indexed
    await lenient.indices.refresh(index=alias)
    query = {"term": {"source": source}} if source else {"match_all": {}}
    facts: list[Fact] = []
    after: list[Any] | None = None
    while True:
        response = await lenient.search(
            index=alias,
            query=query,
            sort=[{"article_id": "asc"}],
            source_includes=["article_id", "doc_id", "source", "parsed_at"],
            size=ES_PAGE,
            search_after=after,
        )
        hits = response.body.get("hits", {}).get("hits", []) if response.meta.status == 200 else []
        for hit in hits:
            doc = hit["_source"]
            at = datetime.fromisoformat(doc["parsed_at"])
            facts.append(Indexed(doc["article_id"], doc.get("doc_id", ""), doc["source"], at))
        if len(hits) < ES_PAGE:
            return facts
        after = hits[-1]["sort"]


async def service_status(session: aiohttp.ClientSession, name: str, url: str, interval: float) -> ServiceStatus:
    """A service's /healthz, its counters' totals and, over ``interval`` seconds, their rates."""
    try:
        async with session.get(f"{url}/healthz") as response:
            body = await response.json(content_type=None)
        first = await scrape(session, url)
        if interval > 0:
            await asyncio.sleep(interval)  # two samples make a rate; the caller chose how long to look
        second = await scrape(session, url) if interval > 0 else first
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return ServiceStatus(name, url, "unreachable", {"http": type(exc).__name__})
    rates = {k: (second[k] - first[k]) / interval for k in RATES} if interval > 0 else {}
    return ServiceStatus(name, url, str(body.get("status", "?")), dict(body.get("checks", {})), second, rates)


async def scrape(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The sums of the counters in TOTALS, from a service's /metrics."""
    async with session.get(f"{url}/metrics") as response:
        text = await response.text()
    sums = dict.fromkeys(TOTALS, 0.0)
    wanted = {sample: key for key, sample in TOTALS.items()}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in wanted:
                sums[wanted[sample.name]] += sample.value
    return sums


async def services_status(services: dict[str, str], interval: float) -> list[ServiceStatus]:
    timeout = aiohttp.ClientTimeout(total=3 + interval)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        return list(await asyncio.gather(*(service_status(session, n, u, interval) for n, u in services.items())))


def as_rows(items: list[Lag] | list[ServiceStatus]) -> list[dict[str, Any]]:
    return [asdict(item) for item in items]
