"""NER where a model exists: one spaCy model per language, loaded the first time an article needs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from newsflow_enrich import entities as ner
from newsflow_enrich.analysis import Options, analyse_batch
from newsflow_schemas import Article

ROOT = Path(__file__).resolve().parents[2]


def article(article_id: str, title: str, body: str) -> Article:
    return Article.model_validate(
        {
            "trace_id": article_id,
            "article_id": article_id,
            "doc_id": article_id,
            "source": "test",
            "title": title,
            "body": body,
            "extractor": "plain-text",
            "parsed_at": "2025-01-01T00:00:00Z",
        }
    )


FRENCH = article(
    "fr",
    "Sommet à Berlin",
    "Emmanuel Macron a rencontré Olaf Scholz à Berlin lundi. Le ministre Bruno Le Maire a parlé au nom de "
    "l'Union européenne et de la Banque de France, devant les journalistes réunis à la chancellerie.",
)
ENGLISH = article(
    "en",
    "Summit in Berlin",
    "Emmanuel Macron met Olaf Scholz in Berlin on Monday. Officials from Siemens joined them at the chancellery, "
    "and the talks went on late into the night.",
)


def test_the_languages_with_a_model_are_english_and_french() -> None:
    assert set(ner.MODELS) == {"en", "fr"}
    assert Options().ner_languages == frozenset({"en", "fr"})


def test_a_mixed_batch_reads_each_article_with_its_own_languages_model() -> None:
    french, english = analyse_batch([FRENCH, ENGLISH])
    assert (french.language, english.language) == ("fr", "en")
    found = {(e.name, e.type) for e in french.entities}
    assert {("Emmanuel Macron", "PERSON"), ("Olaf Scholz", "PERSON"), ("Berlin", "LOC")} <= found
    assert ("Banque de France", "ORG") in found
    assert ("Siemens", "ORG") in {(e.name, e.type) for e in english.entities}


def test_a_language_left_out_of_ner_languages_gets_no_entities() -> None:
    (french,) = analyse_batch([FRENCH], Options(ner_languages=frozenset({"en"})))
    assert french.language == "fr"
    assert french.entities == []


def test_a_model_loads_only_when_an_article_of_its_language_comes() -> None:
    """In a fresh process: a worker that never sees French never pays for its model (about 50 MB)."""
    script = (
        "from newsflow_enrich import entities as ner\n"
        "from newsflow_enrich.analysis import analyse_batch\n"
        "from tests.unit.test_enrich_languages import ENGLISH, FRENCH\n"
        "analyse_batch([ENGLISH]); print(sorted(ner.loaded_languages()))\n"
        "analyse_batch([FRENCH]); print(sorted(ner.loaded_languages()))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert run.stdout.splitlines() == ["['en']", "['en', 'fr']"]


def test_an_unknown_model_language_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="no NER model for 'de'"):
        ner.nlp("de")


@pytest.mark.parametrize(
    ("name", "code"), [("Allemagne", "DE"), ("Royaume-Uni", "GB"), ("États-Unis", "US"), ("Russie", "RU")]
)
def test_countries_named_in_french_are_countries(name: str, code: str) -> None:
    from newsflow_enrich.facts import countries
    from newsflow_schemas import Entity

    assert countries([Entity(name=name, type="LOC", count=1, first_offset=0)]) == [code]
