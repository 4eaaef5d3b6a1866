"""Run a stage's batch through the real runtime with a producer that records instead of sending.

For unit tests of stages and of the runtime's policies: no servers. What reaches Kafka for real is covered
by tests/integration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from newsflow_common.health import Health
from newsflow_common.runtime import Runtime, Sink
from newsflow_common.settings import Settings
from newsflow_common.stage import Record, Stage
from newsflow_schemas import Message, decode, registry


class RecordingProducer:
    """aiokafka's ``send`` as the runtime uses it; ``failures`` makes the next sends fail like a broker away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None]] = []
        self.failures: list[BaseException] = []

    async def send(self, topic: str, value: bytes | None, **_: Any) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            future.set_exception(self.failures.pop(0))
        else:
            self.sent.append((topic, value))
            future.set_result(None)
        return future

    def messages(self) -> list[tuple[str, Message]]:
        """What was sent to registered topics (not state changelogs), decoded with each topic's model."""
        topics = registry()
        return [(topic, decode(topics[topic].model_class, value)) for topic, value in self.sent if topic in topics]


async def run_batch(
    stage: Stage[Any], records: Sequence[Record], producer: RecordingProducer | None = None, sink: Sink | None = None
) -> RecordingProducer:
    """One batch through the runtime: decode, transform, outputs, dead letters, bookkeeping (no commit)."""
    producer = producer or RecordingProducer()
    runtime = Runtime(stage, Settings(), Health(stage.name), producer, sink)  # type: ignore[arg-type]
    await runtime.process(records)
    return producer
