"""newsflow: the operator's entry point. A table for people, --json for programs.

Start with newsflow status; newsflow COMMAND --help tells each command's options. dlq, topics, es-setup and
query are the tools newsflow-dlq, newsflow-topics, newsflow-es-setup and newsflow-query under one name.
The ledger (status, ledger, check) reads whole topics and the whole article index: run it when the pipeline
has drained (status shows lag 0). Exit status 2: Kafka or Elasticsearch could not be reached."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

from aiokafka.errors import KafkaError
from elastic_transport import TransportError
from elasticsearch import ApiError

from newsflow_common import es
from newsflow_common.cli import add_commands, command_parser, settings_help, table
from newsflow_common.logs import configure_logging
from newsflow_common.settings import Settings
from newsflow_ops.ledger import Report, build
from newsflow_ops.settings import OpsSettings
from newsflow_ops.status import (
    DEFAULT_SERVICES,
    Lag,
    as_rows,
    dlq_sizes,
    group_lags,
    offsets_reader,
    read_facts,
    services_status,
)

LEDGER_COLUMNS = [
    "source",
    "hour",
    "received",
    "raw",
    "refused",
    "listing_pages",
    "links",
    "parse_dlq",
    "articles",
    "enrich_dlq",
    "enriched",
    "duplicates",
    "indexed",
    "superseded",
    "index_dlq",
]
SERVICE_COLUMNS = ["name", "health", "in", "out", "errors", "dead_letters", "in_per_s", "out_per_s", "url"]


async def ledger(settings: Settings, source: str | None) -> Report:
    consumer = offsets_reader(settings)
    client = es.client(settings)
    await consumer.start()
    try:
        return build(await read_facts(settings, consumer, client, settings.articles_alias, source), source)
    finally:
        await consumer.stop()
        await client.close()


async def lags_and_dlqs(settings: Settings) -> tuple[list[Lag], dict[str, int]]:
    consumer = offsets_reader(settings)
    await consumer.start()
    try:
        return await group_lags(settings, consumer), await dlq_sizes(consumer)
    finally:
        await consumer.stop()


def ledger_rows(report: Report, hourly: bool) -> list[dict[str, Any]]:
    if hourly:
        rows = [{"source": s, "hour": h, **c.as_dict()} for s, hours in report.rows.items() for h, c in hours.items()]
    else:
        rows = [{"source": s, "hour": "all", **c.as_dict()} for s, c in report.totals().items()]
    for row in rows:
        row["refused"] = ",".join(f"{kind}:{n}" for kind, n in row["refused"].items()) or "0"
    return sorted(rows, key=lambda row: (row["source"], row["hour"]))


def balance_lines(report: Report, limit: int | None = None) -> list[str]:
    if report.balanced:
        return ["balanced: every document and article has an end (indexed, links, dead letter or duplicate)"]
    lines = [f"UNBALANCED: {len(report.breaks)} identities with no end"]
    lines += [f"  {b.what} {b.id} (source {b.source}): {b.detail}" for b in report.breaks[:limit]]
    if limit is not None and len(report.breaks) > limit:
        lines.append(f"  ... and {len(report.breaks) - limit} more: newsflow check lists them all")
    return lines


async def status(settings: OpsSettings, args: argparse.Namespace) -> dict[str, Any]:
    services = settings.services() or dict(DEFAULT_SERVICES)
    services.update(dict(item.split("=", 1) for item in args.service or ()))
    (lags, dlqs), statuses = await asyncio.gather(lags_and_dlqs(settings), services_status(services, args.interval))
    result: dict[str, Any] = {"lag": as_rows(lags), "services": as_rows(statuses), "dlq": dlqs}
    if not args.no_ledger:
        result["ledger"] = (await ledger(settings, None)).as_dict()
    return result


def print_status(result: dict[str, Any]) -> None:
    print("== consumer lag (end offset - committed offset)")
    print(table(result["lag"], ["group", "topic", "lag", "partitions"]))
    print("\n== services")
    rows = [
        {
            **s,
            **s["totals"],
            **{f"{k}_per_s": v for k, v in s["per_second"].items()},
            "health": s["health"] if s["health"] == "ok" else f"{s['health']} {s['checks']}",
        }
        for s in result["services"]
    ]
    print(table(rows, SERVICE_COLUMNS))
    print("\n== dead-letter queues")
    print(table([{"topic": t, "records": n} for t, n in result["dlq"].items()], ["topic", "records"]))
    if "ledger" in result:
        print("\n== ledger (all sources; newsflow ledger --hourly for hours, newsflow check for the identities)")
        totals = result["ledger"]["totals"]
        rows = [{"source": s, "hour": "all", **c} for s, c in totals.items()]
        for row in rows:
            row["refused"] = sum(row["refused"].values())
        print(table(rows, LEDGER_COLUMNS))
        breaks = len(result["ledger"]["unbalanced"])
        print("balanced" if not breaks else f"UNBALANCED: {breaks} identities with no end (newsflow check)")


async def run(args: argparse.Namespace) -> int:
    settings = OpsSettings()
    if args.command == "status":
        result = await status(settings, args)
        print(json.dumps(result, indent=2)) if args.json else print_status(result)
        return 0
    report = await ledger(settings, args.source)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    elif args.command == "ledger":
        print(table(ledger_rows(report, args.hourly), LEDGER_COLUMNS))
        print("\n".join(balance_lines(report, limit=10)))
    else:
        print("\n".join(balance_lines(report)))
    return 1 if args.command == "check" and not report.balanced else 0


OWN_COMMANDS = {
    "status": "consumer lag, the services' health and rates, dead-letter queue sizes, the ledger's summary",
    "ledger": "per source (and hour): received, refused, articles, enriched, indexed, dead letters",
    "check": "exit 1 naming every document and article with no end",
}
TOOLS = {
    "dlq": ("newsflow_ops.dlq", "list, show and replay dead letters"),
    "topics": ("newsflow_ops.topics", "create every topic of the registry that is missing"),
    "es-setup": ("newsflow_index.setup", "install the Elasticsearch templates, first indices and aliases"),
    "query": ("newsflow_analyst.cli", "search the indexed news: top entities, trending, timelines, clusters"),
}
"""Commands that are the tools of their own name (newsflow dlq = newsflow-dlq), imported only when asked for."""


def parser() -> argparse.ArgumentParser:
    main_parser = command_parser("newsflow", __doc__ or "", OpsSettings, "newsflow-ops")
    subs = add_commands(main_parser, {**OWN_COMMANDS, **{name: text for name, (_, text) in TOOLS.items()}})
    for name in OWN_COMMANDS:
        subs[name].add_argument("--json", action="store_true", help="JSON for programs instead of a table")
        subs[name].epilog = settings_help(OpsSettings)
    for name in ("ledger", "check"):
        subs[name].add_argument("--source", metavar="NAME", help="only this source")
    subs["ledger"].add_argument("--hourly", action="store_true", help="a row per source and hour")
    status_parser = subs["status"]
    status_parser.add_argument(
        "--service",
        action="append",
        metavar="NAME=URL",
        help="a service's HTTP base, repeatable (default: ingest..index on 127.0.0.1:8001-8004)",
    )
    status_parser.add_argument(
        "--interval", type=float, default=1.0, metavar="SECONDS", help="between the two scrapes that give rates"
    )
    status_parser.add_argument("--no-ledger", action="store_true", help="skip the ledger (it reads whole topics)")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in TOOLS:
        tool: Callable[..., int] = import_module(TOOLS[argv[0]][0]).main
        return tool(argv[1:], prog=f"newsflow {argv[0]}")
    args = parser().parse_args(argv)
    configure_logging("ops", "WARNING")
    try:
        return asyncio.run(run(args))
    except (KafkaError, OSError, TransportError, ApiError) as exc:
        print(f"newsflow {args.command}: cannot read Kafka or Elasticsearch: {exc!r}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
