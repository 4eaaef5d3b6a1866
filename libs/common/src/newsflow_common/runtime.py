"""The stage runtime: the one place that consumes. Every stage of every service runs on it.

    consume -> decode -> transform -> outputs to the sink -> dead letters -> bookkeeping -> commit

Written once, here:

- **The commit rule.** A batch's offsets are committed only after every output of every record in it, and
  every dead letter, was acknowledged (the produce ack, or Elasticsearch's bulk ack) and the stage's state
  changes were made durable. A crash replays at most the batch in hand; effects are idempotent.
- **The error policy.** A failure of the surroundings (broker or Elasticsearch away, 429/5xx, timeouts) is
  retried with backoff, forever: the partitions pause, ``/healthz`` says degraded, nothing is committed past
  it. *Anything else* raised while decoding or transforming a record, whatever its type, sends that record
  to its topic's DLQ with the error kind and a short traceback, and the stream moves on. A record whose
  worker process died is tried once more alone; if its worker dies again it goes to the DLQ as
  ``worker-died``.
- **The bookkeeping.** Messages in and out, dead letters and errors by kind, the ledger's outcome per input
  and source, processing time, consumer lag; every log line of a record carries its trace id.

Consumers use static membership (docs/decisions/002-static-membership.md) and manual commits; a commit
that races a rebalance fails and the records come again (at least once).
"""

from __future__ import annotations

import asyncio
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from newsflow_common import kafka
from newsflow_common.dlq import Rejected, dead_letter
from newsflow_common.health import Health, start_http
from newsflow_common.lifecycle import shutdown_event
from newsflow_common.logs import configure_logging, get_logger, trace
from newsflow_common.metrics import (
    BATCH_SIZE,
    CONSUMER_LAG,
    DEAD_LETTERS,
    ERRORS,
    LEDGER,
    MESSAGES_IN,
    MESSAGES_OUT,
    PROCESSING_SECONDS,
)
from newsflow_common.pool import WorkerDied, WorkerFailure
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_common.stage import UNKNOWN_SOURCE, Output, Outputs, Record, Result, Stage, decode_record, source_of
from newsflow_schemas import Message, dlq_of, encode, headers

T = TypeVar("T")
log = get_logger(__name__)

POLL_SECONDS = 0.003
IDLE_PAUSE_SECONDS = 0.097
"""How the runtime waits for records: a poll opens the partitions for POLL_SECONDS, and after an empty one
they rest (paused) for IDLE_PAUSE_SECONDS. aiokafka fetches in the background while partitions are open, and
the local stand-in answers a fetch at once instead of holding it (decision 001): an open idle consumer
fetched in a tight loop, most of a core (78% measured); resting it, 3%. It costs at most 0.1 s of latency
per stage; against a real broker, which holds fetches, the cycle sends ten fetches a second per idle consumer.
While a batch is processed the partitions with records left to fetch are open, so the next batch is fetched
meanwhile; the caught-up ones rest."""


def is_surroundings_failure(exc: BaseException) -> bool:
    """Broker or Elasticsearch away, overloaded or slow: retried, never dead-lettered.

    Only the clients' own errors count: a bare OSError or TimeoutError raised by a stage's code is about
    its record (a file, a page), and goes to the DLQ like any other exception.
    """
    if isinstance(exc, KafkaError):
        return kafka.is_transient_kafka_error(exc)
    return elasticsearch_away(exc)


def elasticsearch_away(exc: BaseException) -> bool:
    """Elasticsearch's transient errors, in a process that loaded its client: the others never import it
    (60 MB of memory and half a second of start-up in parse, enrich and ingest) and cannot meet its errors."""
    if "elastic_transport" not in sys.modules:
        return False
    from newsflow_common.es import is_transient_es_error

    return is_transient_es_error(exc)


@dataclass(frozen=True)
class Refusal:
    """A record the sink refused for a reason of its own (Elasticsearch's 400, a message too large)."""

    position: int
    """The record's position in the batch."""
    error: BaseException
    """Why: a Rejected with the sink's kind, or what the write raised."""


