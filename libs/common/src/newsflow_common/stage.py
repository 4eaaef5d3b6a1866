"""What a stage is: its inputs, its transform, its sink. The runtime (:mod:`newsflow_common.runtime`) does the rest.

A stage subclass says only what is special about it: which topics it reads (and their models), what each
record becomes, and where the outputs go (Kafka topics by default, Elasticsearch for index). Consuming,
dead letters, retries, bookkeeping and commits are written once, in the runtime.
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from newsflow_common.dlq import Rejected
from newsflow_schemas import Message, decode, header

In = TypeVar("In", bound=Message)
Output = tuple[str, Message]
"""Where a message goes (a topic, or a sink's destination) and the message."""
Outputs = Sequence[Output]
Result = Outputs | BaseException
"""One input's outputs, or what it raised (a Rejected, or anything else: the record's own failure)."""

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
        """A record from a consumed aiokafka message (headers as pairs or as a mapping)."""
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


def source_of(message: object) -> str:
    """The configured source name a message carries, for the ledger's labels."""
    source = getattr(message, "source", None)
    return source if isinstance(source, str) and source else UNKNOWN_SOURCE


class Stage(ABC, Generic[In]):
    """One step of the pipeline, run by the runtime; a subclass overrides what is special about it."""

    name: ClassVar[str]
    """The service and its consumer group (``newsflow-<name>``), in metrics and logs."""
    inputs: ClassVar[Mapping[str, type[Message]]]
    """The topics it reads and the model of each."""
    batch_size: int = 64
    """Records taken at once: their transforms overlap (worker pools), their outputs are acked together."""

    async def start(self) -> None:
        """Load models, start worker pools: before the first record (retried while the broker is away)."""

    async def close(self) -> None:
        """Stop worker pools: after the last commit."""

    async def transform(self, messages: Sequence[In]) -> Sequence[Result]:
        """Each message's outputs, in order, or the exception it raised. By default one at a time, overlapping."""
        return await asyncio.gather(*(self.transform_one(message) for message in messages), return_exceptions=True)

    async def transform_one(self, message: In) -> Outputs:
        """One message's outputs as (topic, message); raise Rejected (or anything) for a bad input."""
        raise NotImplementedError

    async def after_batch(self) -> Outputs:
        """Outputs that belong to no single input (windows the batch closed), acked before the commit."""
        return []

    async def assigned(self, partitions: Sequence[tuple[str, int]]) -> None:
        """Partitions given to this replica (a stateful stage restores their state here)."""

    async def state_writes(self, producer: AIOKafkaProducer) -> None:
        """Make the state changes of the batch durable; runs after the outputs were acked, before the commit."""

    def ledger_outcome(self, record: Record) -> str | None:
        """The ledger's outcome for an input whose outputs went out ('indexed' for index); None: not counted."""
        return "out"
