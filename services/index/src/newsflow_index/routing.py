"""Where a document lives: the monthly article index and the version that orders its updates.

``_id`` is unique per index only, so a re-delivered article must land in the index it landed in
before: the month of ``published_at`` (else of ``parsed_at``), both carried in the message itself.
When a new version of an article changes month, the indexer moves it (bulk.plan_moves).
"""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow_schemas import EnrichedArticle


def month_index(alias: str, when: datetime) -> str:
    """``news-articles-2024.05`` for any time in May 2024 (UTC)."""
    return f"{alias}-{when.astimezone(UTC):%Y.%m}"


def article_index(alias: str, article: EnrichedArticle) -> str:
    """The monthly index of an article: by published time, else by the time it was parsed."""
    return month_index(alias, article.published_at or article.parsed_at)


def article_version(article: EnrichedArticle) -> int:
    """External version: the enrich time in ms, so a replay of an older version never overwrites a newer."""
    return int(article.enriched_at.timestamp() * 1000)
