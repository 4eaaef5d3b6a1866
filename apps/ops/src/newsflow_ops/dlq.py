"""newsflow-dlq: list, show and replay dead letters.

  newsflow-dlq list [--topic news.raw.v1.dlq] [--kind schema] [--json]
  newsflow-dlq show news.articles.v1.dlq:0:42
  newsflow-dlq replay --topic news.articles.v1.dlq [--kind K] [--since ISO] [--until ISO] [--id ID ...] [--dry-run]

A dead letter's id is <dlq topic>:<partition>:<offset>. Replay sends the original bytes, with the original
key, back to the topic they were read from (after a fix, the stage tries again); letters of documents
refused before any topic (ingest's) have no topic to go back to and are listed as skipped. list and replay
read a letter at a time (a progress line on stderr), so a DLQ of any size fits in memory; show reads only
the one record it names.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError

from newsflow_common import kafka
from newsflow_common.cli import add_commands, command_parser, settings_help
from newsflow_common.logs import configure_logging
from newsflow_common.retry import retry_forever
from newsflow_common.settings import Settings
from newsflow_ops.status import offsets_reader, partitions_of, read_topic
from newsflow_schemas import DeadLetter, decode, registry

SERVICE = "dlq"
IN_FLIGHT = 500
"""Replayed records sent before waiting for their acknowledgements: bounded memory, no round trip each."""
SHOW_WAIT_MS = 10_000


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


def letter_of(message: ConsumerRecord[bytes, bytes]) -> Letter | None:
    """None for a record that is not a dead letter (garbage written to a DLQ: nothing to replay)."""
    try:
        letter = decode(DeadLetter, message.value)
    except ValidationError:
        return None
    return Letter(f"{message.topic}:{message.partition}:{message.offset}", letter)


async def read_letters(consumer: AIOKafkaConsumer, topics: list[str]) -> AsyncIterator[Letter]:
    """The dead letters of ``topics`` up to their end when asked, one at a time, oldest first per partition."""
    layout = {topic: partitions_of(consumer, topic) for topic in topics}  # before assign narrows the metadata
    for topic, partitions in layout.items():
        async for message in read_topic(consumer, topic, partitions):
            if (item := letter_of(message)) is not None:
                yield item


async def find_letter(consumer: AIOKafkaConsumer, letter_id: str) -> Letter | None:
    """The one letter ``topic:partition:offset`` names, read by seeking to it; None when there is none."""
    try:
        topic, partition, offset = letter_id.rsplit(":", 2)
        tp, at = TopicPartition(topic, int(partition)), int(offset)
    except ValueError:
        return None
    if tp not in partitions_of(consumer, topic):
        return None
    consumer.assign([tp])
    first, end = (await consumer.beginning_offsets([tp]))[tp], (await consumer.end_offsets([tp]))[tp]
    if not first <= at < end:
        return None
    consumer.seek(tp, at)
    batch = (await consumer.getmany(tp, timeout_ms=SHOW_WAIT_MS, max_records=1)).get(tp, [])
    return letter_of(batch[0]) if batch and batch[0].offset == at else None  # compacted away: a later offset


def chosen(item: Letter, args: argparse.Namespace) -> bool:
    letter = item.letter
    return not (
        (args.kind and letter.error_kind != args.kind)
        or (args.since and letter.failed_at < args.since)
        or (args.until and letter.failed_at >= args.until)
        or (getattr(args, "id", None) and item.id not in args.id)
    )


async def replay_one(producer: AIOKafkaProducer, item: Letter) -> asyncio.Future[Any]:
    """Queue the letter's original bytes, with its key, for its topic; the future settles on acknowledgement."""
    letter = item.letter
    assert letter.topic is not None
    headers = [("trace-id", letter.trace_id.encode()), ("replayed-from", item.id.encode())]
    key = letter.original_key.encode() if letter.original_key is not None else None
    future: asyncio.Future[Any] = await producer.send(letter.topic, letter.original, key=key, headers=headers)
    return future


