"""A stream stage: decode one record, transform it, produce the outputs or a dead letter.

The transport (a faust agent, an aiokafka loop) only feeds records in and
provides ``send``; what a stage does is its ``transform``. A failure of the
record itself goes to the DLQ of the input topic; a failure of the surroundings
propagates out of ``send`` and is retried there, so nothing is dropped.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from newsflow_common.dlq import Rejected, dead_letter
from newsflow_common.logs import get_logger, trace
from newsflow_common.metrics import DEAD_LETTERS, ERRORS, LEDGER, MESSAGES_IN, MESSAGES_OUT, PROCESSING_SECONDS
from newsflow_schemas import Message, decode, dlq_of, header

In = TypeVar("In", bound=Message)
Send = Callable[[str, Message], Awaitable[None]]
"""Produce one message to a topic and wait for the ack; raises on a transient failure."""

log = get_logger(__name__)

UNKNOWN_SOURCE = "unknown"
"""The ledger's source of a message that could not be decoded."""
SOURCE_NAME_HEADER = "source-name"
"""Header naming the source of a dead letter that never reached a topic (ingest's refusals keep a locator)."""


@dataclass(frozen=True)
class Record:
    """A consumed Kafka record, independent of the client library."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    @classmethod
    def of(cls, message: Any) -> Record:
        """A record from a consumed message of aiokafka or faust (headers as pairs or as a mapping)."""
        headers = message.headers or []
        return cls(
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key,
            value=message.value,
            headers=list(headers.items()) if isinstance(headers, Mapping) else list(headers),
        )

    @cached_property
    def trace_id(self) -> str:
        """The producer's trace id; a record that has none gets a new one, the same on every read."""
        return header(self.headers, "trace-id") or uuid.uuid4().hex


def decode_record(record: Record, model: type[In]) -> In:
    """Decode a record's value as ``model``; an invalid one is Rejected with kind 'schema'."""
    try:
        return decode(model, record.value)
    except ValidationError as exc:
        raise Rejected("schema", f"not a valid {model.__name__}: {exc}") from exc


def reject_record(record: Record, service: str, kind: str, error: str) -> tuple[str, Message]:
    """The dead letter for a record, addressed to its topic's DLQ, counted and logged."""
    dlq = dlq_of(record.topic)
    DEAD_LETTERS.labels(service, dlq, kind).inc()
    ERRORS.labels(service, kind).inc()
    log.warning("dead-lettered", kind=kind, error=error[:300], topic=record.topic, offset=record.offset)
    letter = dead_letter(
        original=record.value or b"",
        stage=service,
        kind=kind,
        error=error,
        trace_id=record.trace_id,
        key=record.key,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return dlq, letter


def source_of(message: object) -> str:
    """The configured source name a message carries, for the ledger's labels."""
    source = getattr(message, "source", None)
    return source if isinstance(source, str) and source else UNKNOWN_SOURCE


def outcome_of(result: Sequence[tuple[str, Message]] | Rejected) -> str:
    """The ledger outcome of one input: its outputs went out, or it was dead-lettered for a kind."""
    return f"dead-letter:{result.kind}" if isinstance(result, Rejected) else "out"


def count_outcome(stage: str, message: object, outcome: str) -> None:
    """Count one input's fate by source (newsflow_ledger_total), once its outputs are acknowledged."""
    LEDGER.labels(stage, source_of(message), outcome).inc()


class Stage(ABC, Generic[In]):
    """One step of the pipeline: a subclass says only what is special about it."""

    service: str
    input_topic: str

    @property
    @abstractmethod
    def input_model(self) -> type[In]: ...

    @abstractmethod
    async def transform(self, message: In) -> Sequence[tuple[str, Message]]:
        """The outputs for one input as (topic, message); raise Rejected for a bad input."""

    concurrency: int = 1
    """How many records the transport hands to :meth:`handle_many` at once (their transforms overlap)."""

    async def handle(self, record: Record, send: Send) -> None:
        """Process one record to the end: its outputs acknowledged, or its dead letter."""
        await self.handle_many([record], send)

    async def handle_many(self, records: Sequence[Record], send: Send) -> None:
        """Process records to the end, transforms at once, outputs in record order: acknowledged or dead letters."""
        started = time.perf_counter()
        for record in records:
            MESSAGES_IN.labels(self.service, record.topic).inc()
        results = await asyncio.gather(*(self._traced_outputs(record) for record in records))
        for record, (decoded, outputs, outcome) in zip(records, results, strict=True):
            with trace(record.trace_id, offset=record.offset, partition=record.partition):
                for out_topic, message in outputs:
                    await send(out_topic, message)
                    MESSAGES_OUT.labels(self.service, out_topic).inc()
                count_outcome(self.service, decoded, outcome)
                log.info("processed", topic=record.topic, outputs=[topic for topic, _ in outputs])
        elapsed = time.perf_counter() - started
        for _ in records:
            PROCESSING_SECONDS.labels(self.service).observe(elapsed)

    async def _traced_outputs(self, record: Record) -> tuple[In | None, Sequence[tuple[str, Message]], str]:
        with trace(record.trace_id, offset=record.offset, partition=record.partition):
            return await self._outputs(record)

    async def _outputs(self, record: Record) -> tuple[In | None, Sequence[tuple[str, Message]], str]:
        """(the decoded input when it decoded, its outputs or dead letter, the ledger outcome)."""
        decoded = None
        try:
            decoded = decode_record(record, self.input_model)
            return decoded, await self.transform(decoded), "out"
        except Rejected as exc:
            return decoded, [reject_record(record, self.service, exc.kind, str(exc))], outcome_of(exc)
        except Exception as exc:  # a bug or a library failing on this input: keep it, move on
            log.exception("transform failed", topic=record.topic, offset=record.offset)
            error = f"{type(exc).__name__}: {exc}"
            return decoded, [reject_record(record, self.service, "unexpected", error)], "dead-letter:unexpected"
