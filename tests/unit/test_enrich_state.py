"""Enrich state across articles: clusters of near-duplicates, aliases, windowed story counts; restarts.

The state classes run over plain dicts here; in the service the same code runs over the state store's tables.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow_enrich.aliases import AliasBook
from newsflow_enrich.dedup import DuplicateIndex, shingles, signature
from newsflow_enrich.trends import TrendWindows, WindowSpec, parse_windows, score
from newsflow_schemas import Entity
from newsflow_schemas.ids import content_id

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
T0 = datetime(2025, 1, 1, 10, 0, tzinfo=UTC)  # in the past: trends clamp dates ahead of now
STORY = (
    "An apartment building collapsed on Monday in Magnitogorsk, a city in the Ural region of Russia. A suspected "
    "gas leak led to an explosion, followed by the ten-storey building coming down. A total of 39 are confirmed "
    "dead, officials told state media, adding that rescuers ended their work yesterday. The 1973 building was "
    "home to over 1,000 people; 48 apartments were damaged. Rescuers, working in temperatures well below "
    "freezing, recovered at least ten survivors from the debris on Monday. President Vladimir Putin was briefed "
    "and flew to Magnitogorsk, observing the rescue mission and visiting the wounded in hospital."
)


def light_edit(text: str, copy: int) -> str:
    """A reprint: three words changed, a line added, like agencies' copies of one wire story."""
    words = text.split()
    for k in range(3):
        words[(copy * 7 + k * 31) % len(words)] = f"changed{copy}"
    return " ".join(words) + f" Reported by outlet {copy}."


def other_stories(count: int) -> list[str]:
    path = DATASETS / "wikinews" / "wikinews_2019.csv"
    if not path.exists():
        pytest.skip("dataset absent: ../shared/datasets/wikinews")
    with path.open() as file:
        return [row["text"] for row in csv.DictReader(file)][1 : count + 1]


# near-duplicates


def test_ten_lightly_edited_copies_form_one_cluster_started_by_the_first() -> None:
    index = DuplicateIndex({})
    matches = [index.assign(f"copy-{i}", signature(light_edit(STORY, i))) for i in range(10)]
    assert {m.cluster_id for m in matches} == {"copy-0"}
    assert matches[0].duplicate_of is None
    assert all(m.duplicate_of and m.duplicate_of.startswith("copy-") for m in matches[1:])


def test_different_stories_start_their_own_clusters() -> None:
    index = DuplicateIndex({})
    bodies = other_stories(20)
    matches = [index.assign(f"story-{i}", signature(body)) for i, body in enumerate(bodies)]
    assert [m.cluster_id for m in matches] == [f"story-{i}" for i in range(len(bodies))]
    assert all(m.duplicate_of is None for m in matches)


def test_processing_an_article_again_gives_the_same_answer_and_stores_nothing_new() -> None:
    table: dict[str, dict[str, object]] = {}
    index = DuplicateIndex(table)
    index.assign("a", signature(STORY))
    first = index.assign("b", signature(light_edit(STORY, 1)))
    stored = dict(table)
    assert index.assign("b", signature(light_edit(STORY, 1))) == first
    assert table == stored


def test_a_restart_rebuilds_the_index_from_the_table_and_clusters_continue() -> None:
    table: dict[str, dict[str, object]] = {}
    before = DuplicateIndex(table)
    for i in range(5):
        before.assign(f"copy-{i}", signature(light_edit(STORY, i)))
    after = DuplicateIndex(table)  # a new process: only the table (the changelog) survived
    assert len(after) == 5
    assert after.assign("copy-5", signature(light_edit(STORY, 5))).cluster_id == "copy-0"


def test_the_index_keeps_at_most_max_articles_the_oldest_go_first() -> None:
    table: dict[str, dict[str, object]] = {}
    index = DuplicateIndex(table, max_articles=3)
    for i, body in enumerate(other_stories(5)):
        index.assign(f"story-{i}", signature(body))
    assert len(index) == 3
    assert set(table) == {"story-2", "story-3", "story-4"}


def test_an_empty_body_has_no_signature_and_clusters_alone() -> None:
    assert signature("") is None
    assert DuplicateIndex({}).assign("x", None).cluster_id == "x"


# aliases


def person(name: str, count: int = 1) -> Entity:
    return Entity(name=name, type="PERSON", count=count, first_offset=0)


