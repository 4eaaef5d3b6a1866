"""Run a Stage as a faust-streaming agent, with static membership and a health server.

Two shapes: a :class:`Stage` takes one record at a time (parse); a :class:`BatchStage` takes the records the
stream holds, up to ``batch_size`` or ``batch_seconds``, so CPU work can go to a process pool many at a time,
keeps its state in faust tables it declares, and may produce outputs that belong to no single input (closed
windows). Either way a record's offset is acked only after its outputs are acknowledged.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar, cast

import faust

from newsflow_common.dlq import Rejected
from newsflow_common.health import Health, start_http
from newsflow_common.kafka import is_transient_kafka_error, pace_empty_fetches
from newsflow_common.logs import configure_logging, get_logger, trace
from newsflow_common.metrics import MESSAGES_IN, MESSAGES_OUT, PROCESSING_SECONDS
from newsflow_common.offsets import OffsetGuard, catch_up, guard_offsets
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_common.stage import Record, Send, Stage, count_outcome, decode_record, outcome_of, reject_record
from newsflow_schemas import Message, encode, headers

log = get_logger(__name__)

Guarantee = Literal["at_least_once", "exactly_once"]
Outputs = Sequence[tuple[str, Message]]
In = TypeVar("In", bound=Message)


class BatchStage(Stage[In]):
    """A stage fed in batches, with state in faust tables; a subclass says what is special about it."""

    batch_size: int = 32
    batch_seconds: float = 0.5

    @abstractmethod
    async def transform_batch(self, messages: Sequence[In]) -> list[Outputs | Rejected]:
        """The outputs of each message, in order, or the Rejected that sends it to the DLQ."""

    def declare(self, app: faust.App) -> None:
        """Create the stage's tables on the app (once, before the worker starts)."""

    async def after_batch(self, send: Send) -> None:
        """Produce what belongs to no single input (e.g. windows the batch closed); runs before the acks."""

    async def transform(self, message: In) -> Outputs:
        result = (await self.transform_batch([message]))[0]
        if isinstance(result, Rejected):
            raise result
        return result

    async def handle_batch(self, records: Sequence[Record], send: Send) -> None:
        """Process records to the end: each one's outputs acknowledged, or its dead letter; then after_batch."""
        started = time.perf_counter()
        decoded: list[In | Rejected] = []
        for record in records:
            MESSAGES_IN.labels(self.service, record.topic).inc()
            try:
                decoded.append(decode_record(record, self.input_model))
            except Rejected as exc:
                decoded.append(exc)
        results = iter(await self._transform_all([m for m in decoded if not isinstance(m, Rejected)]))
        for record, item in zip(records, decoded, strict=True):
            result = item if isinstance(item, Rejected) else next(results)
            with trace(record.trace_id, offset=record.offset, partition=record.partition):
                outcome = outcome_of(result)
                if isinstance(result, Rejected):
                    result = [reject_record(record, self.service, result.kind, str(result))]
                for out_topic, message in result:
                    await send(out_topic, message)
                    MESSAGES_OUT.labels(self.service, out_topic).inc()
                count_outcome(self.service, None if isinstance(item, Rejected) else item, outcome)
                log.info("processed", topic=record.topic, outputs=[topic for topic, _ in result])
        await self.after_batch(send)
        for _ in records:
            PROCESSING_SECONDS.labels(self.service).observe((time.perf_counter() - started) / len(records))

    async def _transform_all(self, messages: list[In]) -> list[Outputs | Rejected]:
        if not messages:
            return []
        try:
            return await self.transform_batch(messages)
        except Exception as exc:  # a bug or a library failing on one input: find it, let the others through
            if len(messages) == 1:
                log.exception("transform failed")
                return [Rejected("unexpected", f"{type(exc).__name__}: {exc}")]
            log.warning("batch failed, retrying one by one", error=repr(exc), size=len(messages))
            return [result for message in messages for result in await self._transform_all([message])]


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
    pace_empty_fetches()  # faust consumes through aiokafka too
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
        topic_replication_factor=settings.kafka_replication_factor,
        producer_max_request_size=settings.kafka_max_request_bytes,
        producer_compression_type="gzip",  # news text compresses 3-4x: large articles stay under the broker's bound
        consumer_max_fetch_size=settings.kafka_max_request_bytes,
        datadir=f"/tmp/newsflow-{service}-{settings.replica}",
    )


