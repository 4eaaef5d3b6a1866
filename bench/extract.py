"""Extraction quality: the parse stage's extract() vs trafilatura alone on the article-extraction dev set.

    make bench-extract        # or: uv run python bench/extract.py [--limit N]

Scores with the metric the dataset's README defines (the public
article-extraction benchmark's): 4-token shingles of ``\\w+`` tokens, per-page
precision and recall from the multiset overlap, means over pages, F1 of the
means. The baseline is trafilatura 2.3 with ``include_comments=False``, run in
the same process on the same pages.

Rules are chosen by cross-validation, so that what is kept generalises to pages
not seen: the pages are cut into 4 folds, each rule on top of trafilatura is
taken out of the pipeline (and each rejected candidate put in) and the F1
change is printed per fold. A rule is kept when it raises F1 over all pages
and lowers it on no fold (a fold whose pages it does not change counts as
neither). The held-out line repeats the choice on 3 folds and scores the 4th,
for each fold in turn: an estimate for pages the rules were not chosen on.
Last, every refusal's count on the dev pages, which are all real articles.
Reads ../shared/datasets relative to the repository; says so and exits 0 when
the dataset is absent.
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
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import trafilatura
from trafilatura.utils import load_html

from newsflow_common.dlq import Rejected
from newsflow_parse.extract import extract
from newsflow_parse.html import (
    MIN_WORDS,
    RULES,
    HtmlArticle,
    Listing,
    Rules,
    extract_html,
    is_error_page,
    is_listing,
    main_text,
    readability_text,
    words,
)
from newsflow_parse.listing import is_byline, is_dateline, is_pager
from newsflow_parse.page import password_in_main_content, teaser_links
from newsflow_schemas import Article, RawDocument

DATASET = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "article-extraction-dev"
TOKEN = re.compile(r"\w+")
SHINGLE = 4
FOLDS = 4
TARGET = 0.965
TIE = 1e-9
NOW = datetime.now(UTC)
MIN_MISSED_WORDS = 25  # a paragraph of prose, not a caption or a teaser
LINK_SHARE = 0.6


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


# --- extractors ----------------------------------------------------------------------------------


def raw_document(page: Page) -> RawDocument:
    return RawDocument(
        trace_id=page.id,
        doc_id=page.id,
        source="bench",
        uri=page.url,
        url=page.url,
        content_type="text/html",
        charset="utf-8",
        body=page.html,
        fetched_at=NOW,
    )


def by_parse(page: Page) -> str:
    """The body of the parse stage's article; empty when it gave none (rejected, or taken for a listing)."""
    try:
        outputs = extract(raw_document(page), NOW)
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


def folds_of(pages: list[Page]) -> list[list[Page]]:
    """Every FOLDS-th page (sorted by id, ids are hashes): balanced folds that mix sites."""
    return [pages[k::FOLDS] for k in range(FOLDS)]


def f1_of(scores: dict[str, tuple[float | None, float | None]], pages: list[Page]) -> float:
    precisions = [p for page in pages if (p := scores[page.id][0]) is not None]
    recalls = [r for page in pages if (r := scores[page.id][1]) is not None]
    if not precisions or not recalls:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    return 2 * p * r / (p + r) if p + r else 0.0


# --- rules and candidates ------------------------------------------------------------------------


def candidate_missed_paragraphs(page: Page, body: str) -> str:
    """Candidate: add readability's long prose paragraphs that trafilatura's text lacks (recall)."""
    have = " ".join(TOKEN.findall(body.lower()))
    added = [
        line
        for line in readability_text(page.html).split("\n")
        if words(line) >= MIN_MISSED_WORDS and " ".join(TOKEN.findall(line.lower())) not in have
    ]
    return "\n".join([body, *added]) if added else body


def candidate_link_dense_lines(page: Page, body: str) -> str:
    """Candidate: drop 4-25-word lines whose block is mostly link text, to any site (not only other stories)."""
    tree = lxml.html.fromstring(page.html)
    dense = set()
    for element in tree.iter("p", "li", "div", "h2", "h3", "h4", "span", "strong"):
        text = " ".join(element.text_content().split())
        linked = sum(len(" ".join(a.text_content().split())) for a in element.iter("a"))
        if text and linked >= LINK_SHARE * len(text):
            dense.add(text)
    return "\n".join(line for line in body.split("\n") if not (4 <= words(line) <= 25 and line.strip() in dense))


def candidate_date_lines(page: Page, body: str) -> str:
    """Candidate: drop lines that are only a date, a byline or a pager ("Updated at ...")."""
    return "\n".join(line for line in body.split("\n") if not listing_chrome(line.strip()))


