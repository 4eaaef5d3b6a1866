"""``newsflow-dlq``: list, show and replay dead letters.

    newsflow-dlq list [--topic news.raw.v1.dlq] [--kind schema] [--json]
    newsflow-dlq show news.articles.v1.dlq:0:42
    newsflow-dlq replay --topic news.articles.v1.dlq [--kind K] [--since ISO] [--until ISO] [--id ID ...] [--dry-run]

A dead letter's id is ``<dlq topic>:<partition>:<offset>``. Replay sends the original
bytes, with the original key, back to the topic they were read from (after a fix,
the stage tries again); letters of documents refused before any topic (ingest's)
have no topic to go back to and are listed as skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from newsflow_common import kafka
from newsflow_common.logs import configure_logging
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_schemas import DeadLetter, decode, registry

SERVICE = "dlq"


@dataclass(frozen=True)
class Letter:
    id: str
    letter: DeadLetter

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "failed_at": self.letter.failed_at.isoformat(),
            "stage": self.letter.stage,
            "kind": self.letter.error_kind,
            "from": self.letter.topic or self.letter.source,
            "key": self.letter.original_key,
            "bytes": len(self.letter.original),
            "error": self.letter.error_message[:120],
        }


def dlq_topics() -> list[str]:
    return [t.name for t in registry().values() if t.model == "DeadLetter"]


async def read_letters(settings: Settings, topics: list[str]) -> list[Letter]:
    """Every dead letter of ``topics`` from the beginning, oldest first per partition."""
    consumer = AIOKafkaConsumer(**kafka.connection_kwargs(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        letters = []
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]]:
            for messages in (await consumer.getmany(timeout_ms=500)).values():
                for message in messages:
                    try:
                        letter = decode(DeadLetter, message.value)
                    except ValidationError:
                        continue  # not a dead letter: someone wrote garbage to a DLQ; nothing to replay
                    letters.append(Letter(f"{message.topic}:{message.partition}:{message.offset}", letter))
        return letters
    finally:
        await consumer.stop()


def select(letters: list[Letter], args: argparse.Namespace) -> list[Letter]:
    chosen = []
    for item in letters:
        letter = item.letter
        if args.kind and letter.error_kind != args.kind:
            continue
        if getattr(args, "since", None) and letter.failed_at < args.since:
            continue
        if getattr(args, "until", None) and letter.failed_at >= args.until:
            continue
        if getattr(args, "id", None) and item.id not in args.id:
            continue
        chosen.append(item)
    return chosen


async def replay(settings: Settings, letters: list[Letter], dry_run: bool) -> tuple[list[str], list[str]]:
    """Send each letter's original bytes back to its topic; returns (replayed ids, skipped ids)."""
    replayable = [item for item in letters if item.letter.topic]
    skipped = [item.id for item in letters if not item.letter.topic]
    if dry_run or not replayable:
        return [item.id for item in replayable], skipped
    producer = kafka.producer(settings, SERVICE)
    await retry_forever(producer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
    try:
        for item in replayable:
            letter = item.letter
            headers = [("trace-id", letter.trace_id.encode()), ("replayed-from", item.id.encode())]
            key = letter.original_key.encode() if letter.original_key is not None else None
            assert letter.topic is not None
            await producer.send_and_wait(letter.topic, letter.original, key=key, headers=headers)
    finally:
        await producer.stop()
    return [item.id for item in replayable], skipped


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="newsflow-dlq", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("list", "replay"):
        sub = commands.add_parser(name)
        sub.add_argument("--topic", action="append", choices=dlq_topics(), help="a DLQ topic (default: all)")
        sub.add_argument("--kind", help="only letters of this error kind")
        sub.add_argument("--since", type=datetime.fromisoformat, help="failed at or after (ISO time with zone)")
        sub.add_argument("--until", type=datetime.fromisoformat, help="failed before (ISO time with zone)")
        sub.add_argument("--json", action="store_true", help="JSON lines for programs")
        if name == "replay":
            sub.add_argument("--id", action="append", help="only these letter ids (repeatable)")
            sub.add_argument("--dry-run", action="store_true", help="say what would be replayed")
    show = commands.add_parser("show")
    show.add_argument("id", help="<dlq topic>:<partition>:<offset>")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    settings = Settings()
    if args.command == "show":
        topic = args.id.split(":", 1)[0]
        found = [item for item in await read_letters(settings, [topic]) if item.id == args.id]
        if not found:
            print(f"newsflow-dlq: no dead letter {args.id}", file=sys.stderr)
            return 1
        letter = found[0].letter
        print(json.dumps({**found[0].summary(), "error": letter.error_message, "trace_id": letter.trace_id}, indent=2))
        print("--- original bytes ---")
        sys.stdout.buffer.write(letter.original + b"\n")
        return 0
    letters = select(await read_letters(settings, args.topic or dlq_topics()), args)
    if args.command == "list":
        for item in letters:
            row = item.summary()
            print(
                json.dumps(row)
                if args.json
                else f"{row['id']}  {row['failed_at']}  {row['stage']}/{row['kind']}  {row['error']}"
            )
        print(f"{len(letters)} dead letters", file=sys.stderr)
        return 0
    replayed, skipped = await replay(settings, letters, args.dry_run)
    verb = "would replay" if args.dry_run else "replayed"
    print(f"{verb} {len(replayed)}; skipped {len(skipped)} with no topic to return to (refused by ingest)")
    return 0


def main(argv: list[str] | None = None) -> int:
    configure_logging(SERVICE, "WARNING")
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
