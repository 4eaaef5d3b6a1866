"""Extraction quality: the parse stage's extract() vs trafilatura alone on the article-extraction dev set.

    make bench-extract        # or: uv run python bench/extract.py [--limit N]

Scores with the metric the dataset's README defines (the public
article-extraction benchmark's): 4-token shingles of ``\\w+`` tokens, per-page
precision and recall from the multiset overlap, means over pages, F1 of the
means. The baseline is trafilatura 2.3 with ``include_comments=False``, run in
the same process on the same pages. Reads ../shared/datasets relative to the
repository; says so and exits 0 when the dataset is absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import trafilatura

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_schemas import Article, RawDocument

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "article-extraction-dev"
TOKEN = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True)
class Page:
    id: str
    url: str
    html: str
    truth: str


@dataclass
class Score:
    precisions: list[float]
    recalls: list[float]
    seconds: float
    pages: int
    empty: int

    @property
    def precision(self) -> float:
        return sum(self.precisions) / len(self.precisions)

    @property
    def recall(self) -> float:
        return sum(self.recalls) / len(self.recalls)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def shingles(text: str) -> Counter[tuple[str, ...]]:
    """Distinct 4-token shingles with their counts; a text shorter than 4 tokens is one short shingle."""
    tokens = TOKEN.findall(text)
    if len(tokens) < SHINGLE:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + SHINGLE]) for i in range(len(tokens) - SHINGLE + 1))


def page_score(predicted: str, truth: str) -> tuple[float | None, float | None]:
    """(precision, recall) of one page; None where the denominator is 0 (left out of the mean)."""
    pred, gold = shingles(predicted), shingles(truth)
    tp, fp, fn = sum((pred & gold).values()), sum((pred - gold).values()), sum((gold - pred).values())
    total = tp + fp + fn
    if total == 0:
        return None, None
    tp_, fp_, fn_ = tp / total, fp / total, fn / total  # every page weighs the same
    if fp == 0 and fn == 0:
        return 1.0, 1.0
    precision = tp_ / (tp_ + fp_) if tp_ + fp_ else None
    recall = tp_ / (tp_ + fn_) if tp_ + fn_ else None
    return precision, recall


def load_pages(limit: int | None) -> list[Page]:
    truth = json.loads((DATASET / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id, item in sorted(truth.items())[:limit]:
        html = gzip.decompress((DATASET / "html" / f"{page_id}.html.gz").read_bytes()).decode("utf-8", "replace")
        pages.append(Page(page_id, item["url"], html, item["articleBody"]))
    return pages


def by_parse(page: Page) -> str:
    """The body of the parse stage's article; empty when it gave none (rejected, or taken for a listing)."""
    raw = RawDocument(
        trace_id=page.id,
        doc_id=page.id,
        source="bench",
        uri=page.url,
        url=page.url,
        content_type="text/html",
        charset="utf-8",
        body=page.html,
        fetched_at=datetime.now(UTC),
    )
    try:
        outputs = extract(raw)
    except Rejected:
        return ""
    return "\n".join(out.body for out in outputs if isinstance(out, Article))


def by_trafilatura(page: Page) -> str:
    return trafilatura.extract(page.html, url=page.url, include_comments=False) or ""


def evaluate(pages: list[Page], extractor: Callable[[Page], str]) -> Score:
    score = Score([], [], 0.0, len(pages), 0)
    for page in pages:
        started = time.perf_counter()
        predicted = extractor(page)
        score.seconds += time.perf_counter() - started
        score.empty += not predicted.strip()
        precision, recall = page_score(predicted, page.truth)
        if precision is not None:
            score.precisions.append(precision)
        if recall is not None:
            score.recalls.append(recall)
    return score


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score only the first N pages (a quick look)")
    args = parser.parse_args()
    if not (DATASET / "ground-truth.json").exists():
        print(f"dataset absent, skipped: {DATASET}")
        return 0
    pages = load_pages(args.limit)
    by_parse(pages[0])  # warm up: imports and lazy initialisation are not extraction time
    baseline = evaluate(pages, by_trafilatura)
    ours = evaluate(pages, by_parse)
    print(f"article-extraction dev set: {len(pages)} pages, metric of its README (4-token shingles)")
    print(f"{'extractor':<34}{'F1':>7}{'precision':>11}{'recall':>8}{'pages/s':>9}{'empty':>7}")
    for name, score in (("trafilatura alone (baseline)", baseline), ("newsflow parse extract()", ours)):
        print(
            f"{name:<34}{score.f1:>7.4f}{score.precision:>11.4f}{score.recall:>8.4f}"
            f"{score.pages / score.seconds:>9.1f}{score.empty:>7}"
        )
    print(f"F1 gain over the baseline: {ours.f1 - baseline.f1:+.4f} (target: F1 >= 0.965)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
