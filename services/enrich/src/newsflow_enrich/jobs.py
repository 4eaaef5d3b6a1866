"""What enrich's worker processes run, importable without the models.

The service's main process imports this module only: spaCy, YAKE, fastText and pycountry load in the
workers, which return plain messages (AnalysedArticle), so the main process never imports the models either
when it unpickles a result. It keeps the service's memory to the workers' share.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Sequence
from datetime import datetime

from newsflow_schemas import AnalysedArticle, Article, Spelling

PRELOAD = "newsflow_enrich.preload"
"""The module the workers' forkserver imports first: it loads the models the workers then share."""


def analyse(
    articles: Sequence[Article], ner_languages: frozenset[str], lead_chars: int, max_chars: int, now: datetime
) -> list[AnalysedArticle]:
    """The articles with what enrich learns from each alone (runs in a worker)."""
    from newsflow_enrich.analysis import Options, analyse_batch
    from newsflow_enrich.dedup import signature

    analyses = analyse_batch(articles, Options(ner_languages, lead_chars, max_chars))
    release_free_memory()
    return [
        AnalysedArticle(
            **article.model_dump(),
            language=analysis.language,
            entities=analysis.entities,
            spellings=[Spelling(type=k, name=n, spellings=sorted(s)) for (k, n), s in analysis.spellings.items()],
            keywords=analysis.keywords,
            countries=analysis.countries,
            word_count=analysis.word_count,
            reading_time_minutes=analysis.reading_time_minutes,
            ner_truncated=analysis.ner_truncated,
            signature=signature(article.body),
            analysed_at=now,
        )
        for article, analysis in zip(articles, analyses, strict=True)
    ]


def release_free_memory() -> None:
    """Give the memory the batch freed back to the system (glibc keeps it otherwise: the peak of the
    largest batch stays with the worker)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(None).malloc_trim(0)


def load_models() -> None:
    """A worker's initializer: every model loaded before the first article's clock runs."""
    from newsflow_enrich.analysis import warm_up
    from newsflow_enrich.dedup import signature

    warm_up()
    signature("the permutations are drawn now, once for every worker")