class Sink:
    """Where a stage's outputs go: Kafka topics by default (index: Elasticsearch)."""

    async def write(
        self, outputs: Sequence[Outputs], records: Sequence[Record], producer: AIOKafkaProducer, service: str
    ) -> list[Refusal]:
        """Write each record's outputs (``records[i]`` gave ``outputs[i]``; outputs past the records belong to
        none) and wait for the acks; returns the records refused for themselves; raises when the surroundings
        fail (the runtime retries)."""
        pending: list[tuple[int, asyncio.Future[Any]]] = []
        refused: list[Refusal] = []
        for position, record_outputs in enumerate(outputs):
            for topic, message in record_outputs:
                try:
                    value, key = encode(message), message.key().encode()
                    pending.append(
                        (position, await producer.send(topic, value, key=key, headers=headers(message, service)))
                    )
                except Exception as exc:  # too large, not encodable: this record's own fault
                    if is_surroundings_failure(exc):
                        raise
                    refused.append(Refusal(position, Rejected(f"kafka-{type(exc).__name__}", str(exc)[:500])))
        return refused + await acks(pending)


async def acks(pending: Sequence[tuple[int, asyncio.Future[Any]]]) -> list[Refusal]:
    """Wait for every produce ack; a record refused for itself is returned, a transient failure raised."""
    results = await asyncio.gather(*(future for _, future in pending), return_exceptions=True)
    refusals: dict[int, Refusal] = {}
    for (position, _), result in zip(pending, results, strict=True):
        if isinstance(result, BaseException):
            if is_surroundings_failure(result) or not isinstance(result, KafkaError):
                raise result
            refusals[position] = Refusal(position, Rejected(f"kafka-{type(result).__name__}", str(result)))
    return list(refusals.values())


@dataclass
class Consumed:
    """One record's way through a batch."""

    record: Record
    message: Message | None = None
    result: Result | None = None

    @property
    def outputs(self) -> Outputs:
        return self.result if isinstance(self.result, Sequence) else []