def candidate_box_labels(page: Page, body: str) -> str:
    """Candidate: drop short lines that read as a box heading ("More:", "You may also like...", "DON'T MISS")."""
    return "\n".join(line for line in body.split("\n") if not is_box_label(line.strip()))


def is_box_label(line: str) -> bool:
    return words(line) <= 4 and (line.endswith((":", "...", "…", "|")) or (line.isupper() and len(line) > 3))


def listing_chrome(line: str) -> bool:
    return is_dateline(line) or is_byline(line) or is_pager(line)


RULE_NAMES = {
    "precision_mode": "trafilatura precision mode",
    "second_opinion": "readability second opinion",
    "drop_headline": "headline not repeated in the body",
    "drop_teaser_lines": "links to other stories left out",
    "whole_article": "an article cut into containers read whole",
}
CANDIDATES: dict[str, tuple[str, Callable[[Page, str], str]]] = {
    "missed_paragraphs": ("readability's missed paragraphs added", candidate_missed_paragraphs),
    "link_dense_lines": ("any link-dense line left out", candidate_link_dense_lines),
    "date_lines": ("date, byline, pager lines left out", candidate_date_lines),
    "box_labels": ("short box headings left out", candidate_box_labels),
}


@dataclass(frozen=True)
class Config:
    """The pipeline's rules switched on or off, plus candidates (post-processing the bench alone knows)."""

    rules: Rules = RULES
    candidates: frozenset[str] = frozenset()

    def toggled(self, name: str) -> Config:
        if name in CANDIDATES:
            return replace(self, candidates=self.candidates ^ {name})
        return replace(self, rules=replace(self.rules, **{name: not getattr(self.rules, name)}))

    def has(self, name: str) -> bool:
        return name in self.candidates if name in CANDIDATES else bool(getattr(self.rules, name))


class Runs:
    """Per-page (precision, recall) of each configuration, computed once per page on demand."""

    def __init__(self) -> None:
        self.scores: dict[Config, dict[str, tuple[float | None, float | None]]] = {}

    def body(self, config: Config, page: Page) -> str:
        try:
            found = extract_html(page.html, page.url, NOW, rules=config.rules)
        except Rejected:
            return ""
        body = found.body if isinstance(found, HtmlArticle) else ""
        for name in sorted(config.candidates):
            body = CANDIDATES[name][1](page, body)
        return body

    def f1(self, config: Config, pages: list[Page]) -> float:
        scores = self.scores.setdefault(config, {})
        for page in pages:
            if page.id not in scores:
                scores[page.id] = page_score(self.body(config, page), page.truth)
        return f1_of(scores, pages)

    def gains(self, name: str, base: Config, folds: list[list[Page]]) -> list[float]:
        """F1 with the rule minus without it, on each fold (the rest of the configuration as ``base``)."""
        with_rule = base if base.has(name) else base.toggled(name)
        without = with_rule.toggled(name)
        return [self.f1(with_rule, fold) - self.f1(without, fold) for fold in folds]

    def changed(self, name: str, pages: list[Page]) -> tuple[int, int]:
        """Pages whose F1 the rule raises and lowers (against the pipeline's own configuration)."""
        with_rule = Config() if Config().has(name) else Config().toggled(name)
        without = with_rule.toggled(name)
        self.f1(with_rule, pages), self.f1(without, pages)
        better = worse = 0
        for page in pages:
            gain = page_f1(self.scores[with_rule][page.id]) - page_f1(self.scores[without][page.id])
            better, worse = better + (gain > TIE), worse + (gain < -TIE)
        return better, worse


def page_f1(score: tuple[float | None, float | None]) -> float:
    precision, recall = score
    return 2 * precision * recall / (precision + recall) if precision and recall else 0.0


def kept(gains: list[float], overall: float) -> bool:
    """Raises F1 over the pages and lowers it on no fold (unchanged folds count as neither)."""
    return overall > 0 and all(gain >= -TIE for gain in gains)


def chosen(runs: Runs, folds: list[list[Page]]) -> Config:
    """The configuration the rule test picks on these folds, one rule at a time against the pipeline's own."""
    config = Config()
    pages = [page for fold in folds for page in fold]
    for name in [*RULE_NAMES, *CANDIDATES]:
        overall = runs.gains(name, Config(), [pages])[0]
        if kept(runs.gains(name, Config(), folds), overall) != config.has(name):
            config = config.toggled(name)
    return config


# --- refusals ------------------------------------------------------------------------------------


