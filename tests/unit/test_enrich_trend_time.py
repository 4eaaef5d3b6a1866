"""Trends on real clocks: future dates, late articles and backfills still give the true counts.

The findings of issue 13, each as a test: 20 stories inside an hour count 20 whatever one article's clock
says; an article that arrives after its window closed corrects it (the TrendCount comes again with the same
trend_id, an overwrite downstream); a backfill of history counts as it was. The state runs over plain dicts
here, closed the way the service closes it (emit, mark closed, drop).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_enrich.trends import TrendWindows, WindowSpec, event_time
from newsflow_schemas import TrendCount

T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)  # in the past: trends clamp dates ahead of now
HOURLY = WindowSpec(3600, 900)
DAILY = WindowSpec(86400, 86400)
PUTIN = ("PERSON", "Vladimir Putin")


def windows(tables: tuple[dict, dict, dict] | None = None, **options: int) -> TrendWindows:  # type: ignore[type-arg]
    panes, history, marks = tables or ({}, {}, {})
    return TrendWindows(panes, history, marks, [HOURLY, DAILY], grace=900, **options)


class Emitted(dict[str, TrendCount]):
    """What downstream holds: the last TrendCount per trend_id (an index overwrites by id)."""

    def __init__(self) -> None:
        super().__init__()
        self.emissions = 0
        self.lowered: list[tuple[int, int]] = []
        """(was, now) of every re-emission that lowered a count downstream already had."""

    def close(self, trends: TrendWindows) -> None:
        """What the service does after each batch: emit what is due, mark it closed, drop what is done."""
        for window in trends.due():
            for record in trends.trend_counts(window, "t"):
                earlier = self.get(record.trend_id)
                if earlier and earlier.count > record.count:
                    self.lowered.append((earlier.count, record.count))
                self[record.trend_id] = record
                self.emissions += 1
            trends.mark_closed(window)
        trends.drop_closed_panes()

    def count(self, spec: WindowSpec, start: datetime, term: tuple[str, str] = PUTIN) -> int | None:
        found = [
            r.count
            for r in self.values()
            if (r.type, r.term) == term
            and r.window_start == start
            and r.window_end == start + timedelta(seconds=spec.size)
        ]
        return found[0] if found else None

    def best_hourly(self, term: tuple[str, str] = PUTIN) -> int:
        return max(
            (
                r.count
                for r in self.values()
                if (r.type, r.term) == term and r.window_end - r.window_start == timedelta(hours=1)
            ),
            default=0,
        )


def feed(trends: TrendWindows, emitted: Emitted, stories: list[tuple[str, datetime | None, datetime]]) -> None:
    """(cluster, published, received) one at a time, closing after each as a batch of one would."""
    for cluster, published, received in stories:
        at, _ = event_time(published, received)
        trends.count(at, cluster, [PUTIN])
        emitted.close(trends)


def twenty_stories_in_an_hour() -> list[tuple[str, datetime | None, datetime]]:
    return [(f"story-{i}", T0 + timedelta(minutes=3 * i), T0 + timedelta(minutes=3 * i + 1)) for i in range(20)]


# the clock


def test_event_time_is_published_unless_ahead_of_the_time_received_then_clamped_and_said() -> None:
    assert event_time(T0, T0 + timedelta(minutes=5)) == (T0, False)
    assert event_time(None, T0) == (T0, False)
    assert event_time(T0 + timedelta(hours=2), T0) == (T0, True)
    assert event_time(T0 - timedelta(days=400), T0) == (T0 - timedelta(days=400), False)  # history is history


def test_one_article_dated_two_hours_ahead_arriving_first_leaves_the_hourly_count_at_20() -> None:
    stories = twenty_stories_in_an_hour()
    outlier = ("story-0", T0 + timedelta(hours=2), T0)  # a publisher's time-zone mistake, first in the stream
    trends, emitted = windows(), Emitted()
    feed(trends, emitted, [outlier, *stories[1:]])
    assert trends.watermark <= (T0 + timedelta(hours=1)).timestamp()  # the outlier did not move the clock
    trends.count(T0 + timedelta(days=2), "tick", [])  # time moves on: every window closes
    emitted.close(trends)
    assert emitted.best_hourly() == 20


def test_an_article_dated_twenty_hours_ahead_drops_none_of_the_twenty() -> None:
    stories = twenty_stories_in_an_hour()
    trends, emitted = windows(), Emitted()
    feed(trends, emitted, [("story-0", T0 + timedelta(hours=20), T0), *stories[1:]])
    trends.count(T0 + timedelta(days=2), "tick", [])
    emitted.close(trends)
    assert trends.late == 0
    assert emitted.best_hourly() == 20
    assert emitted.count(DAILY, T0.replace(hour=0)) == 20


# late articles


def test_a_late_article_corrects_its_closed_window_under_the_same_trend_id() -> None:
    trends, emitted = windows(), Emitted()
    feed(
        trends,
        emitted,
        [("s1", T0, T0), ("s2", T0 + timedelta(minutes=1), T0), ("tick", None, T0 + timedelta(hours=3))],
    )
    assert emitted.count(HOURLY, T0) == 2
    ids = set(emitted)
    feed(trends, emitted, [("s3", T0 + timedelta(minutes=30), T0 + timedelta(hours=3))])  # arrives after the close
    assert emitted.count(HOURLY, T0) == 3
    assert set(emitted) == ids  # the same records, overwritten, not new ones beside them
    assert trends.late == 0


def test_a_late_article_delivered_again_emits_nothing_more() -> None:
    trends, emitted = windows(), Emitted()
    late = ("s3", T0 + timedelta(minutes=30), T0 + timedelta(hours=3))
    feed(trends, emitted, [("s1", T0, T0), ("s2", T0, T0), ("tick", None, T0 + timedelta(hours=3)), late])
    before, sent = dict(emitted), emitted.emissions
    feed(trends, emitted, [late])  # at-least-once: the same article again
    assert emitted == before
    assert emitted.emissions == sent


def test_a_reprint_arriving_late_does_not_count_its_story_twice() -> None:
    trends, emitted = windows(), Emitted()
    feed(trends, emitted, [("s1", T0, T0), ("s2", T0, T0), ("tick", None, T0 + timedelta(hours=3))])
    feed(trends, emitted, [("s1", T0 + timedelta(minutes=40), T0 + timedelta(hours=3))])  # a reprint of s1
    assert emitted.count(HOURLY, T0) == 2


def test_a_correction_survives_a_restart_between_the_late_article_and_its_emission() -> None:
    tables: tuple[dict, dict, dict] = ({}, {}, {})  # type: ignore[type-arg]
    before, emitted = windows(tables), Emitted()
    feed(before, emitted, [("s1", T0, T0), ("s2", T0, T0), ("tick", None, T0 + timedelta(hours=3))])
    before.count(T0 + timedelta(minutes=30), "s3", [PUTIN])  # counted, then the process dies before emitting
    emitted.close(windows(tables))  # a new process: only the tables survived
    assert emitted.count(HOURLY, T0) == 3


def test_past_the_retention_a_late_article_is_left_out_and_never_lowers_an_emitted_count() -> None:
    trends, emitted = windows(retention=86400), Emitted()
    feed(trends, emitted, [("s1", T0, T0), ("s2", T0, T0), ("s3", T0, T0), ("tick", None, T0 + timedelta(days=5))])
    assert emitted.count(HOURLY, T0) == 3
    assert not [key for key in trends.panes if key.startswith(str(int(T0.timestamp())))]  # dropped after retention
    feed(trends, emitted, [("s4", T0, T0 + timedelta(days=5))])
    assert trends.late == 1
    assert emitted.count(HOURLY, T0) == 3  # not overwritten by a count of the one story it could see


# backfills


def test_a_backfill_of_history_counts_as_it_was() -> None:
    """~1,100 historical articles behind a live stream: every window counted, none late, none left out."""
    rng = random.Random(13)
    now = T0 + timedelta(days=90)
    trends, emitted = windows(), Emitted()
    feed(trends, emitted, [(f"live-{i}", now + timedelta(minutes=i), now + timedelta(minutes=i)) for i in range(30)])
    truth: dict[datetime, set[str]] = defaultdict(set)
    history = []
    for i in range(1100):
        published = T0 + timedelta(minutes=rng.randrange(60 * 24 * 60))
        cluster = f"old-{i // 2}"  # reprints: two articles per story
        truth[published.replace(hour=0, minute=0)].add(cluster)
        history.append((cluster, published, now + timedelta(hours=1)))
    rng.shuffle(history)
    feed(trends, emitted, history)
    assert trends.late == 0
    for day, stories in truth.items():
        assert emitted.count(DAILY, day) == (len(stories) if len(stories) >= 2 else None), day


# the property: whatever the order, the last emission is the truth


story_events = st.lists(
    st.tuples(
        st.integers(0, 9),  # story
        st.integers(0, 6 * 3600),  # published, seconds after T0
        st.integers(-3600, 8 * 3600),  # received, seconds after published (negative: dated ahead)
        st.sampled_from(["A", "B"]),  # term
    ),
    min_size=1,
    max_size=60,
)


@given(events=story_events, batch=st.integers(1, 7), repeat=st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_whatever_the_order_redeliveries_and_clock_errors_the_last_emission_is_the_true_count(
    events: list[tuple[int, int, int, str]], batch: int, repeat: bool
) -> None:
    trends, emitted = windows(), Emitted()
    arrivals = sorted(events, key=lambda e: e[1] + e[2])  # in order of receipt
    stream = arrivals + arrivals[: len(arrivals) // 2] if repeat else arrivals  # a redelivered half
    truth: dict[tuple[WindowSpec, int, str], set[int]] = defaultdict(set)
    for position, (story, published_s, received_s, term) in enumerate(stream):
        published, received = T0 + timedelta(seconds=published_s), T0 + timedelta(seconds=published_s + received_s)
        at, _ = event_time(published, received)
        trends.count(at, f"s{story}", [("KEYWORD", term)])
        moment = int(at.timestamp())
        for spec in (HOURLY, DAILY):
            for start in spec.starts_containing(moment // 900 * 900):
                truth[(spec, start, term)].add(story)
        if position % batch == batch - 1:
            emitted.close(trends)
    trends.count(T0 + timedelta(days=3), "tick", [])
    emitted.close(trends)
    expected = {
        (spec.size, start, term): len(stories) for (spec, start, term), stories in truth.items() if len(stories) >= 2
    }
    got = {
        (int((r.window_end - r.window_start).total_seconds()), int(r.window_start.timestamp()), r.term): r.count
        for r in emitted.values()
    }
    assert got == expected


@given(events=story_events, batch=st.integers(1, 7))
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_with_a_short_retention_counts_are_never_overstated_nor_lowered(
    events: list[tuple[int, int, int, str]], batch: int
) -> None:
    """Stragglers past the retention are left out: counts may stay short of the truth, never above it or lowered."""
    trends, emitted = TrendWindows({}, {}, {}, [HOURLY], grace=900, retention=1800), Emitted()  # hours only: panes go
    truth: dict[tuple[int, int, str], set[int]] = defaultdict(set)
    for position, (story, published_s, received_s, term) in enumerate(sorted(events, key=lambda e: e[1] + e[2])):
        at, _ = event_time(T0 + timedelta(seconds=published_s), T0 + timedelta(seconds=published_s + received_s))
        counted = trends.count(at, f"s{story}", [("KEYWORD", term)])
        for start in HOURLY.starts_containing(int(at.timestamp()) // 900 * 900):
            if counted:
                truth[(HOURLY.size, start, term)].add(story)
        if position % batch == batch - 1:
            emitted.close(trends)
    trends.count(T0 + timedelta(days=3), "tick", [])
    emitted.close(trends)
    assert emitted.lowered == []
    for r in emitted.values():
        key = (int((r.window_end - r.window_start).total_seconds()), int(r.window_start.timestamp()), r.term)
        assert r.count <= len(truth[key])


# dates no window can hold


EXTREMES = st.sampled_from([datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)])
ANY_DATE = EXTREMES | st.datetimes(timezones=st.just(UTC))


@given(published=st.none() | ANY_DATE, received=ANY_DATE)
@settings(max_examples=200, deadline=None)
def test_any_date_at_all_is_counted_or_left_out_and_closing_never_fails(
    published: datetime | None, received: datetime
) -> None:
    """Year 1 or 9999 in a schema-valid article must not stop trends for everyone (issue 10's poison)."""
    trends, emitted = windows(), Emitted()
    trends.count(T0, "s1", [PUTIN])
    trends.count(T0, "s2", [PUTIN])
    at, _ = event_time(published, received)
    counted = [trends.count(at, story, [PUTIN]) for story in ("odd-1", "odd-2")]  # two: a trend to emit
    trends.count(T0 + timedelta(days=3), "tick", [])
    emitted.close(trends)  # raises on a window it cannot date
    assert emitted.count(HOURLY, T0) == 2
    assert trends.out_of_range == counted.count(False)


def test_a_received_time_ahead_of_the_wall_clock_is_clamped_to_it() -> None:
    """parse's clock, or a forged record, cannot move trends' clock past now either."""
    from newsflow_enrich.trends import article_time
    from newsflow_schemas import Article

    far = datetime(9999, 12, 31, tzinfo=UTC)
    article = Article(
        trace_id="t", article_id="a", doc_id="d", source="s", title="t", body="b", extractor="plain-text",
        parsed_at=far, published_at=far,
    )  # fmt: skip
    before = datetime.now(UTC)
    assert before <= article_time(article) <= datetime.now(UTC)
