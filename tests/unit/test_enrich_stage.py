"""The enrich stage end to end in one process: bad input, huge input, other languages, clusters into trends.

Batches go through the runtime as the service runs them, the analysis stage then the state stage; a recording
producer collects what would be produced (the Kafka side is covered by tests/integration/test_enrich_stream.py).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from newsflow_common.dlq import Rejected
from newsflow_common.metrics import SOURCE_LABELS
from newsflow_common.stage import Record
from newsflow_enrich.service import AnalyseStage, InlinePool, StateStage
from newsflow_enrich.settings import EnrichSettings
from newsflow_enrich.trends import article_time
from newsflow_schemas import (
    ANALYSED,
    ARTICLES,
    ENRICHED,
    TRENDS,
    Article,
    DeadLetter,
    EnrichedArticle,
    Message,
    TrendCount,
    encode,
)
from tests.unit.runtime_harness import run_batch
from tests.unit.test_enrich_state import STORY, T0, light_edit
from tests.unit.test_ledger_metrics import ledger


def article(
    article_id: str, body: str, at: datetime = T0, title: str = "Building collapses in Magnitogorsk"
) -> Article:
    return Article(
        trace_id=f"trace-{article_id}",
        article_id=article_id,
        doc_id="d",
        source="test",
        title=title,
        body=body,
        extractor="plain-text",
        parsed_at=at,
        published_at=at,
    )


def record(message: Article | bytes, offset: int = 0) -> Record:
    value = message if isinstance(message, bytes) else encode(message)
    return Record(topic=ARTICLES, partition=0, offset=offset, key=b"k", value=value, headers=[("trace-id", b"t")])


class Sent(list[tuple[str, Message]]):
    async def __call__(self, topic: str, message: Message) -> None:
        self.append((topic, message))

    def of(self, kind: type[Message]) -> list[Message]:
        return [m for _, m in self if isinstance(m, kind)]


Stages = tuple[AnalyseStage, StateStage]


def EnrichStage(settings: EnrichSettings | None = None) -> Stages:
    """Both enrich stages, the analysis in this process, the state in memory."""
    settings = settings or EnrichSettings()
    return AnalyseStage(settings, InlinePool()), StateStage(settings)


async def run(stages: Stages, *messages: Article | bytes) -> Sent:
    analyse, state = stages
    first = (await run_batch(analyse, [record(m, i) for i, m in enumerate(messages)])).messages()
    sent = Sent(item for item in first if item[0] != ANALYSED)
    analysed = [m for topic, m in first if topic == ANALYSED]
    second = await run_batch(state, [Record(ANALYSED, 0, i, b"k", encode(m)) for i, m in enumerate(analysed)])
    sent.extend(second.messages())
    return sent


async def test_bad_records_go_to_the_dlq_in_place_and_the_batch_goes_on() -> None:
    sent = await run(
        EnrichStage(),
        article("a1", STORY),
        b"not json",
        b'{"title": "valid JSON, wrong schema"}',
        article("empty", "   \n  "),
        article("a2", "Reuters reported from Beijing that China approved a record bond sale on Tuesday."),
    )
    assert [topic for topic, _ in sent] == [f"{ARTICLES}.dlq", f"{ARTICLES}.dlq", f"{ARTICLES}.dlq", ENRICHED, ENRICHED]
    letters = sent.of(DeadLetter)
    assert [letter.error_kind for letter in letters] == ["schema", "schema", "empty"]  # type: ignore[attr-defined]
    assert letters[0].original == b"not json"  # type: ignore[attr-defined]
    assert "no body text" in letters[2].error_message  # type: ignore[attr-defined]


async def test_each_input_is_counted_in_the_ledger_metric_by_source_and_outcome() -> None:
    source = "ledger-enrich"
    SOURCE_LABELS.allow(source)  # a configured source name: metrics carry it (any other counts as "other")
    story = article("l1", STORY).model_copy(update={"source": source})
    empty = article("l2", "   ").model_copy(update={"source": source})
    before = {outcome: ledger("enrich", source, outcome) for outcome in ("out", "dead-letter:empty")}
    unknown = ledger("enrich", "unknown", "dead-letter:schema")
    await run(EnrichStage(), story, empty, b"not json")
    assert ledger("enrich", source, "out") == before["out"] + 1
    assert ledger("enrich", source, "dead-letter:empty") == before["dead-letter:empty"] + 1
    assert ledger("enrich", "unknown", "dead-letter:schema") == unknown + 1


async def test_a_2_mb_body_is_read_up_to_the_bound_and_flagged() -> None:
    body = (STORY + "\n\n") * (2_000_000 // len(STORY))
    assert len(body) > 1_900_000
    enriched = (await run(EnrichStage(), article("huge", body))).of(EnrichedArticle)[0]
    assert enriched.ner_truncated  # type: ignore[attr-defined]
    assert "Magnitogorsk" in enriched.locations  # type: ignore[attr-defined]
    assert enriched.word_count > 300_000  # type: ignore[attr-defined]  # facts count the whole body


async def test_a_french_article_gets_its_entities_from_the_french_model() -> None:
    french = (
        "Le président Emmanuel Macron a annoncé mardi à Paris une nouvelle réforme des retraites, qui suscite "
        "de vives critiques parmi les syndicats. Il a rencontré Olaf Scholz à Berlin et le ministre Bruno Le Maire "
        "a parlé au nom de la Banque de France. Les syndicats appellent à une grève nationale en France jeudi."
    )
    enriched = (await run(EnrichStage(), article("fr", french, title="Réforme des retraites"))).of(EnrichedArticle)[0]
    assert enriched.language == "fr"  # type: ignore[attr-defined]
    assert {"Emmanuel Macron", "Olaf Scholz", "Bruno Le Maire"} <= set(enriched.persons)  # type: ignore[attr-defined]
    assert {"Paris", "Berlin"} <= set(enriched.locations)  # type: ignore[attr-defined]
    assert "Banque de France" in enriched.organizations  # type: ignore[attr-defined]
    assert "FR" in enriched.countries  # type: ignore[attr-defined]
    assert enriched.keywords  # type: ignore[attr-defined]  # YAKE has French stopwords
    assert enriched.cluster_id == "fr"  # type: ignore[attr-defined]


async def test_an_article_in_a_language_without_a_model_gets_no_entities() -> None:
    german = (
        "Bundeskanzler Olaf Scholz hat am Dienstag in Berlin eine neue Rentenreform angekündigt, die bei den "
        "Gewerkschaften auf heftige Kritik stößt. Die Gewerkschaften rufen für Donnerstag zu einem Streik auf."
    )
    enriched = (await run(EnrichStage(), article("de", german, title="Rentenreform"))).of(EnrichedArticle)[0]
    assert enriched.language == "de"  # type: ignore[attr-defined]
    assert enriched.entities == []  # type: ignore[attr-defined]  # no German model installs from PyPI (docs/enrich.md)


async def test_an_article_in_a_language_no_model_reads_still_flows() -> None:
    swahili = (
        "Rais wa Tanzania amesema serikali itaendelea kujenga barabara mpya katika mikoa yote ya nchi mwaka huu, "
        "na wananchi wengi wamefurahia habari hiyo."
    )
    enriched = (await run(EnrichStage(), article("sw", swahili, title="Barabara"))).of(EnrichedArticle)[0]
    assert enriched.language == "sw"  # type: ignore[attr-defined]
    assert enriched.entities == []  # type: ignore[attr-defined]
    assert enriched.keywords == []  # type: ignore[attr-defined]  # no stopword list: no stopword soup either
    assert enriched.word_count == len(swahili.split())  # type: ignore[attr-defined]


async def test_an_article_too_short_to_tell_its_language_still_flows() -> None:
    enriched = (await run(EnrichStage(), article("short", "Ok.", title="Hi"))).of(EnrichedArticle)[0]
    assert enriched.language is None  # type: ignore[attr-defined]
    assert enriched.entities == []  # type: ignore[attr-defined]


async def test_ner_languages_are_configurable() -> None:
    stage = EnrichStage(EnrichSettings(ner_languages=[]))  # the state stage reads the setting too
    enriched = (await run(stage, article("a", STORY))).of(EnrichedArticle)[0]
    assert enriched.language == "en"  # type: ignore[attr-defined]
    assert enriched.entities == []  # type: ignore[attr-defined]


async def test_ten_copies_make_one_cluster_and_a_trend_counts_the_story_once() -> None:
    stage = EnrichStage()
    copies = [article(f"copy-{i}", light_edit(STORY, i), T0 + timedelta(minutes=i)) for i in range(10)]
    other = article(
        "other",
        "Russia's emergencies ministry said Vladimir Putin visited Magnitogorsk again on Tuesday, "
        "a week after the gas explosion that destroyed a block of flats in the city.",
        T0 + timedelta(minutes=12),
        title="Putin returns to Magnitogorsk",
    )
    enriched = (await run(stage, *copies, other)).of(EnrichedArticle)
    assert {e.cluster_id for e in enriched[:10]} == {"copy-0"}  # type: ignore[attr-defined]
    assert enriched[10].cluster_id == "other"  # type: ignore[attr-defined]
    clock = article("clock", "Reuters reported from Beijing on Friday.", T0 + timedelta(days=2), title="Later")
    sent = await run(stage, clock)
    trends = sent.of(TrendCount)
    assert {topic for topic, message in sent if isinstance(message, TrendCount)} == {TRENDS}
    hour = [t for t in trends if t.window_start == T0 and t.window_end == T0 + timedelta(hours=1)]  # type: ignore[attr-defined]
    counts = {(t.type, t.term): t.count for t in hour}  # type: ignore[attr-defined]
    assert counts[("LOC", "Magnitogorsk")] == 2  # eleven articles, two stories
    assert counts[("PERSON", "Vladimir Putin")] == 2


def test_article_time_is_published_else_parsed_and_never_past_parsing() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    assert article_time(article("a", "x", now)) == now
    typo = article("b", "x", now).model_copy(update={"published_at": now + timedelta(days=365)})
    assert article_time(typo) == now
    time_zone_mistake = article("b", "x", now).model_copy(update={"published_at": now + timedelta(hours=2)})
    assert article_time(time_zone_mistake) == now
    unknown = article("c", "x", now).model_copy(update={"published_at": None})
    assert article_time(unknown) == now


async def test_an_article_with_no_body_is_rejected_as_empty() -> None:
    [result] = await EnrichStage()[0].transform([article("empty", "")])
    assert isinstance(result, Rejected)
    assert result.kind == "empty"


async def test_a_signature_that_is_not_128_values_is_dead_lettered_and_clustering_goes_on() -> None:
    """news.analysed.v1 is read like any topic: a record whose signature is short, empty or not base64 would
    sit in the near-duplicate index (and its changelog) and break the comparison of every later candidate."""
    analyse, state = EnrichStage()
    first = (await run_batch(analyse, [record(article("original", STORY))])).messages()
    [analysed] = [m for topic, m in first if topic == ANALYSED]
    sig = analysed.signature  # type: ignore[attr-defined]
    first_band = base64.b64encode(base64.b64decode(sig)[:20]).decode()  # 5 values: the original's first band
    forged = [first_band, "", "!" * len(sig), sig[:20]]
    records = [analysed.model_copy(update={"article_id": f"forged-{i}", "signature": s}) for i, s in enumerate(forged)]
    copy = (await run_batch(analyse, [record(article("copy", light_edit(STORY, 1)))])).messages()
    [reprint] = [m for topic, m in copy if topic == ANALYSED]
    batch = [analysed, *records, reprint]
    sent = await run_batch(state, [Record(ANALYSED, 0, i, b"k", encode(m)) for i, m in enumerate(batch)])
    letters = [m for topic, m in sent.messages() if topic == f"{ANALYSED}.dlq"]
    assert [letter.error_kind for letter in letters] == ["schema"] * 4  # type: ignore[attr-defined]
    enriched = {m.article_id: m for topic, m in sent.messages() if topic == ENRICHED}  # type: ignore[attr-defined]
    assert enriched["copy"].cluster_id == "original"  # type: ignore[attr-defined]
