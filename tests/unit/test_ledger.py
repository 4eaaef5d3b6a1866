"""The completeness ledger's arithmetic: records in, counts per source and hour and the broken identities out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from newsflow_common.dlq import dead_letter
from newsflow_common.stage import SOURCE_NAME_HEADER
from newsflow_ops.cli import balance_lines, ledger_rows
from newsflow_ops.ledger import Fact, Indexed, Refused, build, facts_of
from newsflow_schemas import (
    ARTICLES,
    ENRICHED,
    LINKS,
    RAW,
    Article,
    EnrichedArticle,
    LinkToFetch,
    RawDocument,
    dlq_of,
    encode,
)

FETCHED = datetime(2024, 5, 7, 9, 50, tzinfo=UTC)
LATER = FETCHED + timedelta(minutes=20)  # the next hour: articles must still land in their page's row
SOURCE = "wire"


def raw(doc_id: str, url: str | None = None, source: str = SOURCE) -> RawDocument:
    return RawDocument(
        trace_id=f"trace-{doc_id}",
        doc_id=doc_id,
        source=source,
        uri=f"file:///in/{doc_id}.html",
        url=url,
        content_type="text/html",
        charset="utf-8",
        body="<html>...</html>",
        fetched_at=FETCHED,
    )


def article(article_id: str, doc_id: str, source: str = SOURCE) -> Article:
    return Article(
        trace_id=f"trace-{doc_id}",
        article_id=article_id,
        doc_id=doc_id,
        source=source,
        title=f"Story {article_id}",
        body="Officials said on Monday that the river port reopened.",
        extractor="plain-text",
        parsed_at=LATER,
    )


def enriched(item: Article, duplicate_of: str | None = None) -> EnrichedArticle:
    return EnrichedArticle(**item.model_dump(), language="en", enriched_at=LATER, duplicate_of=duplicate_of)


def on(topic: str, *messages: RawDocument | Article | EnrichedArticle | LinkToFetch) -> list[Fact]:
    return [fact for message in messages for fact in facts_of(topic, encode(message))]


def letter(topic: str, original: bytes, stage: str, kind: str, offset: int = 0) -> list[Fact]:
    """The facts of a dead letter ``stage`` wrote for a record of ``topic``."""
    dead = dead_letter(
        original=original, stage=stage, kind=kind, error="boom", trace_id="t", topic=topic, partition=0, offset=offset
    )
    return facts_of(dlq_of(topic), encode(dead))


def refusal(kind: str, source: str = SOURCE) -> list[Fact]:
    """Ingest's dead letter of a file it refused: the source name travels in a header."""
    dead = dead_letter(original=b"", stage="ingest", kind=kind, error="no", trace_id="t", source="file:///in/x")
    return facts_of(dlq_of(RAW), encode(dead), [(SOURCE_NAME_HEADER, source.encode())])


def indexed(*ids: str, source: str = SOURCE, doc_id: str = "d-page") -> list[Fact]:
    """What Elasticsearch holds: one document per article id, the version of ``doc_id``."""
    return [Indexed(article_id, doc_id, source, LATER) for article_id in ids]


def sample_page() -> tuple[list[Fact], list[Article]]:
    """One listing text cut into four stories, each enriched and indexed, and two refused files."""
    stories = [article(f"a-{n}", "d-page") for n in range(4)]
    facts = on(RAW, raw("d-page")) + on(ARTICLES, *stories) + on(ENRICHED, *(enriched(s) for s in stories))
    return facts + indexed(*(s.article_id for s in stories)) + refusal("empty") + refusal("binary"), stories


def test_a_page_of_four_stories_and_two_refusals_balances() -> None:
    facts, _ = sample_page()
    report = build(facts)
    totals = report.totals()[SOURCE].as_dict()
    assert totals["received"] == 3
    assert totals["raw"] == 1
    assert totals["refused"] == {"binary": 1, "empty": 1}
    assert (totals["articles"], totals["enriched"], totals["indexed"]) == (4, 4, 4)
    assert report.balanced
    assert balance_lines(report)[0].startswith("balanced")


def test_articles_land_in_the_hour_their_page_was_fetched() -> None:
    facts, _ = sample_page()
    hours = build([f for f in facts if not isinstance(f, Refused)]).rows[SOURCE]  # refusals: their own time
    assert list(hours) == ["2024-05-07T09:00Z"]  # the page at 09:50, its stories parsed at 10:10
    assert (hours["2024-05-07T09:00Z"].articles, hours["2024-05-07T09:00Z"].indexed) == (4, 4)


def test_an_article_never_indexed_is_named_with_its_document() -> None:
    facts, stories = sample_page()
    missing = stories[2].article_id
    report = build([f for f in facts if not (isinstance(f, Indexed) and f.article_id == missing)])
    assert not report.balanced
    assert [(b.what, b.id) for b in report.breaks] == [("article", missing)]
    assert "d-page" in report.breaks[0].detail
    assert "enriched, not indexed" in report.breaks[0].detail
    assert any(missing in line for line in balance_lines(report))


def test_an_article_dead_lettered_by_enrich_or_index_is_accounted_for() -> None:
    facts, stories = sample_page()
    first, second = stories[0], stories[1]
    kept = [f for f in facts if getattr(f, "article_id", None) not in (first.article_id, second.article_id)]
    kept += letter(ARTICLES, encode(first), "enrich", "unexpected")
    kept += letter(ENRICHED, encode(enriched(second)), "index", "elasticsearch-400")
    report = build(kept)
    assert report.balanced
    totals = report.totals()[SOURCE]
    assert (totals.enrich_dlq, totals.index_dlq, totals.indexed) == (1, 1, 2)


