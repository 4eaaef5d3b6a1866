"""The enrich stage: language and named entities for every article."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from newsflow_common.stage import Stage
from newsflow_enrich.entities import extract_entities, names_of
from newsflow_enrich.language import detect_language
from newsflow_schemas import ARTICLES, ENRICHED, Article, EnrichedArticle, Message


def enrich(article: Article) -> EnrichedArticle:
    """Pure and CPU-bound: runs off the event loop."""
    text = f"{article.title}\n\n{article.body}"
    entities = extract_entities(text)
    return EnrichedArticle(
        **article.model_dump(),
        language=detect_language(text),
        entities=entities,
        persons=names_of(entities, "PERSON"),
        organizations=names_of(entities, "ORG"),
        locations=names_of(entities, "LOC"),
        enriched_at=datetime.now(UTC),
    )


class EnrichStage(Stage[Article]):
    service = "enrich"
    input_topic = ARTICLES

    @property
    def input_model(self) -> type[Article]:
        return Article

    async def transform(self, message: Article) -> Sequence[tuple[str, Message]]:
        enriched = await asyncio.get_running_loop().run_in_executor(None, enrich, message)
        return [(ENRICHED, enriched)]
