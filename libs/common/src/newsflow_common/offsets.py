"""Give a faust stage every input record, even those faust loses after a restart (found by ``make chaos``).

When a stage with state to recover (enrich) restarts with a backlog, faust-streaming 0.15 resumes the input
partitions before it seeks them to the committed offsets. Records fetched across that seek are lost on the
way to the agent (38 to 146 per partition in the chaos runs), and faust books the offsets it did not see as
a "gap", counts them as processed and commits past them: the articles were never enriched.

Our input topics have no gaps of their own (no transactions, no compaction), so a stage must get offsets
one after the other. :class:`OffsetGuard` checks that at the agent. At a jump, the stage first processes
the missing records, read again from Kafka with a plain consumer; only then is the range booked as done.
faust's own gap booking is switched off for the input topics, so nothing the stage did not process is
committed. A partition whose records were deleted by retention while the service was down shows up as a
jump too: reading it gives nothing, which is logged, and the range is booked.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.consumer import Consumer
from faust.types import TP

from newsflow_common.kafka import connection_kwargs
from newsflow_common.logs import get_logger
from newsflow_common.settings import Settings
from newsflow_common.stage import Record

log = get_logger(__name__)


@dataclass
class OffsetGuard:
    """Per input partition, the next offset the stage must get."""

    topics: frozenset[str]
    next: dict[TP, int] = field(default_factory=dict)

    def missing(self, tp: TP, offset: int, committed: int | None) -> range:
        """The offsets before this record that the stage never got (empty when none); the record is taken.

        Before the first record of a partition, the group's committed offset is the one expected. A record
        below the expected offset is a redelivery (faust sought back) and is followed.
        """
        if tp.topic not in self.topics:
            return range(0)
        expected = self.next.get(tp, committed)
        self.next[tp] = offset + 1
        if expected is None or offset <= expected:
            return range(0)
        return range(expected, offset)

    def forget(self, tps: Iterable[TP]) -> None:
        """Partitions revoked: another consumer may move them on, so the committed offset is expected again."""
        for tp in tps:
            self.next.pop(tp, None)


async def read_range(settings: Settings, tp: TP, offsets: range) -> list[Record]:
    """The records of one partition in ``offsets``, read with a plain consumer outside the group."""
    consumer = AIOKafkaConsumer(
        **connection_kwargs(settings),
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.kafka_max_request_bytes,
        fetch_max_bytes=4 * settings.kafka_max_request_bytes,
    )
    await consumer.start()
    try:
        partition = TopicPartition(tp.topic, tp.partition)
        consumer.assign([partition])
        end = min(offsets.stop, (await consumer.end_offsets([partition]))[partition])
        consumer.seek(partition, offsets.start)
        records: list[Record] = []
        while await consumer.position(partition) < end:
            for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                records += [Record.of(m) for m in messages if m.offset in offsets]
        return records
    finally:
        await consumer.stop()


_book_gap = Consumer._add_gap


def guard_offsets(topics: set[str]) -> OffsetGuard:
    """The guard for a stage's input topics; faust's gap booking is off for them from now on."""
    guard = OffsetGuard(frozenset(topics))

    async def add_gap(self: Consumer, tp: TP, offset_from: int, offset_to: int) -> None:
        if tp.topic not in guard.topics:  # only our inputs are known to have no gaps of their own
            await _book_gap(self, tp, offset_from, offset_to)

    Consumer._add_gap = add_gap  # type: ignore[method-assign]
    return guard


async def catch_up(
    guard: OffsetGuard,
    consumer: Any,  # faust's Consumer: its committed offsets and gap booking
    settings: Settings,
    records: Sequence[Record],
    handle: Callable[[list[Record]], Awaitable[None]],
) -> None:
    """Before ``records`` are handled: handle what the stage missed before each of them, then book it done."""
    for record in records:
        tp = TP(record.topic, record.partition)
        missing = guard.missing(tp, record.offset, consumer._committed_offset.get(tp))
        if not missing:
            continue
        found = await read_range(settings, tp, missing)
        log.warning(
            "faust skipped input records; processing them now",
            topic=tp.topic,
            partition=tp.partition,
            first=missing.start,
            last=missing.stop - 1,
            found=len(found),
        )
        if found:
            await handle(found)
        await _book_gap(consumer, tp, missing.start, missing.stop - 1)