def _sender(app: faust.App, service: str, health: Health) -> Send:
    """Produce one message and wait for its ack; a transient failure is retried, never dropped."""

    async def send(topic: str, message: Message) -> None:
        async def produce_and_wait() -> None:
            delivery = await app.send(
                topic, key=message.key().encode(), value=encode(message), headers=headers(message, service)
            )
            await delivery

        await retry_forever(
            produce_and_wait,
            transient=is_transient_kafka_error,
            service=service,
            name=f"produce {topic}",
            on_failure=lambda exc: health.degraded("kafka", repr(exc)),
        )
        health.ok("kafka")

    return send


def _serve_health(app: faust.App, health: Health, settings: Settings) -> None:
    async def serve_health() -> None:
        await start_http(health, settings.http_host, settings.http_port)
        log.info("health server started", port=settings.http_port)

    async def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        health.ok("kafka")

    start_task = cast(Callable[[Callable[[], Awaitable[None]]], object], app.task)  # faust's decorator is untyped
    start_task(serve_health)
    app.on_partitions_assigned.connect(on_assigned)


def run_stage(app: faust.App, stage: Stage[Any], settings: Settings, guard: OffsetGuard) -> None:
    """Declare the agent that feeds ``stage`` and the health task; take_events acks a batch once it is handled.

    A :class:`BatchStage` gets its tables and batches of ``batch_size``; another stage gets what is in hand, up
    to ``concurrency`` records (within: a lone record does not wait long for company).
    """
    health = Health(stage.service)
    health.degraded("kafka", "starting")
    source = app.topic(stage.input_topic, key_type=bytes, value_type=bytes)
    send = _sender(app, stage.service, health)
    handle: Callable[[Sequence[Record], Send], Awaitable[None]]
    if isinstance(stage, BatchStage):
        stage.declare(app)
        size, within, handle = stage.batch_size, stage.batch_seconds, stage.handle_batch
    else:
        size, within, handle = stage.concurrency, 0.05, stage.handle_many

    async def handle_all(records: list[Record]) -> None:
        for start in range(0, len(records), size):
            await handle(records[start : start + size], send)

    @app.agent(source, name=f"{stage.service}-agent")
    async def process(stream: faust.StreamT[bytes]) -> None:
        batches = stream.take_events(size, within=within)  # type: ignore[attr-defined]
        async for events in batches:  # StreamT's stub lacks take_events (faust-streaming 0.15)
            records = [Record.of(event.message) for event in events]
            await catch_up(guard, app.consumer, settings, records, handle_all)  # what faust skipped, first
            await handle(records, send)

    _serve_health(app, health, settings)


def run_worker(stage: Stage[Any], settings: Settings, guarantee: Guarantee = "at_least_once") -> None:
    """Run a stage as a faust worker until SIGTERM/SIGINT (faust finishes the event in hand and commits)."""
    configure_logging(stage.service, settings.log_level)
    guard = guard_offsets({stage.input_topic})  # faust can lose records after a restart: see offsets.py
    app = faust_app(settings, stage.service, guarantee)

    async def forget_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        guard.forget(args[0])  # the revoked partitions

    app.on_partitions_revoked.connect(forget_revoked)
    run_stage(app, stage, settings, guard)
    worker = faust.Worker(app, loglevel=settings.log_level, override_logging=False, quiet=True)
    worker.execute_from_commandline()
