"""Enrich: entity names, surname joining, folding, NER on real text, language, the enriched article."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow_enrich.entities import Mention, extract_entities, fold_mentions, join_names, nlp
from newsflow_enrich.language import detect_language
from newsflow_enrich.names import clean_name
from newsflow_enrich.service import Enricher
from newsflow_schemas import ENRICHED, Article, EnrichedArticle, Position

PARAGRAPH = (
    "German Chancellor Angela Merkel met French President Emmanuel Macron in Paris on Tuesday. "
    "Merkel said the talks with Macron had been constructive, and Macron later flew to Berlin. "
    "Officials from Siemens and Airbus joined them in Paris."
)


@pytest.fixture(scope="module")
def model():
    """Load spaCy once for the module (about 5 s); entities.nlp() caches it for everyone else."""
    return nlp()


async def enrich(source: Article) -> EnrichedArticle:
    """The stage's output for one article (state in dicts, analysis in this process)."""
    [outputs] = await Enricher().transform([source])
    assert not isinstance(outputs, BaseException), outputs
    assert [topic for topic, _ in outputs] == [ENRICHED]
    enriched = outputs[0][1]
    assert isinstance(enriched, EnrichedArticle)
    return enriched


def article(**changes: object) -> Article:
    fields: dict[str, object] = {
        "trace_id": "trace-1",
        "article_id": "a-1",
        "doc_id": "d-1",
        "source": "files",
        "url": "https://example.com/news/merkel-macron",
        "title": "Merkel and Macron meet in Paris",
        "body": PARAGRAPH,
        "section": "EUROPE",
        "authors": ["Jane Doe"],
        "published_at": datetime(2024, 5, 7, 9, 30, tzinfo=UTC),
        "extractor": "trafilatura",
        "position": Position(index=1, start=10, end=400),
        "parsed_at": datetime(2024, 5, 7, 9, 31, tzinfo=UTC),
    }
    fields.update(changes)
    return Article.model_validate(fields)


# clean_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("the European Union", "European Union"),
        ("The White House", "White House"),
        ("Haqqani's", "Haqqani"),
        ("Haqqani’s", "Haqqani"),
        ("the Taliban's", "Taliban"),
        ("  Angela \n  Merkel ", "Angela Merkel"),
        ("Emmanuel\tMacron", "Emmanuel Macron"),
        ("“Reuters”", "Reuters"),
    ],
)
def test_clean_name(raw, expected):
    assert clean_name(raw) == expected


def test_clean_name_keeps_words_that_only_start_with_the():
    assert clean_name("Theresa May") == "Theresa May"
    assert clean_name("Thessaloniki") == "Thessaloniki"


# surname joining


def test_one_word_person_joins_the_only_full_name_ending_with_it():
    found = [
        Mention("Angela Merkel", "PERSON", 0),
        Mention("Merkel", "PERSON", 40),
        Mention("Emmanuel Macron", "PERSON", 60),
    ]
    join_names(found)
    assert [m.name for m in found] == ["Angela Merkel", "Angela Merkel", "Emmanuel Macron"]


def test_one_word_person_stays_alone_when_two_full_names_share_the_surname():
    found = [
        Mention("George Bush", "PERSON", 0),
        Mention("Laura Bush", "PERSON", 20),
        Mention("Bush", "PERSON", 40),
    ]
    join_names(found)
    assert [m.name for m in found] == ["George Bush", "Laura Bush", "Bush"]


def test_surname_joining_only_concerns_persons():
    found = [
        Mention("Jordan Peterson", "PERSON", 0),
        Mention("Jordan", "LOC", 30),
        Mention("Peterson", "ORG", 50),
    ]
    join_names(found)
    assert [(m.name, m.type) for m in found] == [
        ("Jordan Peterson", "PERSON"),
        ("Jordan", "LOC"),
        ("Peterson", "ORG"),
    ]


def test_one_word_person_without_a_full_name_stays_alone():
    found = [Mention("Madonna", "PERSON", 5), Mention("Angela Merkel", "PERSON", 30)]
    join_names(found)
    assert [m.name for m in found] == ["Madonna", "Angela Merkel"]


# fold


def test_fold_counts_mentions_keeps_first_offsets_and_orders_most_mentioned_first():
    entities = fold_mentions(
        [
            Mention("Paris", "LOC", 50),
            Mention("Angela Merkel", "PERSON", 10),
            Mention("Paris", "LOC", 5),
            Mention("Siemens", "ORG", 30),
            Mention("Angela Merkel", "PERSON", 70),
            Mention("Paris", "LOC", 90),
            Mention("Berlin", "LOC", 20),
        ]
    )
    assert [(e.name, e.type, e.count, e.first_offset) for e in entities] == [
        ("Paris", "LOC", 3, 5),
        ("Angela Merkel", "PERSON", 2, 10),
        ("Berlin", "LOC", 1, 20),  # ties: first mentioned first
        ("Siemens", "ORG", 1, 30),
    ]


