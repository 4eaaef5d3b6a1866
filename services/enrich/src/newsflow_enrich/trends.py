"""Trends: how many stories named a term in a time window, against the term's baseline.

Time is the article's (published, else parsed). The stream's event time, the watermark, is the latest article
time seen; a window closes when the watermark passes its end plus the grace period, and a late article whose
windows have all closed is counted as late and left out. Windows are hopping (size, step); their counts are
kept per pane (the greatest common divisor of every size and step, 15 minutes by default) so an article
touches one pane per term, whatever the number of windows.

A pane holds, per term, the set of story clusters that named it: a story counts once however many reprints
it has, and counting an article again (a redelivery after a crash) changes nothing. Closing is ordered so a
crash at any point re-emits the same counts: emit, then record the history and the closed mark, then drop
the panes no window needs any more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow_schemas import TrendCount
from newsflow_schemas.ids import content_id


@dataclass(frozen=True)
class WindowSpec:
    size: int
    step: int

    @property
    def name(self) -> str:
        return f"{self.size}:{self.step}"

    def starts_containing(self, start: int) -> range:
        """Starts of the windows that contain the pane beginning at ``start``."""
        last = start // self.step * self.step
        return range(last - self.size + self.step, last + 1, self.step)


def parse_windows(text: str) -> list[WindowSpec]:
    """'3600:900,86400:86400' -> 1 hour hopping by 15 minutes, and 1 day."""
    specs = []
    for part in text.split(","):
        size, _, step = part.strip().partition(":")
        spec = WindowSpec(int(size), int(step or size))
        if spec.step <= 0 or spec.size % spec.step:
            raise ValueError(f"window {part!r}: the size must be a positive multiple of the step")
        specs.append(spec)
    return specs


def score(count: int, baseline: float) -> float:
    """How unusual a count is against its baseline: a Poisson z-score, smoothed so a first sighting is finite."""
    return round((count - baseline) / math.sqrt(baseline + 1.0), 4)


@dataclass(frozen=True)
class ClosedWindow:
    spec: WindowSpec
    start: int
    counts: dict[tuple[str, str], int]
    """(type, term) -> stories."""


class TrendWindows:
    """Windowed story counts per term over three tables: panes, history and marks."""

    def __init__(
        self,
        panes: MutableMapping[str, Any],
        history: MutableMapping[str, Any],
        marks: MutableMapping[str, Any],
        specs: list[WindowSpec],
        grace: int = 900,
        baseline_windows: int = 24,
        min_stories: int = 2,
    ) -> None:
        self.panes, self.history, self.marks = panes, history, marks
        self.specs = specs
        self.grace = grace
        self.baseline_windows = baseline_windows
        self.min_stories = min_stories
        self.pane = math.gcd(*(n for spec in specs for n in (spec.size, spec.step)))
        self.late = 0
        self.rebuild()

    def rebuild(self) -> None:
        """The in-memory pane index from the table (on start and after a rebalance)."""
        self._index: dict[int, set[str]] = {}
        for key in list(self.panes.keys()):
            self._index.setdefault(int(key.split("|", 1)[0]), set()).add(key)

    @property
    def watermark(self) -> float:
        return float(self.marks.get("watermark", float("-inf")))

    def closed_until(self, spec: WindowSpec) -> float:
        """Start of the last closed window of ``spec``."""
        return float(self.marks.get(f"closed|{spec.name}", float("-inf")))

    def count(self, at: datetime, cluster_id: str, terms: Iterable[tuple[str, str]]) -> bool:
        """Count a story's terms in the pane of ``at``; False (and counted as late) when all its windows closed."""
        moment = at.timestamp()
        start = int(moment // self.pane * self.pane)
        if all(spec.starts_containing(start)[-1] <= self.closed_until(spec) for spec in self.specs):
            self.late += 1
            return False
        for kind, term in terms:
            key = f"{start}|{kind}|{term}"
            stories = self.panes.get(key) or []
            if cluster_id not in stories:
                self.panes[key] = [*stories, cluster_id]
                self._index.setdefault(start, set()).add(key)
        if moment > self.watermark:
            self.marks["watermark"] = moment
        return True

    def due(self) -> list[ClosedWindow]:
        """Windows the watermark has passed (end + grace), oldest first, with their story counts."""
        due = []
        for spec in self.specs:
            starts = {s for pane in self._index for s in spec.starts_containing(pane)}
            for start in sorted(starts):
                if start > self.closed_until(spec) and start + spec.size + self.grace <= self.watermark:
                    due.append(ClosedWindow(spec, start, self._counts(start, spec.size)))
        return sorted(due, key=lambda w: (w.start + w.spec.size, w.spec.size))

    def _counts(self, start: int, size: int) -> dict[tuple[str, str], int]:
        stories: dict[tuple[str, str], set[str]] = {}
        for pane in range(start, start + size, self.pane):
            for key in self._index.get(pane, ()):
                _, kind, term = key.split("|", 2)
                stories.setdefault((kind, term), set()).update(self.panes.get(key) or [])
        return {term: len(ids) for term, ids in stories.items() if ids}

    def trend_counts(self, window: ClosedWindow, trace_id: str) -> list[TrendCount]:
        """The records of a closed window (terms of at least min_stories), with baseline and score."""
        spec, start = window.spec, window.start
        records = []
        for (kind, term), count in sorted(window.counts.items()):
            if count < self.min_stories:
                continue
            baseline = self._baseline(spec, start, kind, term)
            records.append(
                TrendCount(
                    trace_id=trace_id,
                    trend_id=content_id("trend", kind, term, spec.name, str(start)),
                    term=term,
                    type=kind,
                    window_start=datetime.fromtimestamp(start, UTC),
                    window_end=datetime.fromtimestamp(start + spec.size, UTC),
                    count=count,
                    baseline=baseline,
                    score=score(count, baseline),
                )
            )
        return records

    def _baseline(self, spec: WindowSpec, start: int, kind: str, term: str) -> float:
        """Mean count of the term over the earlier windows of the same size that do not overlap this one."""
        past = self.history.get(f"{spec.name}|{kind}|{term}") or {}
        earlier = (str(start - k * spec.size) for k in range(1, self.baseline_windows + 1))
        return round(sum(past.get(s, 0) for s in earlier) / self.baseline_windows, 4)

    def mark_closed(self, window: ClosedWindow) -> None:
        """Record the window's counts as history and the window as closed (after its records were acked)."""
        spec, start = window.spec, window.start
        horizon = start - self.baseline_windows * spec.size
        for (kind, term), count in window.counts.items():
            key = f"{spec.name}|{kind}|{term}"
            past = {s: c for s, c in (self.history.get(key) or {}).items() if int(s) >= horizon}
            self.history[key] = {**past, str(start): count}
        self.marks[f"closed|{spec.name}"] = max(start, self.closed_until(spec))

    def drop_closed_panes(self) -> None:
        """Forget the panes every window of which has closed."""
        for pane in sorted(self._index):
            if all(spec.starts_containing(pane)[-1] <= self.closed_until(spec) for spec in self.specs):
                for key in self._index.pop(pane):
                    self.panes.pop(key, None)