def test_a_duplicate_is_an_end_of_its_own() -> None:
    original, copy = article("a-first", "d-1"), article("a-copy", "d-2")
    facts = on(RAW, raw("d-1"), raw("d-2")) + on(ARTICLES, original, copy)
    facts += on(ENRICHED, enriched(original), enriched(copy, duplicate_of="a-first")) + indexed("a-first", doc_id="d-1")
    report = build(facts)
    assert report.balanced
    assert report.totals()[SOURCE].duplicates == 1


def test_a_listing_page_ends_as_links() -> None:
    page = raw("d-listing", url="https://news.example/asia")
    links = [
        LinkToFetch(
            trace_id=page.trace_id, url=f"https://news.example/s/{n}", source=SOURCE, found_on=page.url, found_at=LATER
        )
        for n in range(3)
    ]
    report = build(on(RAW, page) + on(LINKS, *links))
    assert report.balanced
    totals = report.totals()[SOURCE]
    assert (totals.listing_pages, totals.links, totals.articles) == (1, 3, 0)


def test_a_document_with_no_end_is_named() -> None:
    report = build(on(RAW, raw("d-lost")))
    assert [(b.what, b.id, b.source) for b in report.breaks] == [("document", "d-lost", SOURCE)]


def test_a_parse_dead_letter_ends_its_document_and_keeps_its_source() -> None:
    doc = raw("d-bad")
    report = build(on(RAW, doc) + letter(RAW, encode(doc), "parse", "no-article"))
    assert report.balanced
    assert report.totals()[SOURCE].parse_dlq == 1


def test_a_dead_letter_delivered_twice_counts_once() -> None:
    doc = raw("d-bad")
    twice = letter(RAW, encode(doc), "parse", "no-article", offset=7) * 2
    assert build(on(RAW, doc) + twice).totals()[SOURCE].parse_dlq == 1


def test_undecodable_poison_is_dead_lettered_under_unknown() -> None:
    facts = letter(RAW, b"not json at all", "parse", "schema")
    assert facts_of(RAW, b"not json at all") == []  # the poison itself is no document
    assert build(facts).totals()["unknown"].parse_dlq == 1


def test_a_refusal_without_the_source_header_is_unknown() -> None:
    dead = dead_letter(original=b"", stage="ingest", kind="empty", error="no", trace_id="t", source="file:///x")
    assert facts_of(dlq_of(RAW), encode(dead)) == [Refused("unknown", "empty", dead.failed_at)]


def test_a_source_filter_keeps_only_that_source() -> None:
    facts, _ = sample_page()
    other = raw("d-other", source="elsewhere")
    report = build(facts + on(RAW, other), source=SOURCE)
    assert list(report.totals()) == [SOURCE]
    assert report.balanced  # the other source's unfinished document is not this source's business


def test_redelivered_records_count_once() -> None:
    facts, _ = sample_page()
    assert build(facts + facts[:5]).totals()[SOURCE].as_dict() == build(facts).totals()[SOURCE].as_dict()


def test_json_and_table_rows_say_the_same() -> None:
    facts, _ = sample_page()
    report = build(facts)
    as_json = report.as_dict()
    assert as_json["totals"][SOURCE]["refused"] == {"binary": 1, "empty": 1}
    assert as_json["hours"][SOURCE]["2024-05-07T09:00Z"]["indexed"] == 4
    assert as_json["balanced"] is True
    assert as_json["unbalanced"] == []
    row = ledger_rows(report, hourly=False)[0]
    assert (row["source"], row["received"], row["refused"], row["indexed"]) == (SOURCE, 3, "binary:1,empty:1", 4)


def test_two_documents_whose_stories_share_a_canonical_url_both_end() -> None:
    """Issue 10 item 6: the second document's article carries the same article_id; it is still its article."""
    first, second = article("a-same", "d-1"), article("a-same", "d-2")
    facts = on(RAW, raw("d-1"), raw("d-2")) + on(ARTICLES, first, second)
    facts += on(ENRICHED, enriched(first), enriched(second)) + indexed("a-same", doc_id="d-2")
    report = build(facts)
    assert report.breaks == []
    totals = report.totals()[SOURCE]
    assert (totals.articles, totals.indexed, totals.superseded) == (2, 1, 1)


def test_a_url_back_with_changed_content_balances() -> None:
    """The same URL fetched again with new content: a new document, the same article id, a newer version indexed."""
    old, new = article("a-url", "d-old"), article("a-url", "d-new")
    facts = on(RAW, raw("d-old", url="https://news.example/a"), raw("d-new", url="https://news.example/a"))
    facts += on(ARTICLES, old, new) + on(ENRICHED, enriched(old), enriched(new)) + indexed("a-url", doc_id="d-new")
    assert build(facts).balanced


def test_an_article_lost_before_enrich_is_named_even_when_its_id_is_indexed_from_another_document() -> None:
    first, second = article("a-same", "d-1"), article("a-same", "d-2")
    facts = on(RAW, raw("d-1"), raw("d-2")) + on(ARTICLES, first, second)
    facts += on(ENRICHED, enriched(first)) + indexed("a-same", doc_id="d-1")
    report = build(facts)
    assert [(b.what, b.id) for b in report.breaks] == [("article", "a-same")]
    assert "d-2" in report.breaks[0].detail
    assert "not enriched" in report.breaks[0].detail


def test_a_dead_letter_ends_only_the_record_it_holds() -> None:
    first, second = article("a-same", "d-1"), article("a-same", "d-2")
    facts = on(RAW, raw("d-1"), raw("d-2")) + on(ARTICLES, first, second)
    facts += letter(ARTICLES, encode(first), "enrich", "unexpected")
    report = build(facts)
    assert [(b.what, b.id) for b in report.breaks] == [("article", "a-same")]
    assert "d-2" in report.breaks[0].detail
