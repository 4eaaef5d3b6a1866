"""Enrich acceptance on the sample page: its four stories, cut by parse, enriched by the stage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from newsflow_enrich.service import Enricher
from newsflow_parse.extract import extract
from newsflow_schemas import EnrichedArticle, RawDocument
from tests.conftest import SAMPLE

EXPECTED = {
    "Taliban",
    "Kabul",
    "Panjshir",
    "Ahmad Massoud",
    "Amrullah Saleh",
    "Sirajuddin Haqqani",
    "Khalil Haqqani",
    "Hebatullah Akhundzadeh",
    "Michael Semple",
    "Mohammad Sadiq",
    "Amir Khan Muttaqi",
    "Azerbaijan Airlines",
    "Aktau",
    "Kazakhstan",
    "Baku",
    "Grozny",
    "China",
    "Xi Jinping",
    "Reuters",
}


@pytest.fixture(scope="module")
async def stories() -> list[EnrichedArticle]:
    raw = RawDocument(
        trace_id="sample",
        doc_id="sample",
        source="files",
        uri=str(SAMPLE),
        content_type="text/plain",
        charset="utf-8",
        body=SAMPLE.read_text(),
        fetched_at=datetime.now(UTC),
    )
    articles = extract(raw)
    assert len(articles) == 4
    results = await Enricher().transform(articles)
    enriched = [outputs[0][1] for outputs in results if not isinstance(outputs, Exception)]
    assert all(isinstance(e, EnrichedArticle) for e in enriched)
    return enriched  # type: ignore[return-value]


def test_the_sample_names_its_people_places_and_organisations(stories: list[EnrichedArticle]) -> None:
    names = {e.name for story in stories for e in story.entities}
    assert EXPECTED - names == set()


def test_sadiq_and_haqqani_are_never_places(stories: list[EnrichedArticle]) -> None:
    for story in stories:
        for entity in story.entities:
            if "Sadiq" in entity.name or "Haqqani" in entity.name:
                assert entity.type in ("PERSON", "ORG"), entity  # the Haqqani network is an organisation
                assert entity.type != "LOC"
        assert not any("Sadiq" in place or "Haqqani" in place for place in story.locations)


def test_spelling_variants_join_the_article_s_own_spelling(stories: list[EnrichedArticle]) -> None:
    names = {e.name for story in stories for e in story.entities}
    assert not names & {"Ahmad Masoud", "Sempel", "Sepmel", "Semple", "Sirajuddin Haqqain", "Khalil Haqqanis"}
    trust = next(s for s in stories if s.title.startswith("Trust issue"))
    semple = next(e for e in trust.entities if e.name == "Michael Semple")
    assert semple.count >= 4  # the full name twice, and the surname alone in its spellings


def test_a_lone_surname_shared_by_several_people_stays_a_person(stories: list[EnrichedArticle]) -> None:
    trust = next(s for s in stories if s.title.startswith("Trust issue"))
    assert "Haqqani" in trust.persons  # Sirajuddin, Khalil, Jalaluddin: which one is not said


def test_facts_keywords_and_countries(stories: list[EnrichedArticle]) -> None:
    plane = next(s for s in stories if "Grozny" in s.title)
    assert {"KZ", "AZ", "RU"} <= set(plane.countries)
    assert plane.language == "en"
    assert plane.word_count is not None
    assert 250 < plane.word_count < 400
    assert plane.reading_time_minutes == round(plane.word_count / 230, 1)
    assert not plane.ner_truncated
    for story in stories:
        assert story.keywords, story.title
        entity_names = {e.name.casefold() for e in story.entities}
        assert not entity_names & {k.casefold() for k in story.keywords}


def test_four_different_stories_make_four_clusters(stories: list[EnrichedArticle]) -> None:
    assert len({s.cluster_id for s in stories}) == 4
    assert all(s.duplicate_of is None and s.cluster_id == s.article_id for s in stories)
