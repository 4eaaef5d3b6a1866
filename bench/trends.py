"""Trend counts on a stream as news really arrives: are the emitted counts the true ones?

    uv run python bench/trends.py [--seed N] [--stories N] [--backfill N]

A generated stream, no dataset needed: stories over three live days, each naming a few of 60 terms,
reprinted by other outlets (1-4 articles per story, one cluster); some articles late (received 1-30 hours
after they were published), some dated 1-20 hours ahead of their arrival (a publisher's clock or time zone),
some delivered twice (at least once); then a backfill of old articles (30-60 days back) arriving after the
live stream, shuffled. It runs through enrich's trend state (trends.py) in batches of 32, closing after each
batch the way the service does, and keeps the last TrendCount per trend_id (what Elasticsearch holds).

The truth: per window (1 hour hopping by 15 minutes, and 1 day) and term, the set of stories with an article
in that window by its true time (a future-dated article's true time is its arrival). Printed: windows and
terms with a count, mismatches against the emitted counts, emissions per window, and what the clock saw.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from newsflow_enrich.settings import EnrichSettings
from newsflow_enrich.trends import TrendWindows, WindowSpec, event_time, parse_windows
from newsflow_schemas import TrendCount

START = datetime(2030, 3, 1, tzinfo=UTC)
LIVE = timedelta(days=3)
BATCH = 32
TYPES = ("PERSON", "ORG", "LOC", "KEYWORD")


@dataclass(frozen=True)
class Delivery:
    cluster: str
    terms: tuple[tuple[str, str], ...]
    true_time: datetime
    published_at: datetime | None
    received_at: datetime
    kind: str
    """on-time, late, future-dated, undated, backfill."""


def generate(rng: random.Random, stories: int, backfill: int) -> list[Delivery]:
    """The live stream in order of arrival, redeliveries included, then the backfill."""
    terms = [(TYPES[i % len(TYPES)], f"term-{i:02d}") for i in range(60)]
    weights = [1 / (rank + 1) for rank in range(len(terms))]  # a few terms are in most stories
    live: list[Delivery] = []
    for story in range(stories):
        named = tuple(dict.fromkeys(rng.choices(terms, weights, k=rng.randint(1, 4))))
        first = START + timedelta(seconds=rng.randrange(int(LIVE.total_seconds())))
        for copy in range(rng.randint(1, 4)):
            happened = first + timedelta(minutes=rng.randrange(0, 180) * min(copy, 1))
            live.append(_article(rng, f"story-{story}", named, happened))
    live += [rng.choice(live) for _ in range(len(live) // 20)]  # delivered twice
    live.sort(key=lambda d: d.received_at)
    old = []
    now = max(d.received_at for d in live)
    for i in range(backfill):
        named = tuple(dict.fromkeys(rng.choices(terms, weights, k=rng.randint(1, 4))))
        happened = START - timedelta(days=30) - timedelta(seconds=rng.randrange(30 * 86400))
        old.append(Delivery(f"old-{i // 2}", named, happened, happened, now + timedelta(minutes=1), "backfill"))
    rng.shuffle(old)
    return live + old


def _article(rng: random.Random, cluster: str, terms: tuple[tuple[str, str], ...], happened: datetime) -> Delivery:
    roll = rng.random()
    if roll < 0.10:
        received = happened + timedelta(minutes=rng.randrange(60, 30 * 60))
        return Delivery(cluster, terms, happened, happened, received, "late")
    if roll < 0.15:  # dated ahead of its arrival; it happened when it arrived
        ahead = happened + timedelta(minutes=rng.randrange(60, 20 * 60))
        return Delivery(cluster, terms, happened, ahead, happened, "future-dated")
    if roll < 0.18:
        return Delivery(cluster, terms, happened, None, happened, "undated")
    received = happened + timedelta(seconds=rng.randrange(30, 600))
    return Delivery(cluster, terms, happened, happened, received, "on-time")


def truth(deliveries: list[Delivery], specs: list[WindowSpec], pane: int) -> dict[tuple[int, int, str, str], int]:
    """(size, start, type, term) -> stories, from the true times."""
    stories: dict[tuple[int, int, str, str], set[str]] = defaultdict(set)
    for d in deliveries:
        moment = int(d.true_time.timestamp()) // pane * pane
        for spec in specs:
            for start in spec.starts_containing(moment):
                for kind, term in d.terms:
                    stories[(spec.size, start, kind, term)].add(d.cluster)
    return {key: len(ids) for key, ids in stories.items()}


def run(deliveries: list[Delivery], trends: TrendWindows) -> tuple[dict[str, TrendCount], Counter[tuple[int, int]]]:
    """Through the trend state in batches; the last record per trend_id and the emissions per window."""
    last: dict[str, TrendCount] = {}
    emissions: Counter[tuple[int, int]] = Counter()
    for first in range(0, max(len(deliveries), 1), BATCH):
        for d in deliveries[first : first + BATCH]:
            at, _ = event_time(d.published_at, d.received_at)
            trends.count(at, d.cluster, d.terms)
        for window in trends.due():
            records = trends.trend_counts(window, "bench")
            last.update((r.trend_id, r) for r in records)
            if records:
                emissions[(window.spec.size, window.start)] += 1
            trends.mark_closed(window)
        trends.drop_closed_panes()
    return last, emissions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--stories", type=int, default=3000)
    parser.add_argument("--backfill", type=int, default=1100)
    args = parser.parse_args()
    settings = EnrichSettings()
    specs = parse_windows(settings.trend_windows)
    deliveries = generate(random.Random(args.seed), args.stories, args.backfill)
    tables: tuple[dict[str, object], dict[str, object], dict[str, object]] = ({}, {}, {})
    trends = TrendWindows(
        *tables,
        specs,
        settings.trend_grace_seconds,
        settings.trend_baseline_windows,
        settings.trend_min_stories,
        settings.trend_retention_seconds,
    )
    began = time.perf_counter()
    last, emissions = run(deliveries, trends)
    elapsed = time.perf_counter() - began
    trends.count(START + LIVE + timedelta(days=3), "end", [])  # the clock moves on: every window closes
    more, more_emissions = run([], trends)
    last.update(more)
    emissions.update(more_emissions)

    expected = {k: v for k, v in truth(deliveries, specs, trends.pane).items() if v >= settings.trend_min_stories}
    got = {
        (int((r.window_end - r.window_start).total_seconds()), int(r.window_start.timestamp()), r.type, r.term): r.count
        for r in last.values()
    }
    wrong = {k for k in expected.keys() | got.keys() if expected.get(k) != got.get(k)}
    kinds = Counter(d.kind for d in deliveries)
    windows = {(size, start) for size, start, _, _ in expected}
    print(f"deliveries: {len(deliveries)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))})")
    print(f"  of which redelivered: {len(deliveries) - len(set(deliveries))}")
    print(f"stories: {len({d.cluster for d in deliveries})}, terms: {len({(k, t) for _, _, k, t in expected})}")
    for spec in specs:
        of_spec = [w for w in windows if w[0] == spec.size]
        sent = [n for (size, _), n in emissions.items() if size == spec.size]
        print(
            f"window {spec.name:>12}: {len(of_spec)} windows with a trend, "
            f"{sum(1 for k in expected if k[0] == spec.size)} (window, term) counts, "
            f"emissions per window: mean {sum(sent) / max(len(sent), 1):.2f}, max {max(sent, default=0)}"
        )
    print(f"TrendCount records sent: {sum(1 for _ in last)} distinct trend_ids")
    print(f"mismatches (last emission per trend_id vs true count): {len(wrong)} of {len(expected)}")
    for key in sorted(wrong)[:10]:
        print(f"  {key}: true {expected.get(key)}, emitted {got.get(key)}")
    corrections = REGISTRY.get_sample_value("newsflow_enrich_late_corrections_total")
    print(f"arrived after a window of theirs closed, and corrected it: {corrections:.0f}")
    print(f"left out as late: {trends.late}; panes held at the end: {len(trends.panes)}")
    print(f"trend state: {len(deliveries) / elapsed:,.0f} deliveries/s")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
