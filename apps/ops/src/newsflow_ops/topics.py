"""newsflow-topics: create every topic of the registry that does not exist yet (idempotent).

Partitions and retention come from the topic registry (newsflow_schemas); the replication factor from
NEWSFLOW_KAFKA_REPLICATION_FACTOR. It waits for the broker, retrying, until it answers.
"""

from __future__ import annotations

import asyncio
import sys

from newsflow_common.cli import parse_command_line
from newsflow_common.kafka import ensure_topics, is_transient_kafka_error
from newsflow_common.logs import configure_logging, get_logger
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_schemas import registry


async def create_topics(settings: Settings) -> list[str]:
    topics = list(registry().values())
    return await retry_forever(
        lambda: ensure_topics(settings, topics), transient=is_transient_kafka_error, service="topics", name="create"
    )


def main(argv: list[str] | None = None, prog: str = "newsflow-topics") -> int:
    settings = parse_command_line(prog, __doc__ or "", Settings, "newsflow-ops", argv)
    configure_logging("topics", settings.log_level)
    created = asyncio.run(create_topics(settings))
    get_logger(__name__).info("topics ready", created=created, total=len(registry()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