class Runtime:
    """Runs one stage: its consumer, the batches, the commits. ``await Runtime(...).run(stop)``."""

    def __init__(
        self,
        stage: Stage[Any],
        settings: Settings,
        health: Health,
        producer: AIOKafkaProducer,
        sink: Sink | None = None,
    ) -> None:
        self.stage, self.settings, self.health, self.producer = stage, settings, health, producer
        self.sink = sink or Sink()
        self.service = stage.name
        self._retrying = False
        self.newly_assigned: list[tuple[str, int]] | None = None
        """Partitions a rebalance gave, not yet told to the stage: it is told between batches, never in the
        middle of one (aiokafka runs the rebalance listener in a task of its own)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Batch after batch until ``stop``; the batch in hand is finished and committed first."""
        self.consumer = kafka.consumer(self.settings, self.service, *self.stage.inputs)
        await self.retrying("connect", self.connect)
        log.info("consuming", stage=self.service, topics=list(self.stage.inputs), group=f"newsflow-{self.service}")
        try:
            while not stop.is_set():
                try:
                    batch = await self.consumer.getmany(
                        timeout_ms=int(POLL_SECONDS * 1000), max_records=self.stage.batch_size
                    )
                except Exception as exc:
                    if is_surroundings_failure(exc):
                        raise
                    await self.step_past_unreadable(exc)
                    continue
                if not batch:
                    await self.rest(stop)
                    continue
                await self.handle(batch)
        finally:
            await self.consumer.stop()

    async def handle(self, batch: dict[TopicPartition, list[Any]]) -> None:
        records = [Record.of(message) for messages in batch.values() for message in messages]
        caught_up = await self.caught_up()
        self.consumer.pause(*caught_up)
        try:
            await self.while_polling(self.process(records))
        finally:
            self.consumer.resume(*(tp for tp in caught_up if tp in self.consumer.assignment()))
        await self.commit(records)

    async def caught_up(self) -> list[TopicPartition]:
        """Partitions with nothing left to fetch, as far as the last fetch told: while a batch is processed
        only the others stay open (to fetch the next batch), so a caught-up one is not fetched for nothing
        over and over (see POLL_SECONDS)."""
        caught_up = []
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None and await self.consumer.position(tp) >= highwater:
                caught_up.append(tp)
        return caught_up

    async def step_past_unreadable(self, error: Exception) -> None:
        """The client failed to parse what it fetched: a header key that is not UTF-8 fails aiokafka for the
        whole fetched batch, at every restart, and leaves its fetch state for the partition broken.

        With a fresh consumer, each partition is read one record at a time until the record that fails: the
        records before it are processed as usual, the failing one is dead-lettered as ``unreadable`` (its
        bytes cannot be read: the letter names topic, partition and offset), its offset committed past, and
        the consumer is made anew once more so nothing of the broken fetch remains.
        """
        log.warning("fetched records could not be parsed; finding the record", error=repr(error)[:300])
        await self.reconnect()
        for tp in sorted(self.consumer.assignment()):
            others = [p for p in self.consumer.assignment() if p != tp]
            self.consumer.pause(*others)
            try:
                while batch := await self.consumer.getmany(tp, timeout_ms=500, max_records=1):
                    await self.handle(batch)
            except Exception as exc:
                if is_surroundings_failure(exc):
                    raise
                await self.dead_letter_unreadable(tp, await self.consumer.position(tp), exc)
                await self.reconnect()
                return
            finally:
                self.consumer.resume(*(p for p in others if p in self.consumer.assignment()))
        log.warning("no unreadable record found on a second reading", error=repr(error)[:300])

    async def dead_letter_unreadable(self, tp: TopicPartition, offset: int, error: Exception) -> None:
        unreadable = Record(tp.topic, tp.partition, offset, None, None)
        MESSAGES_IN.labels(self.service, tp.topic).inc()
        reason = Rejected("unreadable", f"the Kafka client cannot parse this record: {error!r}"[:500])
        await self.dead_letters([Consumed(unreadable, result=reason)])
        LEDGER.labels(self.service, UNKNOWN_SOURCE, "dead-letter:unreadable").inc()
        await self.commit([unreadable])

    async def reconnect(self) -> None:
        """A new consumer in the group (static membership: the same partitions, at the committed offsets)."""
        await self.consumer.stop()
        self.consumer = kafka.consumer(self.settings, self.service, *self.stage.inputs)
        await self.retrying("connect", self.connect)

    async def connect(self) -> None:
        listener = _Assignments(self)
        self.consumer.subscribe(list(self.stage.inputs), listener=listener)
        await self.consumer.start()
        self.health.ok("kafka")

    async def rest(self, stop: asyncio.Event) -> None:
        """Nothing came: let the partitions rest a moment instead of fetching again at once."""
        partitions = self.consumer.assignment()
        self.consumer.pause(*partitions)
        try:
            await asyncio.wait_for(stop.wait(), IDLE_PAUSE_SECONDS)
        except TimeoutError:
            pass
        finally:
            self.consumer.resume(*(tp for tp in partitions if tp in self.consumer.assignment()))

    # -- one batch --------------------------------------------------------------------------------------

    async def process(self, records: Sequence[Record]) -> None:
        """A batch to the end: each record's outputs acknowledged or its dead letter, then the state."""
        if self.newly_assigned is not None:  # a stateful stage restores the state of what it now holds
            partitions, self.newly_assigned = self.newly_assigned, None
            await self.retrying("restore state", lambda: self.stage.assigned(partitions))
        started = time.perf_counter()
        BATCH_SIZE.labels(self.service).observe(len(records))
        consumed = [self.decode(record) for record in records]
        await self.transform([c for c in consumed if c.result is None])
        extra = await self.stage.after_batch()
        for refusal in await self.write([c.outputs for c in consumed] + [extra], list(records)):
            if refusal.position < len(consumed):
                consumed[refusal.position].result = refusal.error
            else:
                log.error("an output of no single record was refused", kind=describe(refusal.error)[0])
        await self.dead_letters(consumed)
        await self.retrying("write state", lambda: self.stage.state_writes(self.producer))
        self.count(consumed, extra)
        elapsed = time.perf_counter() - started
        for _ in records:
            PROCESSING_SECONDS.labels(self.service).observe(elapsed / len(records))

    async def write(self, outputs: list[Outputs], records: list[Record]) -> list[Refusal]:
        """The sink's write, retried while the surroundings fail; when it raises anything else for the
        batch, each record's outputs are written alone, and a record whose write raises is refused."""
        try:
            return await self.retrying(
                "write outputs", lambda: self.sink.write(outputs, records, self.producer, self.service)
            )
        except Exception as exc:
            if len(outputs) == 1:
                return [Refusal(0, exc)]
            log.warning("writing the batch failed; one record at a time", error=repr(exc)[:300])
        refused: list[Refusal] = []
        for position, record_outputs in enumerate(outputs):
            alone = await self.write([record_outputs], records[position : position + 1])
            refused += [Refusal(position, refusal.error) for refusal in alone]
        return refused

    def decode(self, record: Record) -> Consumed:
        MESSAGES_IN.labels(self.service, record.topic).inc()
        consumed = Consumed(record)
        try:
            consumed.message = decode_record(record, self.stage.inputs[record.topic])
        except Exception as exc:  # not JSON, the wrong schema, not UTF-8: the record's own fault
            consumed.result = exc
        return consumed

    async def transform(self, batch: list[Consumed]) -> None:
        """Each record's result; the surroundings' failures retried, a died worker's records tried alone."""
        if not batch:
            return
        results = await self.transform_all([c.message for c in batch])
        for consumed, result in zip(batch, results, strict=True):
            consumed.result = result
        for consumed in batch:
            if isinstance(consumed.result, WorkerDied):
                consumed.result = (await self.transform_all([consumed.message]))[0]
                if isinstance(consumed.result, WorkerDied):
                    consumed.result = Rejected("worker-died", f"its worker died twice: {consumed.result}")

    async def transform_all(self, messages: Sequence[Any]) -> Sequence[Result]:
        """The stage's transform; one that raises for the whole batch is asked again one message at a time."""
        try:
            return await self.retrying("transform", lambda: self.transform_once(messages))
        except Exception as exc:  # not the surroundings: find the record it belongs to
            if len(messages) == 1:
                return [exc]
            log.warning("batch failed; one record at a time", error=repr(exc)[:300], size=len(messages))
            return [r for message in messages for r in await self.transform_all([message])]

    async def transform_once(self, messages: Sequence[Any]) -> Sequence[Result]:
        """The results, unless one of them is a failure of the surroundings: then it is raised, to retry."""
        results = await self.stage.transform(messages)
        for result in results:
            if isinstance(result, BaseException) and is_surroundings_failure(result):
                raise result
        return results

    async def dead_letters(self, consumed: Sequence[Consumed]) -> None:
        """Every failed record to its topic's DLQ, with the reason; acked before the commit."""
        letters: list[list[Output]] = []
        for item in consumed:
            if isinstance(item.result, BaseException):
                letters.append([self.letter(item.record, item.result)])
        if letters:
            await self.retrying("write dead letters", lambda: Sink().write(letters, [], self.producer, self.service))

    def letter(self, record: Record, error: BaseException) -> Output:
        kind, message = describe(error)
        dlq = dlq_of(record.topic)
        DEAD_LETTERS.labels(self.service, dlq, kind).inc()
        ERRORS.labels(self.service, kind).inc()
        with trace(record.trace_id, offset=record.offset, partition=record.partition):
            log.warning("dead-lettered", kind=kind, error=message[:300], topic=record.topic)
        return dlq, dead_letter(
            original=record.value or b"",
            stage=self.service,
            kind=kind,
            error=message,
            trace_id=record.trace_id,
            key=record.key,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def count(self, consumed: Sequence[Consumed], extra: Outputs) -> None:
        for item in consumed:
            with trace(item.record.trace_id, offset=item.record.offset, partition=item.record.partition):
                outcome: str | None
                if isinstance(item.result, BaseException):
                    outcome = f"dead-letter:{describe(item.result)[0]}"
                else:
                    for topic, _ in item.outputs:
                        MESSAGES_OUT.labels(self.service, topic).inc()
                    outcome = self.stage.ledger_outcome(item.record)
                    log.debug("processed", topic=item.record.topic, outputs=[topic for topic, _ in item.outputs])
                if outcome is not None:
                    LEDGER.labels(self.service, source_of(item.message), outcome).inc()
        for topic, _ in extra:
            MESSAGES_OUT.labels(self.service, topic).inc()

    # -- commit, retries, membership ----------------------------------------------------------------------

    async def commit(self, records: Sequence[Record]) -> None:
        offsets: dict[TopicPartition, int] = {}
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            offsets[tp] = max(offsets.get(tp, 0), record.offset + 1)
        try:
            await self.retrying("commit", lambda: self.consumer.commit(offsets))
        except CommitFailedError as exc:  # a rebalance raced the commit: the records come again
            log.warning("commit failed; records will be redelivered", error=str(exc)[:300])
        for tp, position in offsets.items():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(max(0, highwater - position))

    async def retrying(self, name: str, operation: Callable[[], Awaitable[T]]) -> T:
        """``operation`` until it succeeds; the surroundings' failures wait with backoff (the partitions pause
        and /healthz says degraded meanwhile), anything else is raised."""
        result = await retry_forever(
            operation, transient=is_surroundings_failure, service=self.service, name=name, on_failure=self.failing
        )
        if self._retrying:
            self._retrying = False
            for check in ("kafka", "elasticsearch"):
                if check in self.health.checks:
                    self.health.ok(check)
        return result

    def failing(self, exc: BaseException) -> None:
        self.health.degraded(dependency_of(exc), repr(exc)[:200])
        self._retrying = True

    async def while_polling(self, work: Awaitable[None]) -> None:
        """Await ``work``; while it is held up by a retry, keep the group membership with empty polls.

        A consumer that does not poll for ``max.poll.interval.ms`` leaves its group; during a long outage
        the partitions are paused and polled for nothing, and what a poll brings anyway is sought back.
        """
        held = set(self.consumer.paused())  # the caller's: they stay paused
        task = asyncio.ensure_future(work)
        while not task.done():
            await asyncio.wait({task}, timeout=1.0)
            if self._retrying and not task.done():
                self.consumer.pause(*self.consumer.assignment())
                for partition, messages in (await self.consumer.getmany(timeout_ms=0)).items():
                    self.consumer.seek(partition, messages[0].offset)
        self.consumer.resume(*(self.consumer.assignment() - held))
        task.result()


class _Assignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Tells the stage which partitions it holds (a stateful stage restores their state first)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("partitions revoked", partitions=sorted(f"{tp.topic}:{tp.partition}" for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        partitions = sorted((tp.topic, tp.partition) for tp in assigned)
        log.info("partitions assigned", partitions=[f"{t}:{p}" for t, p in partitions])
        self.runtime.newly_assigned = partitions


def describe(error: BaseException) -> tuple[str, str]:
    """(the error kind, a message with a short traceback) for a dead letter."""
    if isinstance(error, Rejected):
        return error.kind, str(error)
    if isinstance(error, WorkerFailure):
        return f"unexpected:{error.kind}", str(error)
    kind = f"unexpected:{type(error).__name__}"
    frames = traceback.format_exception(type(error), error, error.__traceback__, limit=-4)
    return kind, f"{type(error).__name__}: {error}\n{''.join(frames)[-1500:]}"


def dependency_of(exc: BaseException) -> str:
    return "elasticsearch" if elasticsearch_away(exc) and not kafka.is_transient_kafka_error(exc) else "kafka"


STOP_GRACE_SECONDS = 4.0
"""After SIGTERM, the batch in hand has this long to finish and commit; then the service exits regardless
(what was not committed comes again). Compose's stop timeout is longer."""


async def serve(
    service: str, settings: Settings, stages: Sequence[Stage[Any]], sinks: dict[str, Sink] | None = None
) -> None:
    """Run ``stages`` in one process until SIGTERM/SIGINT: one health server, one producer, a runtime each."""
    stop = shutdown_event()
    health = Health(service)
    health.degraded("kafka", "starting")
    runner = await start_http(health, settings.http_host, settings.http_port)
    producer = kafka.producer(settings, service)
    try:
        if not await until_stopped(stop, start_all(producer, stages, service)):
            return
        runtimes = [Runtime(stage, settings, health, producer, (sinks or {}).get(stage.name)) for stage in stages]
        tasks = [asyncio.create_task(runtime.run(stop), name=f"{runtime.service}-runtime") for runtime in runtimes]
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        if stopping not in done:  # a runtime ended on its own: a bug; stop the others and say so
            stop.set()
        _, late = await asyncio.wait(tasks, timeout=STOP_GRACE_SECONDS)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for stage in stages:
            await stage.close()
        await producer.stop()
        await runner.cleanup()
        log.info("stopped", service=service)


async def start_all(producer: AIOKafkaProducer, stages: Sequence[Stage[Any]], service: str) -> None:
    """The producer connected and every stage started, each retried while the broker is away."""
    await retry_forever(producer.start, transient=is_surroundings_failure, service=service, name="connect")
    for stage in stages:
        await retry_forever(stage.start, transient=is_surroundings_failure, service=service, name="start")


async def until_stopped(stop: asyncio.Event, work: Awaitable[None]) -> bool:
    """Await ``work`` unless ``stop`` comes first (then it is cancelled): True when it finished."""
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([task, stopping], return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False
    task.result()
    return True


def run_service(
    service: str, settings: Settings, stages: Sequence[Stage[Any]], sinks: dict[str, Sink] | None = None
) -> None:
    """A service's ``main``: JSON logs, then :func:`serve` until SIGTERM."""
    configure_logging(service, settings.log_level)
    asyncio.run(serve(service, settings, stages, sinks))
