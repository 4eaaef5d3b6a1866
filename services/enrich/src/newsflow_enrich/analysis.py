"""What enrich learns from one article alone: language, entities, keywords, facts.

Pure and CPU-bound, batch in, batch out: it runs in the enrich stage's worker processes
(:mod:`newsflow_enrich.jobs`), each of which loads the models once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from newsflow_enrich import entities as ner
from newsflow_enrich.facts import countries, reading_time_minutes, word_count
from newsflow_enrich.keywords import keywords
from newsflow_enrich.language import detect_language
from newsflow_schemas import Article, Entity


@dataclass(frozen=True)
class Options:
    ner_languages: frozenset[str] = frozenset(ner.MODELS)
    lead_chars: int = ner.LEAD_CHARS
    max_chars: int = ner.MAX_CHARS


@dataclass(frozen=True)
class Analysis:
    language: str | None
    entities: list[Entity]
    spellings: ner.Spellings
    keywords: list[str]
    countries: list[str]
    word_count: int
    reading_time_minutes: float
    ner_truncated: bool


def text_of(article: Article) -> str:
    """What NER reads; entity offsets point into it."""
    return f"{article.title}\n\n{article.body}"


def ner_model_language(language: str | None, options: Options) -> str | None:
    """Which model reads an article: its language's, if it has one and NER is on for it; None: no NER.

    Unsure (None) goes to the English model: it finds nothing much in other text, and misses nothing in English.
    """
    if language is None:
        return "en" if "en" in options.ner_languages else None
    return language if language in options.ner_languages and language in ner.MODELS else None


def _read(texts: list[str], languages: list[str | None], options: Options) -> dict[int, ner.Reading]:
    """NER over the texts, one nlp.pipe per model for all the texts it reads."""
    by_model: dict[str, list[int]] = {}
    for index, language in enumerate(languages):
        model = ner_model_language(language, options)
        if model:
            by_model.setdefault(model, []).append(index)
    readings: dict[int, ner.Reading] = {}
    for model, indexes in by_model.items():
        found = ner.read_entities(ner.nlp(model), [texts[i] for i in indexes], options.lead_chars, options.max_chars)
        readings.update(zip(indexes, found, strict=True))
    return readings


def analyse_batch(articles: Sequence[Article], options: Options = Options()) -> list[Analysis]:
    """Analyse articles together (one nlp.pipe per language's model)."""
    texts = [text_of(article) for article in articles]
    languages = [detect_language(text) for text in texts]
    readings = _read(texts, languages, options)
    results = []
    for index, article in enumerate(articles):
        reading = readings.get(index)
        found, spellings = ner.resolve(reading.mentions) if reading else ([], {})
        words = word_count(article.body)
        results.append(
            Analysis(
                language=languages[index],
                entities=found,
                spellings=spellings,
                keywords=keywords(article.title, article.body, languages[index], found),
                countries=countries(found),
                word_count=words,
                reading_time_minutes=reading_time_minutes(words),
                ner_truncated=bool(reading and reading.truncated),
            )
        )
    return results


def warm_up() -> None:
    """Load every model now (a worker's initializer), not on the first article."""
    ner.nlp()
    analyse_batch([Article.model_validate(_WARM_UP)])


_WARM_UP = {
    "trace_id": "warm-up",
    "article_id": "warm-up",
    "doc_id": "warm-up",
    "source": "warm-up",
    "title": "Warm-up",
    "body": "Reuters reported from Paris on Monday that the talks went well.",
    "extractor": "plain-text",
    "parsed_at": "2024-01-01T00:00:00Z",
}
