"""The ingest service: one-shot over files, or long-running over any mix of sources.

Long-running, it watches a folder, polls feeds and sitemaps, serves the push API and consumes
news.links.v1, all in one event loop with one producer and one seen-before store, until SIGTERM.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer

from newsflow_common import kafka
from newsflow_common.health import Health, start_http
from newsflow_common.lifecycle import shutdown_event
from newsflow_common.logs import get_logger
from newsflow_common.retry import retry_forever
from newsflow_common.runtime import Runtime, until_stopped
from newsflow_ingest.api import PushApi, start_api
from newsflow_ingest.feeds import FeedPoller
from newsflow_ingest.fetch import Fetcher
from newsflow_ingest.ingestor import SERVICE, Counts, Ingestor, watch_folder
from newsflow_ingest.links import LinksStage
from newsflow_ingest.pages import PageIngest
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.sitemaps import SitemapPoller
from newsflow_ingest.sources import load_sources

STOP_GRACE_SECONDS = 4.0
"""After SIGTERM, what each source holds has this long to finish (every service stops within 5 s)."""
log = get_logger(__name__)


class ConfigError(Exception):
    """The service cannot start as configured; the message says why."""


@dataclass(frozen=True)
class Sources:
    """What a long-running service takes in."""

    watch: Path | None = None
    feeds_file: Path | None = None
    api: bool = False
    links: bool = False

    @property
    def any(self) -> bool:
        return bool(self.watch or self.feeds_file or self.api or self.links)


async def start_producer(settings: IngestSettings) -> AIOKafkaProducer:
    producer = kafka.producer(settings, SERVICE)
    await retry_forever(producer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
    return producer


async def run_once(settings: IngestSettings, paths: list[Path]) -> Counts:
    """Send files and folders once; no seen-before check: what you name is sent (ids are stable)."""
    producer = await start_producer(settings)
    try:
        return await Ingestor(settings, producer, bulk=True).ingest_all(paths)
    finally:
        await producer.stop()


def api_token(settings: IngestSettings) -> str | None:
    """The push API's token; refuses to go on without one unless auth is explicitly switched off."""
    if settings.api_token is not None and settings.api_token.get_secret_value():
        return settings.api_token.get_secret_value()
    if settings.api_auth_disabled:
        log.warning("push API without authentication (NEWSFLOW_API_AUTH_DISABLED): for local use only")
        return None
    raise ConfigError("the push API needs NEWSFLOW_API_TOKEN (or NEWSFLOW_API_AUTH_DISABLED=true for local use)")


async def run_service(settings: IngestSettings, sources: Sources) -> None:
    """Run every configured source until SIGTERM; each finishes what it holds, then the producer flushes."""
    token = api_token(settings) if sources.api else None
    config = load_sources(sources.feeds_file) if sources.feeds_file else None
    stop = shutdown_event()
    health = Health(SERVICE)
    health.degraded("kafka", "connecting")
    runners: list[web.AppRunner] = [await start_http(health, settings.http_host, settings.http_port)]
    producer = kafka.producer(settings, SERVICE)
    connect = retry_forever(producer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
    if not await until_stopped(stop, connect):  # SIGTERM while the broker is still away: nothing to finish
        for runner in runners:
            await runner.cleanup()
        return
    health.ok("kafka")
    seen = SeenStore.open(settings.state_dir)
    fetcher = Fetcher(settings, SERVICE)
    ingestor = Ingestor(settings, producer, seen)
    pages = PageIngest(fetcher, ingestor)
    jobs: list[Coroutine[Any, Any, None]] = []
    if sources.watch:
        jobs.append(watch_folder(ingestor, seen, sources.watch, stop))
    if config:
        jobs += [FeedPoller(feed, fetcher, pages, seen).run(stop) for feed in config.feeds]
        max_age = timedelta(days=settings.sitemap_max_age_days)
        jobs += [SitemapPoller(sitemap, fetcher, pages, seen, max_age).run(stop) for sitemap in config.sitemaps]
    if sources.links:
        jobs.append(Runtime(LinksStage(pages), settings, health, producer).run(stop))
    try:
        if sources.api:
            api = PushApi(
                ingestor, fetcher.guard, token, settings.api_max_request_bytes, settings.api_send_timeout_seconds
            )
            runners.append(await start_api(api, settings.api_host, settings.api_port))
        tasks = [asyncio.create_task(job) for job in jobs]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
        stop.set()  # a source that failed stops the service: better a restart than a silent half service
        log.info("stopping", grace_seconds=STOP_GRACE_SECONDS)
        await _finish(tasks)
        for task in done - {stopping}:
            task.result()  # raises what failed
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        await fetcher.close()
        await producer.stop()  # flushes what is in flight
        seen.close()


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let each source finish what it holds; cancel what is still busy after the grace period."""
    if not tasks:
        return
    _, busy = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
    for task in busy:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