def test_a_spelling_learnt_in_one_article_maps_to_the_canonical_name_in_the_next() -> None:
    book = AliasBook({})
    book.apply([person("Ahmad Massoud", 3)], {("Ahmad Massoud", "PERSON"): {"Ahmad Masoud", "Ahmad Massoud"}})
    later = book.apply([person("Ahmad Masoud", 2), person("AHMAD MASSOUD")], {})
    assert [(e.name, e.count) for e in later] == [("Ahmad Massoud", 3)]  # merged, counts not split


def test_aliases_keep_types_apart_and_never_change_a_learnt_entry() -> None:
    table: dict[str, str] = {}
    book = AliasBook(table)
    book.apply([person("Jordan")], {})
    book.apply([person("Michael Jordan")], {("Michael Jordan", "PERSON"): {"Jordan"}})
    assert table["PERSON|jordan"] == "Jordan"
    place = Entity(name="Jordan", type="LOC", count=1, first_offset=0)
    assert book.apply([place], {})[0].type == "LOC"


# trends

HOURLY = WindowSpec(3600, 900)
DAILY = WindowSpec(86400, 86400)


def windows(tables: tuple[dict, dict, dict] | None = None, **options: int) -> TrendWindows:  # type: ignore[type-arg]
    panes, history, marks = tables or ({}, {}, {})
    return TrendWindows(panes, history, marks, [HOURLY, DAILY], grace=900, **options)


def closed(trends: TrendWindows) -> list[tuple[int, int, dict[tuple[str, str], int]]]:
    """Close what is due the way the service does; (size, start, counts) of each window."""
    result = []
    for window in trends.due():
        result.append((window.spec.size, window.start, window.counts))
        trends.mark_closed(window)
    trends.drop_closed_panes()
    return result


def test_parse_windows() -> None:
    assert parse_windows("3600:900,86400:86400") == [HOURLY, DAILY]
    assert parse_windows("600") == [WindowSpec(600, 600)]
    with pytest.raises(ValueError, match="multiple"):
        parse_windows("1000:300")


def test_a_story_counts_once_however_many_reprints_and_redeliveries() -> None:
    trends = windows()
    for minute in range(10):  # ten copies of one story: one cluster
        trends.count(T0 + timedelta(minutes=minute), "story-1", [("LOC", "Magnitogorsk")])
    trends.count(T0 + timedelta(minutes=3), "story-1", [("LOC", "Magnitogorsk")])  # redelivered after a crash
    trends.count(T0 + timedelta(minutes=5), "story-2", [("LOC", "Magnitogorsk")])
    trends.count(T0 + timedelta(days=2), "later", [("LOC", "Elsewhere")])  # moves the watermark on
    counts = {(size, start): c for size, start, c in closed(trends)}
    window = int(T0.timestamp())
    assert counts[(3600, window)] == {("LOC", "Magnitogorsk"): 2}
    day = int(T0.replace(hour=0).timestamp())
    assert counts[(86400, day)] == {("LOC", "Magnitogorsk"): 2}


def test_hopping_windows_each_contain_the_article() -> None:
    trends = windows()
    trends.count(T0 + timedelta(minutes=50), "s", [("ORG", "Reuters")])
    trends.count(T0 + timedelta(days=2), "later", [])
    starts = sorted(start for size, start, _ in closed(trends) if size == 3600)
    ten = int(T0.timestamp())
    assert starts == [ten, ten + 900, ten + 1800, ten + 2700]  # 10:00, 10:15, 10:30, 10:45 all hold 10:50


def test_a_window_waits_for_the_grace_period_then_closes_once() -> None:
    trends = windows()
    trends.count(T0, "s1", [("PERSON", "Xi Jinping")])
    trends.count(T0 + timedelta(minutes=1), "s2", [("PERSON", "Xi Jinping")])
    window_end = T0 + timedelta(hours=1)
    trends.count(window_end + timedelta(minutes=10), "s3", [])  # inside the grace period
    assert not [w for w in closed(trends) if w[0] == 3600 and w[1] == int(T0.timestamp())]
    trends.count(T0 + timedelta(minutes=30), "late-but-in-grace", [("PERSON", "Xi Jinping")])
    trends.count(window_end + timedelta(minutes=16), "s4", [])
    done = [c for size, start, c in closed(trends) if size == 3600 and start == int(T0.timestamp())]
    assert done == [{("PERSON", "Xi Jinping"): 3}]
    assert not [w for w in closed(trends) if w[1] == int(T0.timestamp())]  # never twice


def test_an_article_whose_windows_all_closed_is_late_and_left_out() -> None:
    trends = windows()
    trends.count(T0, "s1", [("ORG", "Reuters")])
    trends.count(T0 + timedelta(days=3), "s2", [])
    closed(trends)
    assert trends.count(T0 + timedelta(minutes=5), "s3", [("ORG", "Reuters")]) is False
    assert trends.late == 1


