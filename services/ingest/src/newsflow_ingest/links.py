"""Consume news.links.v1 (article URLs parse found on listing pages) and fetch each link like a feed item.

An aiokafka consumer with static membership; a batch's links are fetched concurrently (the Fetcher
keeps each host polite), and the offsets are committed only after every output was acknowledged.
A link that is not a valid LinkToFetch, or that cannot be fetched and has no summary to send
instead, goes to news.links.v1.dlq with the reason.
"""

from __future__ import annotations

import asyncio

from aiokafka.errors import CommitFailedError

from newsflow_common import kafka
from newsflow_common.dlq import Rejected
from newsflow_common.health import Health
from newsflow_common.logs import get_logger, trace
from newsflow_common.metrics import MESSAGES_IN
from newsflow_common.retry import retry_forever
from newsflow_common.stage import Record, decode_record, reject_record
from newsflow_ingest.ingestor import SERVICE
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import LINKS, LinkToFetch

BATCH = 64
log = get_logger(__name__)


async def consume_links(settings: IngestSettings, pages: PageIngest, stop: asyncio.Event, health: Health) -> None:
    """Fetch the links of news.links.v1 until ``stop``; the batch in hand is finished and committed."""
    consumer = kafka.consumer(settings, SERVICE, LINKS)
    await retry_forever(consumer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="consume")
    health.ok("links")
    log.info("consuming links", topic=LINKS)
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            records = [Record.of(message) for messages in batches.values() for message in messages]
            if not records:
                continue
            await asyncio.gather(*(handle_link(record, pages) for record in records))
            try:
                await consumer.commit()
            except CommitFailedError as exc:  # a rebalance raced the commit: the links come again (at least once)
                log.warning("commit failed, links will be fetched again", error=str(exc))
    finally:
        await consumer.stop()


async def handle_link(record: Record, pages: PageIngest) -> None:
    """Fetch and send one link, or dead-letter it with the reason."""
    MESSAGES_IN.labels(SERVICE, record.topic).inc()
    with trace(record.trace_id, offset=record.offset, partition=record.partition):
        try:
            link = decode_record(record, LinkToFetch)
            await pages.ingest_url(
                link.url, source=link.source, hints=link.hints, found_on=link.found_on, trace_id=link.trace_id
            )
        except Rejected as exc:
            topic, letter = reject_record(record, SERVICE, exc.kind, str(exc))
            await pages.ingestor.send(topic, letter)
