"""newsflow-query: ask the indexed news from a terminal; a table for people, --json for programs.

  newsflow-query search [TEXT] [--section S] [--site S] [--language L] [--entity E] [--since D] [--until D]
                        [--size N] [--after CURSOR]
  newsflow-query top --type PERSON|ORG|LOC|NORP|EVENT [--size 10]
  newsflow-query trending [--window 24h] [--type PERSON] [--size 10]
  newsflow-query timeline ENTITY [--interval day|hour] [--since D --until D]
  newsflow-query related ENTITY [--size 10]
  newsflow-query cluster CLUSTER_ID
  newsflow-query wait --count N [--source S] [--timeout 120]

Dates: ISO 8601 (2024-05-07, 2024-05-07T10:00:00Z) or Elasticsearch date math (now-7d). search prints the
cursor of the next page on stderr (--after). Exit status 2: Elasticsearch refused the question or is away."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch

from newsflow_analyst import queries
from newsflow_common import es
from newsflow_common.cli import add_commands, command_parser, settings_help, table
from newsflow_common.settings import Settings

ENTITY_TYPES = ["PERSON", "ORG", "LOC", "NORP", "EVENT"]
COLUMNS = {
    "search": ["title", "section", "site_name", "published_at", "score"],
    "top": ["name", "mentions", "articles"],
    "trending": ["term", "type", "count", "baseline", "score", "window_end"],
    "timeline": ["period", "articles"],
    "related": ["name", "type", "articles"],
    "cluster": ["published_at", "title", "site_name", "duplicate_of"],
}


def filters(args: argparse.Namespace) -> queries.Filters:
    return queries.Filters(
        source=getattr(args, "source", None),
        section=getattr(args, "section", None),
        site=getattr(args, "site", None),
        language=getattr(args, "language", None),
        entity=getattr(args, "entity", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
    )


async def answer(client: AsyncElasticsearch, settings: Settings, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows that answer one command."""
    articles = settings.articles_alias
    if args.command == "search":
        page = await queries.search(client, articles, args.text, filters(args), args.size, args.after)
        print(f"{page['total']} articles" + (f"; next page: --after {page['next']}" if page["next"] else ""),
              file=sys.stderr)  # fmt: skip
        return list(page["hits"])
    if args.command == "top":
        return await queries.top_entities(client, articles, args.type, filters(args), args.size)
    if args.command == "trending":
        return await queries.trending(client, settings.trends_alias, args.window, args.type, args.size)
    if args.command == "timeline":
        return await queries.timeline(client, articles, args.entity_name, args.interval, filters(args))
    if args.command == "related":
        return await queries.cooccurring(client, articles, args.entity_name, filters(args), args.size)
    return await queries.cluster(client, articles, args.cluster_id, args.size)


async def run(args: argparse.Namespace) -> int:
    settings = Settings()
    client = es.client(settings)
    try:
        if args.command == "wait":
            found = await queries.wait_for_count(
                client, settings.articles_alias, args.count, filters(args), args.timeout
            )
            print(f"{found} articles searchable")
            return 0 if found >= args.count else 1
        rows = await answer(client, settings, args)
    except ApiError as exc:
        print(f"newsflow-query: Elasticsearch refused the query ({exc.status_code}): {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"newsflow-query: {exc}", file=sys.stderr)
        return 2
    finally:
        await client.close()
    print(json.dumps(rows, indent=2, default=str) if args.json else table(rows, COLUMNS[args.command]))
    return 0


COMMANDS = {
    "search": "articles matching words (title, summary, body), best first; newest first without words",
    "top": "entities of a type with the most mentions",
    "trending": "terms with the highest trend score in windows that ended recently",
    "timeline": "articles naming an entity per hour or day",
    "related": "people, organizations and places named in the same articles as an entity",
    "cluster": "the articles of one story cluster, first published first",
    "wait": "wait until at least N articles are searchable (exit 1 at the timeout)",
}
ARTICLE_FILTERS = ("search", "top", "timeline", "related")


def parser(prog: str = "newsflow-query") -> argparse.ArgumentParser:
    main_parser = command_parser(prog, __doc__ or "", Settings, "newsflow-analyst")
    subs = add_commands(main_parser, COMMANDS)
    for name, sub in subs.items():
        sub.epilog = settings_help(Settings)
        if name != "wait":
            sub.add_argument("--json", action="store_true", help="JSON for programs instead of a table")
        if name not in ("wait", "timeline"):
            sub.add_argument("--size", type=int, default=10, metavar="N", help="rows at most")
    for name in (*ARTICLE_FILTERS, "wait"):
        subs[name].add_argument("--source", metavar="NAME", help="only articles from this source")
    for name in ARTICLE_FILTERS:
        subs[name].add_argument("--since", metavar="DATE", help="published at or after (ISO 8601 or now-7d)")
        subs[name].add_argument("--until", metavar="DATE", help="published before")
        subs[name].add_argument("--section", metavar="NAME", help="only this section, e.g. ASIA")
        subs[name].add_argument("--site", metavar="NAME", help="site name, e.g. 'BBC News'")
        subs[name].add_argument("--language", metavar="CODE", help="ISO 639-1 code")
    subs["search"].add_argument("text", nargs="?", metavar="TEXT", help="words to find (none: newest first)")
    subs["search"].add_argument("--entity", metavar="NAME", help="only articles that name this entity")
    subs["search"].add_argument(
        "--after", metavar="CURSOR", help="cursor of the next page, printed by the previous one"
    )
    subs["top"].add_argument("--type", default="PERSON", choices=ENTITY_TYPES, help="entity type")
    subs["trending"].add_argument("--window", default="24h", metavar="SPAN", help="windows that ended within: 1h, 7d")
    subs["trending"].add_argument("--type", metavar="TYPE", help="trend type as enrich emits it: PERSON, keyword...")
    for name in ("timeline", "related"):
        subs[name].add_argument("entity_name", metavar="ENTITY", help="the entity's name as indexed")
    subs["timeline"].add_argument("--interval", default="day", choices=list(queries.INTERVALS), help="period")
    subs["cluster"].add_argument("cluster_id", metavar="CLUSTER_ID", help="as search --json or the API shows it")
    subs["cluster"].set_defaults(size=100)
    subs["wait"].add_argument("--count", type=int, required=True, metavar="N", help="articles to wait for")
    subs["wait"].add_argument("--timeout", type=float, default=120.0, metavar="SECONDS", help="give up after")
    return main_parser


def main(argv: list[str] | None = None, prog: str = "newsflow-query") -> int:
    return asyncio.run(run(parser(prog).parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