def test_records_carry_baseline_score_and_a_deterministic_id() -> None:
    trends = windows(min_stories=1)
    day = T0.replace(hour=0)
    for d, stories in enumerate([2, 4, 0, 10]):  # three earlier days, then a burst
        for s in range(stories):
            trends.count(day + timedelta(days=d, hours=1), f"d{d}-s{s}", [("NORP", "Afghan")])
        trends.count(day + timedelta(days=d, hours=23), f"tick{d}", [])
    trends.count(day + timedelta(days=5), "end", [])
    records = []
    for window in trends.due():
        if window.spec == DAILY:
            records += trends.trend_counts(window, "t")
        trends.mark_closed(window)
    burst = next(r for r in records if r.term == "Afghan" and r.count == 10)
    assert burst.baseline == pytest.approx((2 + 4 + 0) / 24)
    assert burst.score == score(10, burst.baseline) == pytest.approx((10 - 0.25) / (1.25**0.5), abs=1e-3)
    usual = next(r for r in records if r.term == "Afghan" and r.count == 4)
    assert usual.baseline == pytest.approx(2 / 24, abs=1e-4)  # rounded to 4 places
    assert usual.score < burst.score
    assert burst.window_end - burst.window_start == timedelta(days=1)
    start = str(int(burst.window_start.timestamp()))
    assert burst.trend_id == content_id("trend", "NORP", "Afghan", "86400:86400", start)  # re-emission overwrites
    ids = [r.trend_id for r in records]
    assert len(ids) == len(set(ids))


def test_terms_of_a_single_story_are_kept_in_history_but_not_emitted() -> None:
    trends = windows()
    trends.count(T0, "only", [("PERSON", "Nobody Famous")])
    trends.count(T0 + timedelta(days=2), "end", [])
    for window in trends.due():
        assert trends.trend_counts(window, "t") == []
        trends.mark_closed(window)
    assert any("Nobody Famous" in key for key in trends.history)


def test_a_restart_mid_window_continues_from_the_tables() -> None:
    tables: tuple[dict, dict, dict] = ({}, {}, {})  # type: ignore[type-arg]
    before = windows(tables)
    before.count(T0, "s1", [("LOC", "Kabul")])
    before.count(T0 + timedelta(minutes=5), "s2", [("LOC", "Kabul")])
    after = windows(tables)  # a new process: the in-memory index is rebuilt from the panes table
    after.count(T0 + timedelta(minutes=7), "s2", [("LOC", "Kabul")])  # redelivered: counted already
    after.count(T0 + timedelta(minutes=9), "s3", [("LOC", "Kabul")])
    after.count(T0 + timedelta(days=2), "end", [])
    counts = {(size, start): c for size, start, c in closed(after)}
    assert counts[(3600, int(T0.timestamp()))] == {("LOC", "Kabul"): 3}


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7, 0.9])
def test_the_bands_are_those_datasketch_would_choose(threshold: float) -> None:
    from datasketch import MinHashLSH  # type: ignore[import-untyped]

    from newsflow_enrich.dedup import NUM_PERM, bands_for

    reference = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    assert bands_for(threshold) == (reference.b, reference.r)


def test_a_long_body_is_signed_as_if_all_its_shingles_were_hashed_at_once() -> None:
    """The signature hashes its shingles a thousand at a time (memory); the values are datasketch's all the same."""
    from newsflow_enrich.dedup import SHINGLES_PER_UPDATE, hash_values, shingles, signature

    body = " ".join(f"{light_edit(STORY, i)} paragraph {i}" for i in range(40))
    assert len(shingles(body)) > 2 * SHINGLES_PER_UPDATE
    sig = signature(body)
    assert sig is not None
    assert list(hash_values(sig)) == datasketch_minhash(body)


@given(st.text(max_size=400))
@settings(max_examples=60, deadline=None)
def test_a_signature_holds_datasketchs_minhash_values(body: str) -> None:
    """Signatures already in the changelog were datasketch's: the project's MinHash must give the same values."""
    from newsflow_enrich.dedup import hash_values, signature

    sig = signature(body)
    if sig is None:
        assert not shingles(body)
    else:
        assert list(hash_values(sig)) == datasketch_minhash(body)


def datasketch_minhash(body: str) -> list[int]:
    from datasketch import MinHash  # type: ignore[import-untyped]

    from newsflow_enrich.dedup import NUM_PERM, SCHEME

    reference = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    reference.update_batch(shingles(body))
    return [int(v) for v in reference.hashvalues]