async def replay(settings: Settings, letters: AsyncIterator[Letter], dry_run: bool, say: Any) -> tuple[int, int]:
    """Send each letter back to its topic as it is read; ``say(item, action)`` reports each. (replayed, skipped)"""
    producer = None if dry_run else kafka.producer(settings, SERVICE)
    if producer is not None:
        await retry_forever(producer.start, transient=kafka.is_transient_kafka_error, service=SERVICE, name="connect")
    replayed = skipped = 0
    pending: list[asyncio.Future[Any]] = []
    try:
        async for item in letters:
            if not item.letter.topic:
                skipped += 1
                say(item, "skipped")
                continue
            if producer is not None:
                pending.append(await replay_one(producer, item))
                if len(pending) >= IN_FLIGHT:
                    await asyncio.gather(*pending)
                    pending.clear()
            replayed += 1
            say(item, "would replay" if dry_run else "replayed")
        await asyncio.gather(*pending)
    finally:
        if producer is not None:
            await producer.stop()
    return replayed, skipped


def parse_args(argv: list[str] | None, prog: str) -> argparse.Namespace:
    parser = command_parser(prog, __doc__ or "", Settings, "newsflow-ops")
    subs = add_commands(
        parser,
        {
            "list": "list dead letters, oldest first per partition",
            "show": "one dead letter: its reason, trace id and original bytes",
            "replay": "send dead letters' original bytes back to the topic they came from",
        },
    )
    topics = ", ".join(dlq_topics())
    for name in ("list", "replay"):
        sub = subs[name]
        sub.add_argument(
            "--topic", action="append", choices=dlq_topics(), metavar="TOPIC", help=f"a DLQ topic, repeatable: {topics}"
        )
        sub.add_argument("--kind", metavar="KIND", help="only letters of this error kind (schema, unexpected...)")
        sub.add_argument("--since", type=datetime.fromisoformat, metavar="TIME", help="failed at or after (ISO 8601)")
        sub.add_argument("--until", type=datetime.fromisoformat, metavar="TIME", help="failed before (ISO 8601)")
        sub.add_argument("--json", action="store_true", help="a JSON line per letter, for programs")
    subs["replay"].add_argument("--id", action="append", metavar="ID", help="only this letter id, repeatable")
    subs["replay"].add_argument("--dry-run", action="store_true", help="say what would be replayed, send nothing")
    subs["show"].add_argument("id", metavar="ID", help="<dlq topic>:<partition>:<offset>, as list prints it")
    for sub in subs.values():
        sub.epilog = settings_help(Settings)
    return parser.parse_args(argv)


def print_letter(item: Letter, as_json: bool) -> None:
    row = item.summary()
    line = f"{row['id']}  {row['failed_at']}  {row['stage']}/{row['kind']}  {row['error']}"
    print(json.dumps(row) if as_json else line, flush=True)


async def show(consumer: AIOKafkaConsumer, letter_id: str) -> int:
    found = await find_letter(consumer, letter_id)
    if found is None:
        print(f"newsflow-dlq: no dead letter {letter_id}", file=sys.stderr)
        return 1
    letter = found.letter
    print(json.dumps({**found.summary(), "error": letter.error_message, "trace_id": letter.trace_id}, indent=2))
    print("--- original bytes ---", flush=True)
    sys.stdout.buffer.write(letter.original + b"\n")
    return 0


async def run(args: argparse.Namespace) -> int:
    settings = Settings()
    consumer = offsets_reader(settings)
    await consumer.start()
    try:
        if args.command == "show":
            return await show(consumer, args.id)
        letters = (item async for item in read_letters(consumer, args.topic or dlq_topics()) if chosen(item, args))
        if args.command == "list":
            count = 0
            async for item in letters:
                print_letter(item, args.json)
                count += 1
            print(f"{count} dead letters", file=sys.stderr)
            return 0

        def say(item: Letter, action: str) -> None:
            if args.json:
                print(json.dumps({"id": item.id, "action": action, "topic": item.letter.topic}), flush=True)

        replayed, skipped = await replay(settings, letters, args.dry_run, say)
    finally:
        await consumer.stop()
    verb = "would replay" if args.dry_run else "replayed"
    summary = f"{verb} {replayed}; skipped {skipped} with no topic to return to (refused by ingest)"
    print(summary, file=sys.stderr if args.json else sys.stdout)
    return 0


def main(argv: list[str] | None = None, prog: str = "newsflow-dlq") -> int:
    args = parse_args(argv, prog)
    configure_logging(SERVICE, "WARNING")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
