"""The enrich stages: per article language, entities, keywords and facts; across articles clusters and trends.

Two stages on the runtime, in one service (docs/decisions/006-enrich-state.md):

- ``enrich`` (:class:`AnalyseStage`) reads news.articles.v1 and runs the per-article analysis in a worker
  pool, a batch at a time; it holds no state, so replicas share the input's partitions and the cores.
  Its output goes to news.analysed.v1, internal to enrich.
- ``enrich-state`` (:class:`StateStage`) reads news.analysed.v1 (one partition: near-duplicates and aliases
  are global) and applies the keyed state — duplicate signatures and clusters (:mod:`.dedup`), aliases
  (:mod:`.aliases`), trend panes, history and marks (:mod:`.trends`) — in tables kept in a compacted changelog
  (:mod:`newsflow_common.state`). Every update is keyed and recomputed, so a replayed batch changes nothing.
  Among replicas, the one holding the partition applies the state; the others stand by.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from aiokafka import AIOKafkaProducer

from newsflow_common.dlq import Rejected
from newsflow_common.logs import get_logger
from newsflow_common.pool import WorkerPool
from newsflow_common.stage import Outputs, Result, Stage
from newsflow_common.state import StateStore
from newsflow_enrich import jobs
from newsflow_enrich.aliases import AliasBook
from newsflow_enrich.dedup import DuplicateIndex
from newsflow_enrich.metrics import DUPLICATES, LATE_ARTICLES, NER_TRUNCATED, NO_NER, SIGNATURES, WINDOWS_CLOSED
from newsflow_enrich.names import NAMED, names_of
from newsflow_enrich.settings import EnrichSettings
from newsflow_enrich.trends import TrendWindows, article_time, parse_windows
from newsflow_schemas import (
    ANALYSED,
    ARTICLES,
    ENRICHED,
    TRENDS,
    AnalysedArticle,
    Article,
    EnrichedArticle,
    Message,
    topic,
)

log = get_logger(__name__)
TABLES = ("signatures", "aliases", "trend-panes", "trend-history", "trend-marks")
CHANGELOG = "newsflow-enrich-state-changelog"


def chunks(articles: Sequence[Article], count: int) -> list[list[int]]:
    """Indexes of the articles in ``count`` groups of about equal text length (longest first, greedy)."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(count, len(articles))))]
    sizes = [0] * len(groups)
    for index in sorted(range(len(articles)), key=lambda i: -len(articles[i].body)):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(index)
        sizes[smallest] += len(articles[index].body) + len(articles[index].title)
    return [sorted(group) for group in groups if group]


def analysis_pool(workers: int | None = None) -> WorkerPool[list[AnalysedArticle]]:
    """Worker processes forked after the models were loaded, so they share the models' memory."""
    return WorkerPool(jobs.analyse, None, workers or None, initializer=jobs.load_models, preload=[jobs.PRELOAD])


class AnalyseStage(Stage[Article]):
    """What enrich learns from one article alone, in worker processes that load the models once."""

    name = "enrich"
    inputs: ClassVar[Mapping[str, type[Message]]] = {ARTICLES: Article}

    def __init__(
        self, settings: EnrichSettings | None = None, pool: WorkerPool[list[AnalysedArticle]] | InlinePool | None = None
    ) -> None:
        self.settings = settings or EnrichSettings()
        self.batch_size = self.settings.batch_size
        self.pool = pool

    async def start(self) -> None:
        if self.pool is None:
            self.pool = analysis_pool(self.settings.workers)
        await self.pool.warm_up()

    async def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    async def transform(self, messages: Sequence[Article]) -> Sequence[Result]:
        """One pool call per worker, each with an equal share of text; a died worker fails only its share."""
        assert self.pool is not None, "start() first"
        results: list[Result] = [Rejected("empty", "the article has no body text") for _ in messages]
        todo = [i for i, article in enumerate(messages) if article.body.strip()]
        groups = [[todo[i] for i in group] for group in chunks([messages[i] for i in todo], self.pool.workers)]
        settings, now = self.settings, datetime.now(UTC)
        options = (frozenset(settings.ner_languages), settings.ner_lead_chars, settings.ner_max_chars, now)
        calls = [self.pool.run([messages[i] for i in group], *options) for group in groups]
        parts = await asyncio.gather(*calls, return_exceptions=True)
        for group, part in zip(groups, parts, strict=True):
            for position, index in enumerate(group):
                if isinstance(part, BaseException):
                    results[index] = part  # the runtime tries a died worker's articles again, one by one
                else:
                    results[index] = [(ANALYSED, part[position])]
        return results


class InlinePool:
    """The worker pool's interface in this process: for tests and the one-process baseline."""

    workers = 1

    async def warm_up(self) -> None:
        await asyncio.to_thread(jobs.load_models)

    async def run(self, articles: list[Article], *options: Any) -> list[AnalysedArticle]:
        return jobs.analyse(articles, *options)

    def close(self) -> None:
        pass


