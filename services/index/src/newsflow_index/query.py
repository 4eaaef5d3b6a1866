"""``newsflow-query``: search the indexed news and list the top entities, from a terminal.

newsflow-query search "Taliban" [--source S] [--json]
newsflow-query top [--type PERSON|ORG|LOC] [--size 10] [--source S] [--json]
newsflow-query wait --count N [--source S] [--timeout 120]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from elasticsearch import AsyncElasticsearch

from newsflow_index import es
from newsflow_index.settings import IndexSettings


def _filters(source: str | None) -> list[dict[str, Any]]:
    return [{"term": {"source": source}}] if source else []


async def search(
    client: AsyncElasticsearch, alias: str, text: str, source: str | None = None, size: int = 10
) -> list[dict[str, Any]]:
    """Articles matching ``text`` in title or body, best first, with highlighted fragments."""
    response = await client.search(
        index=alias,
        query={
            "bool": {
                "must": [{"multi_match": {"query": text, "fields": ["title^2", "body"]}}],
                "filter": _filters(source),
            }
        },
        highlight={"fields": {"body": {"number_of_fragments": 1, "fragment_size": 160}}},
        source_includes=["article_id", "title", "section", "source", "published_at"],
        size=size,
    )
    hits = []
    for hit in response["hits"]["hits"]:
        fragments = hit.get("highlight", {}).get("body", [""])
        hits.append({**hit["_source"], "score": hit["_score"], "highlight": fragments[0]})
    return hits


async def top_entities(
    client: AsyncElasticsearch, alias: str, kind: str, source: str | None = None, size: int = 10
) -> list[dict[str, Any]]:
    """The entities of a type with the most mentions, and in how many articles they appear."""
    response = await client.search(
        index=alias,
        size=0,
        query={"bool": {"filter": _filters(source)}},
        aggs={
            "entities": {
                "nested": {"path": "entities"},
                "aggs": {
                    "of_type": {
                        "filter": {"term": {"entities.type": kind}},
                        "aggs": {
                            "names": {
                                # Headroom, then a re-sort below: the local stand-in ignores a sub-aggregation order.
                                "terms": {"field": "entities.name", "size": size * 10, "order": {"mentions": "desc"}},
                                "aggs": {"mentions": {"sum": {"field": "entities.count"}}},
                            }
                        },
                    }
                },
            }
        },
    )
    buckets = response["aggregations"]["entities"]["of_type"]["names"]["buckets"]
    rows = [{"name": b["key"], "mentions": int(b["mentions"]["value"]), "articles": b["doc_count"]} for b in buckets]
    return sorted(rows, key=lambda row: (-row["mentions"], -row["articles"], row["name"]))[:size]


async def count(client: AsyncElasticsearch, alias: str, source: str | None = None) -> int:
    await client.indices.refresh(index=alias)
    response = await client.count(index=alias, query={"bool": {"filter": _filters(source)}})
    return int(response["count"])


async def wait_for_count(
    client: AsyncElasticsearch, alias: str, expected: int, source: str | None, within: float
) -> int:
    """Poll until at least ``expected`` articles are searchable, or the deadline passes."""
    deadline = time.monotonic() + within
    found = await count(client, alias, source)
    while found < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        found = await count(client, alias, source)
    return found


def _print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    widths = {c: max(len(c), *(len(str(r.get(c, ""))[:80]) for r in rows)) if rows else len(c) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, ""))[:80].ljust(widths[c]) for c in columns))


async def run(args: argparse.Namespace) -> int:
    settings = IndexSettings()
    client = es.client(settings)
    alias = settings.articles_alias
    try:
        if args.command == "wait":
            found = await wait_for_count(client, alias, args.count, args.source, args.timeout)
            print(f"{found} articles searchable")
            return 0 if found >= args.count else 1
        if args.command == "search":
            rows = await search(client, alias, args.text, args.source, args.size)
            columns = ["title", "section", "score"]
        else:
            rows = await top_entities(client, alias, args.type, args.source, args.size)
            columns = ["name", "mentions", "articles"]
    finally:
        await client.close()
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        _print_table(rows, columns)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="newsflow-query", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("search", "top", "wait"):
        sub = commands.add_parser(name)
        sub.add_argument("--source", help="only articles from this source")
        sub.add_argument("--json", action="store_true", help="JSON for programs instead of a table")
        sub.add_argument("--size", type=int, default=10)
        if name == "search":
            sub.add_argument("text")
        elif name == "top":
            sub.add_argument("--type", default="PERSON", choices=["PERSON", "ORG", "LOC", "NORP", "EVENT"])
        else:
            sub.add_argument("--count", type=int, required=True)
            sub.add_argument("--timeout", type=float, default=120.0)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
