"""Run a Stage as a faust-streaming agent, with static membership and a health server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, cast

import faust

from newsflow_common.health import Health, start_http
from newsflow_common.kafka import is_transient_kafka_error
from newsflow_common.logs import configure_logging, get_logger
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_common.stage import Record, Stage
from newsflow_schemas import Message, encode, headers

log = get_logger(__name__)

Guarantee = Literal["at_least_once", "exactly_once"]


def faust_app(settings: Settings, service: str, guarantee: Guarantee = "at_least_once") -> faust.App:
    """A faust app for one service; raw bytes in and out, our codec does the JSON."""
    credentials: Any = None
    if settings.kafka_sasl_mechanism and settings.kafka_sasl_username:
        password = settings.kafka_sasl_password.get_secret_value() if settings.kafka_sasl_password else ""
        credentials = faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=None,
        )
    elif settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        credentials = faust.SSLCredentials(cafile=settings.kafka_ssl_cafile)
    servers = ";".join(f"kafka://{server}" for server in settings.kafka_bootstrap_servers.split(","))
    return faust.App(
        f"newsflow-{service}",
        broker=servers,
        broker_credentials=credentials,
        consumer_group_instance_id=settings.instance_id(service),
        processing_guarantee=guarantee,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        store="memory://",
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_max_request_size=settings.kafka_max_request_bytes,
        consumer_max_fetch_size=settings.kafka_max_request_bytes,
        datadir=f"/tmp/newsflow-{service}-{settings.replica}",
    )


def run_stage(app: faust.App, stage: Stage[Any], settings: Settings) -> None:
    """Declare the agent that feeds ``stage`` and the task that serves /healthz and /metrics."""
    health = Health(stage.service)
    health.degraded("kafka", "starting")
    source = app.topic(stage.input_topic, key_type=bytes, value_type=bytes)

    async def send(topic: str, message: Message) -> None:
        async def produce_and_wait() -> None:
            delivery = await app.send(
                topic, key=message.key().encode(), value=encode(message), headers=headers(message, stage.service)
            )
            await delivery

        await retry_forever(
            produce_and_wait,
            transient=is_transient_kafka_error,
            service=stage.service,
            name=f"produce {topic}",
            on_failure=lambda exc: health.degraded("kafka", repr(exc)),
        )
        health.ok("kafka")

    @app.agent(source, name=f"{stage.service}-agent")
    async def process(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            record = Record(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                headers=list(message.headers or []),
            )
            await stage.handle(record, send)

    async def serve_health() -> None:
        await start_http(health, settings.http_host, settings.http_port)
        log.info("health server started", port=settings.http_port)

    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        health.ok("kafka")

    start_task = cast(Callable[[Callable[[], Awaitable[None]]], object], app.task)  # faust's decorator is untyped
    start_task(serve_health)
    app.on_partitions_assigned.connect(on_assigned)


def run_worker(stage: Stage[Any], settings: Settings, guarantee: Guarantee = "at_least_once") -> None:
    """Run a stage as a faust worker until SIGTERM/SIGINT (faust finishes the event in hand and commits)."""
    configure_logging(stage.service, settings.log_level)
    app = faust_app(settings, stage.service, guarantee)
    run_stage(app, stage, settings)
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.execute_from_commandline()