def refusal_counts(pages: list[Page]) -> dict[str, tuple[int, int]]:
    """Per refusal: dev pages it takes in the pipeline, and pages its own test fires on, length limits aside."""
    taken: Counter[str] = Counter()
    signal: Counter[str] = Counter()
    for page in pages:
        try:
            found = extract_html(page.html, page.url, NOW)
            taken["listing"] += isinstance(found, Listing)
        except Rejected as exc:
            taken[exc.kind] += 1
        tree = load_html(page.html)
        if tree is None:
            continue
        body = main_text(tree, page.url, large=False)
        teasers = teaser_links(tree, page.url)
        signal["listing"] += is_listing(body, teasers)
        signal["error-page"] += is_error_page(tree)
        signal["login-wall"] += password_in_main_content(tree)
        signal["login-wall, any password field"] += bool(tree.xpath("//input[@type='password']"))
        signal["no-article"] += words(body) < MIN_WORDS
    kinds = ["listing", "error-page", "login-wall", "login-wall, any password field", "no-article"]
    return {kind: (taken[kind], signal[kind]) for kind in kinds}


# --- report --------------------------------------------------------------------------------------


def fold_columns(values: list[float], signed: bool = False) -> str:
    return "".join(f"{value:>+9.4f}" if signed else f"{value:>9.4f}" for value in values)


def print_scores(pages: list[Page], folds: list[list[Page]]) -> None:
    by_parse(pages[0])  # warm up: imports and lazy initialisation are not extraction time
    header = "".join(f"{f'fold {k + 1}':>9}" for k in range(len(folds)))
    print(f"{'F1':<50}{'all':>9}{header}{'precision':>11}{'recall':>8}{'pages/s':>9}{'empty':>7}")
    for name, extractor in (("trafilatura alone (baseline)", by_trafilatura), ("newsflow parse extract()", by_parse)):
        score = evaluate(pages, extractor)
        per_page = {page.id: page_score(extractor(page), page.truth) for page in pages}
        print(
            f"{name:<50}{score.f1:>9.4f}{fold_columns([f1_of(per_page, fold) for fold in folds])}"
            f"{score.precision:>11.4f}{score.recall:>8.4f}{score.pages / score.seconds:>9.1f}{score.empty:>7}"
        )


def print_rules(runs: Runs, pages: list[Page], folds: list[list[Page]]) -> None:
    header = "".join(f"{f'fold {k + 1}':>9}" for k in range(len(folds)))
    print("\nF1 change with each rule, against the pipeline without it (candidates: with it added)")
    print(f"{'rule':<50}{'all':>9}{header}{'pages +/-':>11}{'kept':>6}{'in pipeline':>13}")
    for name in [*RULE_NAMES, *CANDIDATES]:
        label = RULE_NAMES.get(name) or f"candidate: {CANDIDATES[name][0]}"
        gains = runs.gains(name, Config(), folds)
        overall = runs.gains(name, Config(), [pages])[0]
        verdict = "yes" if kept(gains, overall) else "no"
        better, worse = runs.changed(name, pages)
        print(
            f"{label:<50}{overall:>+9.4f}{fold_columns(gains, signed=True)}{f'{better}/{worse}':>11}"
            f"{verdict:>6}{Config().has(name)!s:>13}"
        )


def print_held_out(runs: Runs, folds: list[list[Page]]) -> None:
    """Rules chosen on the other folds, scored on each fold in turn; then all pages under those choices."""
    scores: dict[str, tuple[float | None, float | None]] = {}
    per_fold = []
    for k, fold in enumerate(folds):
        config = chosen(runs, [other for j, other in enumerate(folds) if j != k])
        per_fold.append(runs.f1(config, fold))
        scores.update(runs.scores[config])
    every = [page for fold in folds for page in fold]
    print(
        f"\n{'held out (rules chosen on the other folds)':<50}{f1_of(scores, every):>9.4f}{fold_columns(per_fold)}"
        f"   target: F1 >= {TARGET}"
    )


def print_refusals(pages: list[Page]) -> None:
    print(f"\nRefusals on the {len(pages)} dev pages (all real articles: each one counted here is a wrong refusal)")
    print(f"{'refusal':<50}{'taken':>7}{'its test alone, length limits aside':>38}")
    for kind, (taken, signal) in refusal_counts(pages).items():
        print(f"{kind:<50}{taken if 'any' not in kind else '':>7}{signal:>38}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="score only the first N pages (a quick look)")
    args = parser.parse_args()
    if not (DATASET / "ground-truth.json").exists():
        print(f"dataset absent, skipped: {DATASET}")
        return 0
    pages = load_pages(args.limit)
    folds = folds_of(pages)
    print(f"article-extraction dev set: {len(pages)} pages in {FOLDS} folds, metric of its README (4-token shingles)")
    print_scores(pages, folds)
    runs = Runs()
    print_rules(runs, pages, folds)
    print_held_out(runs, folds)
    print_refusals(pages)
    return 0


if __name__ == "__main__":
    sys.exit(main())
