"""Keyphrases with YAKE on the article's lead, entities left out.

YAKE on a whole article costs about as much as NER; the lead (title and first paragraphs) carries the
story's key terms, at a fraction of the cost.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import yake  # type: ignore[import-untyped]

from newsflow_enrich.names import fold
from newsflow_schemas import Entity

LEAD_CHARS = 1000
TOP = 8


@cache
def yake_languages() -> frozenset[str]:
    """Languages YAKE has a stopword list for; others get no keywords rather than stopword soup."""
    files = resources.files("yake.core").joinpath("StopwordsList").iterdir()
    codes = {f.name.removeprefix("stopwords_").removesuffix(".txt") for f in files}
    return frozenset(codes - {"noLang"})


@cache
def _extractor(language: str) -> yake.KeywordExtractor:
    return yake.KeywordExtractor(lan=language, n=3, top=TOP * 2, dedupLim=0.7)


def keywords(title: str, body: str, language: str | None, entities: list[Entity]) -> list[str]:
    """Up to TOP keyphrases of the lead, best first, none of them an entity or made of entity words only."""
    if language not in yake_languages():
        return []
    lead = f"{title}\n\n{body[:LEAD_CHARS]}"
    entity_words = {word for e in entities for word in fold(e.name).split()}
    found: list[str] = []
    for phrase, _score in _extractor(language).extract_keywords(lead):
        words = fold(phrase).split()
        if all(word in entity_words for word in words) or fold(phrase) in (fold(f) for f in found):
            continue
        found.append(phrase)
        if len(found) == TOP:
            break
    return found
