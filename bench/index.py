"""Indexing speed: docs/s into the local stand-in with the index service's batches vs one document at a time.

    make bench-index        (or: uv run python bench/index.py [--batch-size 500] [--repeat 2])

Starts its own stand-in (deploy/local/stack.py, free ports, a temporary data dir), installs the index
templates, and indexes the Wikinews articles of ../shared/datasets/wikinews as EnrichedArticles (one
monthly index per publication month, as in production) twice, into separate aliases:
- ours: the service's path (newsflow_index.bulk: one version per document, the month-move lookup,
  then bulk requests of --batch-size documents, at most 5 MB each);
- baseline: one versioned index request per document, the way a naive indexer would.
Prints both figures and their ratio; the ratio is the stable number, the times depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from newsflow_common.progress import Progress
from newsflow_common.stage import Record
from newsflow_index.bulk import Action, bulk_once, latest_versions, plan_moves
from newsflow_index.mappings import ARTICLE_PROPERTIES
from newsflow_index.routing import article_index, article_version
from newsflow_index.service import chunks
from newsflow_index.setup import ensure_templates
from newsflow_schemas import ENRICHED, EnrichedArticle, encode

ROOT = Path(__file__).resolve().parents[1]
DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "wikinews"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def load_articles(repeat: int) -> list[EnrichedArticle]:
    """Every Wikinews article as an EnrichedArticle; ``repeat`` copies under distinct ids for more volume."""
    now = datetime.now(UTC)
    articles = []
    for path in sorted(DATASET.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                for copy in range(repeat):
                    articles.append(
                        EnrichedArticle(
                            trace_id=uuid.uuid4().hex,
                            article_id=f"bench-{copy}-{len(articles)}",
                            doc_id="bench",
                            source="wikinews",
                            url=row["url"],
                            title=row["title"],
                            body=row["text"],
                            published_at=datetime.fromisoformat(row["date"]).replace(tzinfo=UTC),
                            extractor="plain-text",
                            parsed_at=now,
                            language="en",
                            enriched_at=now,
                            word_count=len(row["text"].split()),
                        )
                    )
    return articles


def actions(alias: str, articles: list[EnrichedArticle]) -> list[Action]:
    found = []
    for article in articles:
        record = Record(topic=ENRICHED, partition=0, offset=0, key=article.key().encode(), value=encode(article))
        source = article.model_dump(mode="json") | {"indexed_at": datetime.now(UTC).isoformat()}
        found.append(Action(article_index(alias, article), article.key(), source, record, article_version(article)))
    return found


async def ours(client: AsyncElasticsearch, alias: str, batch: list[Action], size: int, progress: Progress) -> None:
    latest, _ = latest_versions(batch)
    for start in range(0, len(latest), size):
        for chunk in chunks(latest[start : start + size], 5 * 1024 * 1024):
            planned, _ = await plan_moves(client, alias, chunk)
            outcome = await bulk_once(client, planned)
            assert not outcome.refused, outcome.refused[:1]
            progress.advance(len(chunk))


async def one_at_a_time(client: AsyncElasticsearch, batch: list[Action], progress: Progress) -> None:
    for action in batch:
        await client.index(
            index=action.index, id=action.doc_id, document=action.source, version=action.version,
            version_type="external_gte",
        )  # fmt: skip
        progress.advance()


async def measure(url: str, articles: list[EnrichedArticle], batch_size: int) -> dict[str, float]:
    client = AsyncElasticsearch(url, request_timeout=120)
    rates = {}
    try:
        for name in ("baseline", "ours"):
            alias = f"bench-{name}"
            await ensure_templates(client, alias, ARTICLE_PROPERTIES, read_alias=True)
            batch = actions(alias, articles)
            progress = Progress(f"{name}: docs", total=len(batch))
            started = time.perf_counter()
            if name == "ours":
                await ours(client, alias, batch, batch_size, progress)
            else:
                await one_at_a_time(client, batch, progress)
            await client.indices.refresh(index=alias)
            elapsed = time.perf_counter() - started
            progress.finish()
            indexed = (await client.count(index=alias))["count"]
            assert indexed == len(batch), f"{name}: {indexed} indexed of {len(batch)}"
            rates[name] = len(batch) / elapsed
    finally:
        await client.close()
    return rates


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=500, help="documents per bulk request (the service's 500)")
    parser.add_argument("--repeat", type=int, default=4, help="copies of the dataset (295 articles), for volume")
    args = parser.parse_args()
    if not DATASET.is_dir():
        print(f"bench-index: dataset absent ({DATASET}), skipped")
        return 0
    articles = load_articles(args.repeat)
    kafka_port, es_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="bench-index-") as data_dir:
        stack = [sys.executable, str(ROOT / "deploy/local/stack.py")]
        ports = ["--data-dir", data_dir, "--kafka-port", str(kafka_port), "--es-port", str(es_port)]
        subprocess.run([*stack, "up", *ports], check=True, capture_output=True)
        try:
            rates = asyncio.run(measure(f"http://127.0.0.1:{es_port}", articles, args.batch_size))
        finally:
            subprocess.run([*stack, "down", *ports], check=False, capture_output=True)
    months = len({a.published_at.strftime("%Y-%m") for a in articles if a.published_at})
    print(f"\nindexed {len(articles)} Wikinews articles into {months} monthly indices, local stand-in (noida-db)")
    print(f"  one document at a time (baseline):  {rates['baseline']:8.0f} docs/s")
    print(f"  ours, bulk of {args.batch_size:<4} + move lookup:  {rates['ours']:8.0f} docs/s")
    print(f"  ratio ours / baseline:              {rates['ours'] / rates['baseline']:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
