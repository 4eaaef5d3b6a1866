"""The enrich stage: per article language, entities, keywords and facts; across articles clusters and trends.

Per article, the analysis runs in a process pool (:mod:`newsflow_enrich.pool`), a batch at a time. Across
articles, the state lives in five faust tables backed by changelog topics, all keyed so that processing an
article again changes nothing (docs/decisions/003-exactly-once-for-state.md):

- ``enrich-signatures``: article_id -> MinHash signature and cluster (duplicates, :mod:`.dedup`);
- ``enrich-aliases``: type and folded spelling -> canonical name (:mod:`.aliases`);
- ``enrich-trend-panes``, ``enrich-trend-history``, ``enrich-trend-marks``: windowed story counts per term,
  their history for baselines, the watermark and closed windows (:mod:`.trends`).

Tables write their changelog by key (``use_partitioner``): the state is the whole stream's, not a partition's,
so enrich runs as one replica; its NER scales over the cores through the pool.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import faust

from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_common.metrics import MESSAGES_OUT
from newsflow_common.stage import Send
from newsflow_common.streams import BatchStage, Outputs
from newsflow_enrich.aliases import AliasBook
from newsflow_enrich.analysis import Analysis, Options
from newsflow_enrich.dedup import DuplicateIndex
from newsflow_enrich.entities import NAMED, names_of
from newsflow_enrich.facts import countries
from newsflow_enrich.metrics import DUPLICATES, LATE_ARTICLES, NER_TRUNCATED, NO_NER, SIGNATURES, WINDOWS_CLOSED
from newsflow_enrich.pool import AnalysisPool, InlineAnalysis
from newsflow_enrich.settings import EnrichSettings
from newsflow_enrich.trends import TrendWindows, parse_windows
from newsflow_schemas import ARTICLES, ENRICHED, TRENDS, Article, EnrichedArticle, topic

log = get_logger(__name__)
TABLES = ("signatures", "aliases", "trend-panes", "trend-history", "trend-marks")


FUTURE_SLACK = timedelta(days=1)


def article_time(article: Article) -> datetime:
    """When the story happened, for trends: published, else parsed; a date past parsing (plus a day) is a typo."""
    published = article.published_at
    if published is None or published > article.parsed_at + FUTURE_SLACK:
        return article.parsed_at
    return published


async def _no_flush() -> None:
    return None


class EnrichStage(BatchStage[Article]):
    service = "enrich"
    input_topic = ARTICLES

    def __init__(self, settings: EnrichSettings | None = None, pool: AnalysisPool | InlineAnalysis | None = None):
        self.settings = settings or EnrichSettings()
        self.batch_size = self.settings.batch_size
        self.batch_seconds = self.settings.batch_seconds
        options = Options(
            ner_languages=frozenset(self.settings.ner_languages),
            lead_chars=self.settings.ner_lead_chars,
            max_chars=self.settings.ner_max_chars,
        )
        self.pool = pool or InlineAnalysis(options)
        self._flush: Callable[[], Awaitable[None]] = _no_flush
        self.use_tables({name: {} for name in TABLES})

    @property
    def input_model(self) -> type[Article]:
        return Article

    def use_tables(self, tables: dict[str, MutableMapping[str, Any]]) -> None:
        """Keep the state in these mappings (dicts in tests, faust tables in the service)."""
        settings = self.settings
        self.dedup = DuplicateIndex(tables["signatures"], settings.dedup_threshold, settings.dedup_max_articles)
        self.aliases = AliasBook(tables["aliases"])
        self.trends = TrendWindows(
            tables["trend-panes"],
            tables["trend-history"],
            tables["trend-marks"],
            parse_windows(settings.trend_windows),
            settings.trend_grace_seconds,
            settings.trend_baseline_windows,
            settings.trend_min_stories,
        )

    def declare(self, app: faust.App) -> None:
        """The tables on the app; after each recovery the in-memory indexes are rebuilt from them."""
        tables: dict[str, Any] = {
            name: app.Table(f"enrich-{name}", partitions=topic(self.input_topic).partitions, use_partitioner=True)
            for name in TABLES
        }
        self.use_tables(tables)

        async def rebuild() -> None:
            self.dedup.rebuild()
            self.trends.rebuild()
            SIGNATURES.set(len(self.dedup))
            log.info("state recovered", signatures=len(self.dedup), watermark=self.trends.watermark)

        tables["trend-marks"].on_recover(rebuild)
        self._flush = app.producer.flush

    async def transform_batch(self, messages: Sequence[Article]) -> list[Outputs | Rejected]:
        results: list[Outputs | Rejected] = [Rejected("empty", "the article has no body text") for _ in messages]
        to_analyse = [i for i, article in enumerate(messages) if article.body.strip()]
        analyses = await self.pool.analyse([messages[i] for i in to_analyse])
        now = datetime.now(UTC)
        for index, analysis in zip(to_analyse, analyses, strict=True):
            if isinstance(analysis, Rejected):
                results[index] = analysis
            else:
                results[index] = [(ENRICHED, self.enrich(messages[index], analysis, now))]
        return results

    def enrich(self, article: Article, analysis: Analysis, now: datetime) -> EnrichedArticle:
        """The stateful part, in stream order: canonical names, the cluster, the trend counts."""
        entities = self.aliases.apply(analysis.entities, analysis.spellings)
        match = self.dedup.assign(article.article_id, analysis.signature)
        terms: list[tuple[str, str]] = [(e.type, e.name) for e in entities if e.type in NAMED]
        terms += [("KEYWORD", keyword) for keyword in analysis.keywords]
        if not self.trends.count(article_time(article), match.cluster_id, terms):
            LATE_ARTICLES.inc()
        if match.duplicate_of:
            DUPLICATES.inc()
        if analysis.ner_truncated:
            NER_TRUNCATED.inc()
        if analysis.language not in self.settings.ner_languages:
            NO_NER.labels(analysis.language or "unknown").inc()
        SIGNATURES.set(len(self.dedup))
        return EnrichedArticle(
            **article.model_dump(),
            language=analysis.language,
            entities=entities,
            persons=names_of(entities, "PERSON"),
            organizations=names_of(entities, "ORG"),
            locations=names_of(entities, "LOC"),
            enriched_at=now,
            keywords=analysis.keywords,
            countries=countries(entities),
            word_count=analysis.word_count,
            reading_time_minutes=analysis.reading_time_minutes,
            ner_truncated=analysis.ner_truncated,
            cluster_id=match.cluster_id,
            duplicate_of=match.duplicate_of,
        )

    async def after_batch(self, send: Send) -> None:
        """Emit the windows the batch closed: records acked first, then the window marked closed."""
        closed = self.trends.due()
        for window in closed:
            trace_id = f"trends-{window.spec.name}-{window.start}"
            for record in self.trends.trend_counts(window, trace_id):
                await send(TRENDS, record)
                MESSAGES_OUT.labels(self.service, TRENDS).inc()
            self.trends.mark_closed(window)
            WINDOWS_CLOSED.labels(window.spec.name).inc()
            log.info("window closed", window=window.spec.name, start=window.start, terms=len(window.counts))
        if closed:
            await self._flush()  # the closed marks are durable before the panes they free are dropped
            self.trends.drop_closed_panes()
