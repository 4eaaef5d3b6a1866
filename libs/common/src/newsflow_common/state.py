"""Keyed state for a stage, kept in memory and in a compacted changelog topic (docs/decisions/006).

A stateful stage holds its tables in a :class:`StateStore`. Every change is kept until the runtime calls
:meth:`StateStore.flush` — after the batch's outputs were acknowledged, before its offsets are committed —
which produces the changes to the changelog (key ``table|key``, JSON value, ``null`` for a deletion) and
waits for the acks. When the stage's input partition is assigned, the tables are rebuilt by reading the
changelog from its start. A crash between the flush and the commit replays the batch on state that already
holds its changes: every update must be idempotent (recomputed and keyed, never incremented), as the
stages' are.

The state belongs to one input partition: the changelog has as many partitions as the input, and a
stage's state for input partition *p* lives in changelog partition *p*. The enrich state stage reads a
one-partition topic (decision 006 says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from newsflow_common.kafka import connection_kwargs, create_missing, max_message_bytes
from newsflow_common.logs import get_logger
from newsflow_common.settings import Settings

log = get_logger(__name__)
_DELETED = object()


class Table(MutableMapping[str, Any]):
    """A dict that remembers what changed since the last flush."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.data: dict[str, Any] = {}
        self.changes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def get(self, key: str, default: Any = None) -> Any:  # Mapping's own raises and catches a KeyError: slow
        return self.data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.changes[key] = value

    def __delitem__(self, key: str) -> None:
        del self.data[key]
        self.changes[key] = _DELETED

    def __iter__(self) -> Iterator[str]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)


class StateStore:
    """Named tables of one input partition, backed by the changelog topic ``topic``."""

    def __init__(self, settings: Settings, topic: str, names: tuple[str, ...], partition: int = 0) -> None:
        self.settings, self.topic, self.partition = settings, topic, partition
        self.tables = {name: Table(name) for name in names}

    async def ensure_topic(self, partitions: int) -> None:
        """Create the compacted changelog when it does not exist yet."""
        config = {"cleanup.policy": "compact", "max.message.bytes": max_message_bytes(self.settings)}
        changelog = NewTopic(self.topic, partitions, self.settings.kafka_replication_factor, topic_configs=config)
        await create_missing(self.settings, [changelog])

    async def restore(self) -> int:
        """Rebuild the tables from the changelog's start; returns the changes read."""
        for table in self.tables.values():
            table.data.clear()
            table.changes.clear()
        consumer = AIOKafkaConsumer(
            **connection_kwargs(self.settings),
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=self.settings.kafka_max_request_bytes,
        )
        await consumer.start()
        read = 0
        try:
            partition = TopicPartition(self.topic, self.partition)
            consumer.assign([partition])
            end = (await consumer.end_offsets([partition]))[partition]
            await consumer.seek_to_beginning(partition)
            while await consumer.position(partition) < end:
                for messages in (await consumer.getmany(partition, timeout_ms=1000)).values():
                    for message in messages:
                        self._apply(message.key, message.value)
                        read += 1
        finally:
            await consumer.stop()
        log.info("state restored", topic=self.topic, changes=read, keys={n: len(t) for n, t in self.tables.items()})
        return read

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        """One change, read back. A record newsflow did not write (not UTF-8, not JSON) is skipped and said:
        it must not keep the state stage from starting, at every restart."""
        try:
            name, _, item = (key or b"").decode().partition("|")
            table = self.tables.get(name)
            if table is None:
                return
            if value is None:
                table.data.pop(item, None)
            else:
                table.data[item] = json.loads(value)
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
            log.warning("changelog record skipped", topic=self.topic, key=repr(key)[:100], error=repr(exc)[:200])

    async def flush(self, producer: AIOKafkaProducer) -> int:
        """Produce every change since the last flush and wait for the acks; returns how many."""
        pending = []
        for table in self.tables.values():
            for key, value in table.changes.items():
                payload = None if value is _DELETED else json.dumps(value, separators=(",", ":")).encode()
                pending.append(
                    await producer.send(
                        self.topic, payload, key=f"{table.name}|{key}".encode(), partition=self.partition
                    )
                )
        for future in pending:
            await future
        for table in self.tables.values():
            table.changes.clear()
        return len(pending)