class Enricher:
    """Both enrich stages in this process, state in memory: what the service does to articles, for tests and
    the one-process baseline (no Kafka)."""

    def __init__(self, settings: EnrichSettings | None = None) -> None:
        settings = settings or EnrichSettings()
        self.analyse = AnalyseStage(settings, InlinePool())
        self.state = StateStage(settings)

    async def transform(self, articles: Sequence[Article]) -> list[Result]:
        """Each article's outputs (its EnrichedArticle) or the exception it raised, in order."""
        results = list(await self.analyse.transform(articles))
        ready = [i for i, r in enumerate(results) if not isinstance(r, BaseException)]
        states = await self.state.transform([results[i][0][1] for i in ready])  # type: ignore[index,misc]
        for index, state in zip(ready, states, strict=True):
            results[index] = state
        return results

    async def enrich(self, article: Article) -> EnrichedArticle:
        """One article's EnrichedArticle; raises what enriching it raised."""
        [result] = await self.transform([article])
        if isinstance(result, BaseException):
            raise result
        enriched = result[0][1]
        assert isinstance(enriched, EnrichedArticle)
        return enriched


class StateStage(Stage[AnalysedArticle]):
    """Canonical names, near-duplicate clusters and trend windows: keyed state, applied in stream order."""

    name = "enrich-state"
    inputs: ClassVar[Mapping[str, type[Message]]] = {ANALYSED: AnalysedArticle}
    batch_size = 200

    def __init__(self, settings: EnrichSettings | None = None, store: StateStore | None = None) -> None:
        self.settings = settings or EnrichSettings()
        self.store = store or StateStore(self.settings, CHANGELOG, TABLES)
        self.use_tables(dict(self.store.tables))

    def use_tables(self, tables: dict[str, MutableMapping[str, Any]]) -> None:
        """Keep the state in these mappings (the store's tables; dicts in tests)."""
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
            settings.trend_retention_seconds,
        )

    async def start(self) -> None:
        await self.store.ensure_topic(topic(ANALYSED).partitions)

    async def assigned(self, partitions: Sequence[tuple[str, int]]) -> None:
        """The state partition came (back) to this replica: rebuild the tables and the indexes over them."""
        if not partitions:
            return
        await self.store.restore()
        self.dedup.rebuild()
        self.trends.rebuild()
        SIGNATURES.set(len(self.dedup))
        log.info("state recovered", signatures=len(self.dedup), watermark=self.trends.watermark)

    async def state_writes(self, producer: AIOKafkaProducer) -> None:
        await self.store.flush(producer)

    async def transform(self, messages: Sequence[AnalysedArticle]) -> Sequence[Result]:
        now = datetime.now(UTC)
        return [[(ENRICHED, self.enrich(message, now))] for message in messages]

    def enrich(self, article: AnalysedArticle, now: datetime) -> EnrichedArticle:
        """The stateful part, in stream order: canonical names, the cluster, the trend counts."""
        spellings: dict[tuple[str, str], set[str]] = {(s.type, s.name): set(s.spellings) for s in article.spellings}
        entities = self.aliases.apply(article.entities, spellings)
        match = self.dedup.assign(article.article_id, article.signature)
        terms: list[tuple[str, str]] = [(e.type, e.name) for e in entities if e.type in NAMED]
        terms += [("KEYWORD", keyword) for keyword in article.keywords]
        if not self.trends.count(article_time(article, now), match.cluster_id, terms):
            LATE_ARTICLES.inc()
        if match.duplicate_of:
            DUPLICATES.inc()
        if article.ner_truncated:
            NER_TRUNCATED.inc()
        if article.language not in self.settings.ner_languages:
            NO_NER.labels(article.language or "unknown").inc()
        SIGNATURES.set(len(self.dedup))
        fields = article.model_dump(exclude={"spellings", "analysed_at", "entities", "signature"})
        return EnrichedArticle(
            **fields,
            entities=entities,
            persons=names_of(entities, "PERSON"),
            organizations=names_of(entities, "ORG"),
            locations=names_of(entities, "LOC"),
            enriched_at=now,
            cluster_id=match.cluster_id,
            duplicate_of=match.duplicate_of,
        )

    async def after_batch(self) -> Outputs:
        """The windows the batch closed; their marks reach the changelog only after these records are acked."""
        outputs: list[tuple[str, Any]] = []
        for window in self.trends.due():
            trace_id = f"trends-{window.spec.name}-{window.start}"
            outputs += [(TRENDS, record) for record in self.trends.trend_counts(window, trace_id)]
            self.trends.mark_closed(window)
            WINDOWS_CLOSED.labels(window.spec.name).inc()
            what = "window corrected" if window.correction else "window closed"  # a late article changed it
            log.info(what, window=window.spec.name, start=window.start, terms=len(window.counts))
        self.trends.drop_closed_panes()
        return outputs
