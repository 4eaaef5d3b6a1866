"""aiokafka factories: the idempotent producer, static-membership consumers, topic creation."""

from __future__ import annotations

import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from newsflow_common.settings import Settings
from newsflow_schemas import Topic


def is_transient_kafka_error(exc: BaseException) -> bool:
    """A failure of the surroundings (broker away, leader moving, timeout): retry, never dead-letter."""
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError | OSError | TimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


def connection_kwargs(settings: Settings) -> dict[str, Any]:
    """What every aiokafka client needs to reach the cluster, TLS and SASL included."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = create_ssl_context(
            cafile=settings.kafka_ssl_cafile,
            certfile=settings.kafka_ssl_certfile,
            keyfile=settings.kafka_ssl_keyfile,
        )
    if settings.kafka_sasl_mechanism:
        password = settings.kafka_sasl_password
        kwargs.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=password.get_secret_value() if password else None,
        )
    return kwargs


def producer(settings: Settings, service: str) -> AIOKafkaProducer:
    """Idempotent, acks=all: a retried send never duplicates or reorders within a partition."""
    return AIOKafkaProducer(
        **connection_kwargs(settings),
        client_id=f"newsflow-{service}",
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_request_size=settings.kafka_max_request_bytes,
    )


def consumer(settings: Settings, service: str, *topics: str) -> AIOKafkaConsumer:
    """A consumer with static membership and manual commits (after the output is acknowledged)."""
    return AIOKafkaConsumer(
        *topics,
        **connection_kwargs(settings),
        client_id=f"newsflow-{service}",
        group_id=f"newsflow-{service}",
        group_instance_id=settings.instance_id(service),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=settings.kafka_max_request_bytes,
        fetch_max_bytes=4 * settings.kafka_max_request_bytes,
    )


def topic_configs(settings: Settings, topic: Topic) -> dict[str, str]:
    """The topic's registry configs, and a size bound that fits what our producers may send.

    A broker's default bound is 1 MB; our records go up to ``kafka_max_request_bytes`` (a dead letter keeps
    4 MiB of a huge original, base64). Below that, a broker refuses the dead letter and the stage that
    wrote it stops on the record it cannot get past. The fifth on top is room for the batch overhead.
    """
    return {**topic.kafka_config(), "max.message.bytes": max_message_bytes(settings)}


def max_message_bytes(settings: Settings) -> str:
    """The bound every newsflow topic takes (registry topics and state changelogs alike)."""
    return str(settings.kafka_max_request_bytes + settings.kafka_max_request_bytes // 5)


async def ensure_topics(settings: Settings, topics: list[Topic]) -> list[str]:
    """Create the registry topics that do not exist yet; returns the names created."""
    new = [
        NewTopic(t.name, t.partitions, settings.kafka_replication_factor, topic_configs=topic_configs(settings, t))
        for t in topics
    ]
    return await create_missing(settings, new)


async def create_missing(settings: Settings, topics: list[NewTopic]) -> list[str]:
    """Create the topics that do not exist yet (another job creating them meanwhile is fine); the names created."""
    admin = AIOKafkaAdminClient(**connection_kwargs(settings), client_id="newsflow-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t.name not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
        return [t.name for t in missing]
    finally:
        await admin.close()
