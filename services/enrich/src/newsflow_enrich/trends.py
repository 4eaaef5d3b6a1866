"""Trends: how many stories named a term in a time window, against the term's baseline.

Event time is the article's publication time, clamped to the time it was received (parsed): a date ahead
of its arrival is a clock or time-zone error, so one outlier cannot move the stream's clock. The watermark
is the latest event time seen, never ahead of the latest arrival; a window closes, and its TrendCount
records are emitted, when the watermark passes its end plus the grace period.

Late articles still count. An article for a closed window goes into its pane like any other; the window's
changed terms are recorded (a ``dirty`` mark) and emitted again with their corrected counts under the same
``trend_id``, which downstream is an overwrite. A backfill of history is a stream of late articles: it counts
as it was. The panes of a closed window are kept until nothing has touched the window for ``retention``
seconds of watermark; then they are dropped and their panes sealed: a later article for them is left out
(counted as late), because a count recomputed from what is left would lower an emitted count.

Windows are hopping (size, step); their counts are kept per pane (the greatest common divisor of every size
and step, 15 minutes by default), so an article touches one pane per term whatever the number of windows.
A pane holds, per term, the set of story clusters that named it: a story counts once however many reprints
it has, and counting an article again (a redelivery after a crash) changes nothing. Closing is ordered so a
crash at any point re-emits the same counts: emit, then record the history and the closed (or corrected)
mark, then drop the panes no window needs any more.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from newsflow_common.logs import get_logger
from newsflow_enrich.metrics import FUTURE_DATES, LATE_CORRECTIONS, OUT_OF_RANGE
from newsflow_schemas import Article, TrendCount
from newsflow_schemas.ids import content_id

log = get_logger(__name__)


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


def event_time(published_at: datetime | None, received_at: datetime) -> tuple[datetime, bool]:
    """When the story happened, for trends, and whether its date was clamped.

    Published, else received; a publication date ahead of the time received cannot be true (a publisher's
    clock or time-zone mistake), so it is clamped to the time received. Past dates stand, however old:
    a backfill is history.
    """
    if published_at is None:
        return received_at, False
    if published_at > received_at:
        return received_at, True
    return published_at, False


def article_time(article: Article, now: datetime | None = None) -> datetime:
    """:func:`event_time` of an article, a clamp counted and logged.

    Received: when parse made it, but never after ``now`` (enrich's clock): a parse host's wrong clock or a
    forged record cannot move trends' clock past the present either.
    """
    at, clamped = event_time(article.published_at, min(article.parsed_at, now or datetime.now(UTC)))
    if clamped:
        FUTURE_DATES.inc()
        log.info(
            "future date clamped",
            article_id=article.article_id,
            trace_id=article.trace_id,
            source=article.source,
            published_at=article.published_at.isoformat() if article.published_at else None,
            received_at=article.parsed_at.isoformat(),
        )
    return at


@dataclass(frozen=True)
class ClosedWindow:
    spec: WindowSpec
    start: int
    counts: dict[tuple[str, str], int]
    """(type, term) -> stories."""
    correction: bool = False
    """Emitted before: ``counts`` holds only the terms late articles changed, with their whole counts."""


class TrendWindows:
    """Windowed story counts per term over three tables: panes, history and marks.

    Keys (all values JSON): panes ``{pane}|{type}|{term}`` -> cluster ids; history
    ``{window}|{type}|{term}`` -> {start: count}; marks ``watermark``, ``closed|{window}`` (the start of
    the last window closed in order), ``touched|{window}|{start}`` (the watermark when a pane of it last
    changed), ``dirty|{window}|{start}`` (``type|term`` of a closed window changed since it was emitted)
    and ``sealed|{pane}`` (a pane dropped: articles for it are left out).
    """

    def __init__(
        self,
        panes: MutableMapping[str, Any],
        history: MutableMapping[str, Any],
        marks: MutableMapping[str, Any],
        specs: list[WindowSpec],
        grace: int = 900,
        baseline_windows: int = 24,
        min_stories: int = 2,
        retention: int = 86400,
    ) -> None:
        self.panes, self.history, self.marks = panes, history, marks
        self.specs = specs
        self.grace = grace
        self.baseline_windows = baseline_windows
        self.min_stories = min_stories
        self.retention = retention
        self.pane = math.gcd(*(n for spec in specs for n in (spec.size, spec.step)))
        self.late = 0
        """Articles left out since this process started: their panes were sealed."""
        self.out_of_range = 0
        """Articles left out since this process started: no window of theirs can be dated (year 1, say)."""
        widest = max(spec.size for spec in specs)
        self._earliest = datetime.min.replace(tzinfo=UTC).timestamp() + widest
        self._latest = datetime.max.replace(tzinfo=UTC).timestamp() - widest - grace
        self.rebuild()

    def rebuild(self) -> None:
        """The in-memory indexes from the tables (on start and after a rebalance)."""
        self._index: dict[int, set[str]] = {}
        for key in list(self.panes.keys()):
            self._index.setdefault(int(key.split("|", 1)[0]), set()).add(key)
        self._dirty = {key for key in list(self.marks.keys()) if key.startswith("dirty|")}

    @property
    def watermark(self) -> float:
        return float(self.marks.get("watermark", float("-inf")))

    def closed_until(self, spec: WindowSpec) -> float:
        """Start of the last window of ``spec`` closed in order: every window up to it has been emitted."""
        return float(self.marks.get(f"closed|{spec.name}", float("-inf")))

    def _windows_of(self, pane: int) -> Iterator[tuple[WindowSpec, int]]:
        for spec in self.specs:
            for start in spec.starts_containing(pane):
                yield spec, start

    def _panes_of(self, spec: WindowSpec, start: int) -> range:
        return range(start, start + spec.size, self.pane)

    def _sealed(self, spec: WindowSpec, start: int) -> bool:
        return any(f"sealed|{pane}" in self.marks for pane in self._panes_of(spec, start))

    def count(self, at: datetime, cluster_id: str, terms: Iterable[tuple[str, str]]) -> bool:
        """Count a story's terms in the pane of ``at``; False (and counted) when its pane was sealed, or when
        no window of it can be dated.

        Whether its windows are open or closed: a closed one is marked for correction.
        """
        moment = at.timestamp()
        pane = int(moment // self.pane * self.pane)
        if not self._earliest <= moment <= self._latest:
            self.out_of_range += 1
            OUT_OF_RANGE.inc()
            return False
        if f"sealed|{pane}" in self.marks:
            self.late += 1
            return False
        if moment > self.watermark:
            self.marks["watermark"] = moment
        changed = []
        for kind, term in terms:
            key = f"{pane}|{kind}|{term}"
            stories = self.panes.get(key) or []
            if cluster_id not in stories:
                self.panes[key] = [*stories, cluster_id]
                self._index.setdefault(pane, set()).add(key)
                changed.append(f"{kind}|{term}")
        if changed:
            self._touch(pane, changed)
        return True

    def _touch(self, pane: int, changed: list[str]) -> None:
        """Keep the pane's windows (retention counts from now); mark the closed ones for correction."""
        corrected = False
        for spec, start in self._windows_of(pane):
            touched = f"touched|{spec.name}|{start}"
            if self.watermark - float(self.marks.get(touched, float("-inf"))) >= self.pane:
                self.marks[touched] = self.watermark  # once per pane of clock: fewer changelog writes
            if start <= self.closed_until(spec) and not self._sealed(spec, start):
                dirty = f"dirty|{spec.name}|{start}"
                self.marks[dirty] = sorted({*(self.marks.get(dirty) or []), *changed})
                self._dirty.add(dirty)
                corrected = True
        if corrected:
            LATE_CORRECTIONS.inc()

    def due(self) -> list[ClosedWindow]:
        """Windows to emit, oldest end first: those the watermark has passed (end + grace), and corrections."""
        due = [*self._closing(), *self._corrections()]
        return sorted(due, key=lambda w: (w.start + w.spec.size, w.spec.size, w.correction))

    def _closing(self) -> Iterator[ClosedWindow]:
        for spec in self.specs:
            closed = self.closed_until(spec)
            starts = {s for pane in self._index for s in spec.starts_containing(pane) if s > closed}
            for start in sorted(starts):
                if start + spec.size + self.grace <= self.watermark:
                    yield ClosedWindow(spec, start, self._counts(start, spec.size))

    def _corrections(self) -> Iterator[ClosedWindow]:
        specs = {spec.name: spec for spec in self.specs}
        for key in sorted(self._dirty):
            _, name, start = key.split("|")
            terms = [tuple(term.split("|", 1)) for term in self.marks.get(key) or []]
            counts = {(kind, term): self._stories(specs[name], int(start), kind, term) for kind, term in terms}
            yield ClosedWindow(specs[name], int(start), counts, correction=True)

    def _stories(self, spec: WindowSpec, start: int, kind: str, term: str) -> int:
        stories: set[str] = set()
        for pane in self._panes_of(spec, start):
            if pane in self._index:  # most panes of a day's window hold nothing
                stories.update(self.panes.get(f"{pane}|{kind}|{term}") or [])
        return len(stories)

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
        """Record the counts as history, the window as closed or corrected (after its records were acked)."""
        spec, start = window.spec, window.start
        horizon = start - self.baseline_windows * spec.size
        for (kind, term), count in window.counts.items():
            key = f"{spec.name}|{kind}|{term}"
            past = {s: c for s, c in (self.history.get(key) or {}).items() if int(s) >= horizon}
            self.history[key] = {**past, str(start): count}
        if not window.correction:
            self.marks[f"closed|{spec.name}"] = max(start, self.closed_until(spec))
            return
        dirty = f"dirty|{spec.name}|{start}"
        emitted = {f"{kind}|{term}" for kind, term in window.counts}
        left = sorted(set(self.marks.get(dirty) or []) - emitted)  # changed again while its records were sent
        if left:
            self.marks[dirty] = left
        else:
            self.marks.pop(dirty, None)
            self._dirty.discard(dirty)

    def drop_closed_panes(self) -> None:
        """Forget the panes whose windows all closed and stayed untouched for the retention; seal them."""
        for pane in sorted(self._index):
            if all(self._done(spec, start) for spec, start in self._windows_of(pane)):
                for key in self._index.pop(pane):
                    self.panes.pop(key, None)
                self.marks[f"sealed|{pane}"] = True
                for spec, start in self._windows_of(pane):
                    if not any(p in self._index for p in self._panes_of(spec, start)):
                        self.marks.pop(f"touched|{spec.name}|{start}", None)

    def _done(self, spec: WindowSpec, start: int) -> bool:
        touched = float(self.marks.get(f"touched|{spec.name}|{start}", float("-inf")))
        return (
            start <= self.closed_until(spec)
            and self.watermark - touched >= self.retention
            and f"dirty|{spec.name}|{start}" not in self._dirty
        )