def test_fold_keeps_same_name_of_different_types_apart():
    entities = fold_mentions([Mention("Washington", "LOC", 0), Mention("Washington", "PERSON", 20)])
    assert sorted((e.name, e.type) for e in entities) == [("Washington", "LOC"), ("Washington", "PERSON")]


def test_fold_of_nothing_is_empty():
    assert fold_mentions([]) == []


# extract_entities on real text


def test_extract_entities_on_a_paragraph(model):
    entities = extract_entities(PARAGRAPH)
    by_name = {e.name: e for e in entities}
    assert by_name["Angela Merkel"].type == "PERSON"
    assert by_name["Emmanuel Macron"].type == "PERSON"
    # "Merkel" and "Macron" alone joined their full names
    assert "Merkel" not in by_name
    assert "Macron" not in by_name
    assert by_name["Emmanuel Macron"].count == 3
    assert by_name["Angela Merkel"].count == 2
    # GPE is mapped to LOC
    assert by_name["Paris"].type == "LOC"
    assert by_name["Paris"].count == 2
    assert by_name["Berlin"].type == "LOC"
    assert {e.type for e in entities} <= {"PERSON", "ORG", "LOC", "NORP", "EVENT", "DATE", "MONEY"}
    counts = [e.count for e in entities]
    assert counts == sorted(counts, reverse=True)
    for entity in entities:
        assert PARAGRAPH[entity.first_offset :].startswith(entity.name)


def test_extract_entities_on_text_without_names(model):
    assert extract_entities("it rained, and then it stopped raining.") == []


# language


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (PARAGRAPH, "en"),
        (
            "Le président de la République a annoncé mardi une nouvelle réforme des retraites, "
            "qui suscite de vives critiques parmi les syndicats.",
            "fr",
        ),
        (
            "Die Bundesregierung hat am Dienstag ein neues Gesetz zur Förderung erneuerbarer Energien "
            "beschlossen, das im kommenden Jahr in Kraft treten soll.",
            "de",
        ),
    ],
)
def test_detect_language(text, expected):
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", "   ", "Hi there", "Paris\n\n2024"])
def test_detect_language_is_none_for_very_short_text(text):
    assert detect_language(text) is None


def test_detect_language_reads_past_the_libraries_80_character_cut():
    text = "1234567890 " * 8 + "Die Bundesregierung hat am Dienstag ein neues Gesetz zur Förderung beschlossen."
    assert detect_language(text) == "de"


# enrich


async def test_enrich_returns_an_enriched_article_consistent_with_its_entities(model):
    source = article()
    enriched = await enrich(source)
    assert isinstance(enriched, EnrichedArticle)
    assert enriched.language == "en"
    assert enriched.entities
    assert enriched.persons == [e.name for e in enriched.entities if e.type == "PERSON"]
    assert enriched.organizations == [e.name for e in enriched.entities if e.type == "ORG"]
    assert enriched.locations == [e.name for e in enriched.entities if e.type == "LOC"]
    assert "Angela Merkel" in enriched.persons
    assert "Emmanuel Macron" in enriched.persons
    assert "Paris" in enriched.locations
    assert enriched.enriched_at.tzinfo is not None
    assert enriched.key() == source.key()


async def test_enrich_keeps_every_article_field(model):
    source = article()
    enriched = await enrich(source)
    for name in Article.model_fields:
        assert getattr(enriched, name) == getattr(source, name), name


async def test_enrich_first_offsets_point_into_title_and_body(model):
    source = article()
    text = f"{source.title}\n\n{source.body}"
    enriched = await enrich(source)
    for entity in enriched.entities:
        at = text[entity.first_offset :]
        # a person's first mention may be its surname alone, joined to the full name
        assert at.startswith(entity.name) or (entity.type == "PERSON" and at.startswith(entity.name.split()[-1])), (
            entity,
            at[:30],
        )
    # an entity of the title is found at the title's offset, in title + "\n\n" + body
    assert min(e.first_offset for e in enriched.entities) < len(source.title)


async def test_enrich_first_offset_skips_a_stripped_leading_article(model):
    source = article(
        title="Budget talks in Brussels",
        body="Ministers criticised the European Union's budget on Monday. The European Commission replied.",
    )
    text = f"{source.title}\n\n{source.body}"
    enriched = await enrich(source)
    european = [e for e in enriched.entities if e.name.startswith("European")]
    assert european, enriched.entities
    for entity in european:
        assert text[entity.first_offset :].startswith(entity.name), (entity, text[entity.first_offset :][:30])


def test_clean_name_strips_punctuation_before_the_possessive():
    assert clean_name("Haqqani’s.") == "Haqqani"
    assert clean_name("“the Taliban’s”") == "Taliban"
