"""The completeness ledger: what became of every raw document and every article, per source and hour.

Pure arithmetic over *facts* read from the durable records — the topics and Elasticsearch, which survive
restarts (Prometheus counters reset). :func:`facts_of` turns one Kafka record into facts; :func:`build`
turns facts into a :class:`Report`: counts per source and hour, and the identities that do not balance:

- every raw document on news.raw.v1 ends as article(s) on news.articles.v1, or links on news.links.v1
  (a listing page), or a parse dead letter;
- every article ends indexed in Elasticsearch, or a counted duplicate, or an enrich or index dead letter.

An article is a record of one document: two documents whose stories share a canonical URL (a repeated
story, or a URL fetched again with changed content) give two articles with one ``article_id``, and each is
followed by its (doc_id, article_id). Elasticsearch holds one version per ``article_id``: an enriched
article whose id is indexed from another document's version is *superseded*, an end of its own.

Counts are of distinct ids (a re-delivery is not a second document); dead letters are distinct by the
position of the record they hold. A row's hour is the hour its raw document was fetched, so the articles
of a page land in the page's row; what cannot be traced to a document uses its own time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from newsflow_common.stage import SOURCE_NAME_HEADER, UNKNOWN_SOURCE
from newsflow_schemas import (
    ARTICLES,
    ENRICHED,
    LINKS,
    RAW,
    Article,
    DeadLetter,
    EnrichedArticle,
    LinkToFetch,
    RawDocument,
    decode,
    dlq_of,
    header,
)

FailedStage = Literal["parse", "enrich", "index"]
DLQ_STAGES: dict[str, FailedStage] = {dlq_of(RAW): "parse", dlq_of(ARTICLES): "enrich", dlq_of(ENRICHED): "index"}
"""Which stage's failures each DLQ holds (news.raw.v1.dlq also holds ingest's refusals, told apart by stage)."""
STAGE_INPUTS: dict[FailedStage, type[RawDocument | Article]] = {
    "parse": RawDocument,
    "enrich": Article,
    "index": EnrichedArticle,
}
LEDGER_TOPICS = [RAW, dlq_of(RAW), LINKS, ARTICLES, dlq_of(ARTICLES), ENRICHED, dlq_of(ENRICHED)]


@dataclass(frozen=True)
class Raw:
    doc_id: str
    source: str
    at: datetime
    trace_id: str
    url: str | None


@dataclass(frozen=True)
class Refused:
    """A document ingest refused before any topic (empty, binary, too large)."""

    source: str
    kind: str
    at: datetime


@dataclass(frozen=True)
class Links:
    """A link found on a listing page: the page's document ended as links, not articles."""

    source: str
    trace_id: str
    found_on: str | None
    at: datetime


@dataclass(frozen=True)
class Failed:
    """A dead letter of parse (id: doc_id), enrich or index (id: article_id, with its doc_id); None when undecodable."""

    stage: FailedStage
    id: str | None
    source: str
    kind: str
    at: datetime
    origin: str
    """Where the record it holds was read (topic:partition:offset): a re-delivered failure counts once."""
    doc_id: str | None = None
    """The document of the article an enrich or index dead letter holds."""


@dataclass(frozen=True)
class Parsed:
    article_id: str
    doc_id: str
    source: str
    at: datetime


@dataclass(frozen=True)
class Enriched:
    article_id: str
    doc_id: str
    source: str
    duplicate: bool
    at: datetime
    """When it was parsed: places it when its parse record is gone (topic retention)."""


@dataclass(frozen=True)
class Indexed:
    article_id: str
    doc_id: str
    """The document of the version Elasticsearch holds (the latest)."""
    source: str
    at: datetime
    """When it was parsed, as above."""


Fact = Raw | Refused | Links | Failed | Parsed | Enriched | Indexed


@dataclass
class Counts:
    """One row of the ledger. ``received`` = ``raw`` (accepted onto news.raw.v1) + ``refused`` by ingest."""

    raw: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    listing_pages: int = 0
    links: int = 0
    parse_dlq: int = 0
    articles: int = 0
    enrich_dlq: int = 0
    enriched: int = 0
    duplicates: int = 0
    indexed: int = 0
    superseded: int = 0
    index_dlq: int = 0

    @property
    def received(self) -> int:
        return self.raw + sum(self.refused.values())

    def add(self, other: Counts) -> None:
        for name, value in vars(other).items():
            if name == "refused":
                self.refused.update(value)
            else:
                setattr(self, name, getattr(self, name) + value)

    def dead_lettered(self, stage: FailedStage) -> None:
        if stage == "parse":
            self.parse_dlq += 1
        elif stage == "enrich":
            self.enrich_dlq += 1
        else:
            self.index_dlq += 1

    def as_dict(self) -> dict[str, Any]:
        return {"received": self.received, **vars(self), "refused": dict(sorted(self.refused.items()))}


@dataclass(frozen=True)
class Break:
    """An identity that does not balance: a document or an article with no end."""

    what: Literal["document", "article"]
    id: str
    source: str
    detail: str


@dataclass
class Report:
    rows: dict[str, dict[str, Counts]]
    """source -> hour (``2024-05-07T10:00Z``) -> counts."""
    breaks: list[Break]

    @property
    def balanced(self) -> bool:
        return not self.breaks

    def totals(self) -> dict[str, Counts]:
        totals: dict[str, Counts] = {}
        for source, hours in sorted(self.rows.items()):
            total = totals.setdefault(source, Counts())
            for counts in hours.values():
                total.add(counts)
        return totals

    def as_dict(self) -> dict[str, Any]:
        return {
            "balanced": self.balanced,
            "totals": {source: counts.as_dict() for source, counts in self.totals().items()},
            "hours": {
                source: {hour: counts.as_dict() for hour, counts in sorted(hours.items())}
                for source, hours in sorted(self.rows.items())
            },
            "unbalanced": [vars(item) for item in self.breaks],
        }


def hour_of(when: datetime) -> str:
    """The row of a time: its hour in UTC, e.g. ``2024-05-07T10:00Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:00Z")


# --- From Kafka records to facts ------------------------------------------------------------------------------


def facts_of(topic: str, value: bytes | None, headers: list[tuple[str, bytes]] | None = None) -> list[Fact]:
    """The facts one record of a ledger topic states; none for a record that is not what the topic holds."""
    try:
        if topic == RAW:
            doc = decode(RawDocument, value)
            return [Raw(doc.doc_id, doc.source, doc.fetched_at, doc.trace_id, doc.url)]
        if topic == LINKS:
            link = decode(LinkToFetch, value)
            return [Links(link.source, link.trace_id, link.found_on, link.found_at)]
        if topic == ARTICLES:
            article = decode(Article, value)
            return [Parsed(article.article_id, article.doc_id, article.source, article.parsed_at)]
        if topic == ENRICHED:
            enriched = decode(EnrichedArticle, value)
            duplicate = enriched.duplicate_of is not None
            return [Enriched(enriched.article_id, enriched.doc_id, enriched.source, duplicate, enriched.parsed_at)]
        if topic in DLQ_STAGES:
            return [failure_of(topic, decode(DeadLetter, value), headers)]
    except ValidationError:
        return []  # poison on a topic: the stage reading it dead-letters it, and that letter is counted
    return []


def failure_of(dlq: str, letter: DeadLetter, headers: list[tuple[str, bytes]] | None) -> Fact:
    """A dead letter as a refusal (ingest's) or a stage's failure, with the ids its original still tells."""
    if letter.stage == "ingest":
        return Refused(header(headers, SOURCE_NAME_HEADER) or UNKNOWN_SOURCE, letter.error_kind, letter.failed_at)
    stage = DLQ_STAGES[dlq]
    origin = f"{letter.topic}:{letter.partition}:{letter.offset}"
    try:
        original = decode(STAGE_INPUTS[stage], letter.original)
    except ValidationError:  # not JSON, wrong schema, or only the beginning of a huge message
        return Failed(stage, None, UNKNOWN_SOURCE, letter.error_kind, letter.failed_at, origin)
    if isinstance(original, RawDocument):
        return Failed(stage, original.doc_id, original.source, letter.error_kind, letter.failed_at, origin)
    kind, at = letter.error_kind, letter.failed_at
    return Failed(stage, original.article_id, original.source, kind, at, origin, original.doc_id)


# --- From facts to the report ---------------------------------------------------------------------------------


ArticleKey = tuple[str, str]
"""(doc_id, article_id): one document's article; the same article_id may come from several documents."""


@dataclass
class _Seen:
    """The facts folded by identity: first sighting of each id, dead letters by stage."""

    docs: dict[str, Raw] = field(default_factory=dict)
    articles: dict[ArticleKey, Parsed] = field(default_factory=dict)
    enriched: dict[ArticleKey, Enriched] = field(default_factory=dict)
    indexed: dict[str, Indexed] = field(default_factory=dict)
    """By article_id: Elasticsearch holds one version of each."""
    refused: list[Refused] = field(default_factory=list)
    links: list[Links] = field(default_factory=list)
    failed: dict[str, Failed] = field(default_factory=dict)

    def add(self, fact: Fact) -> None:
        if isinstance(fact, Raw):
            self.docs.setdefault(fact.doc_id, fact)
        elif isinstance(fact, Parsed):
            self.articles.setdefault((fact.doc_id, fact.article_id), fact)
        elif isinstance(fact, Enriched):
            key = (fact.doc_id, fact.article_id)
            kept = self.enriched.get(key)
            self.enriched[key] = fact if kept is None or fact.duplicate else kept
        elif isinstance(fact, Indexed):
            self.indexed.setdefault(fact.article_id, fact)
        elif isinstance(fact, Refused):
            self.refused.append(fact)
        elif isinstance(fact, Links):
            self.links.append(fact)
        else:
            self.failed.setdefault(fact.origin, fact)

    def failed_docs(self) -> set[str]:
        return {f.id for f in self.failed.values() if f.stage == "parse" and f.id is not None}

    def failed_articles(self) -> set[ArticleKey]:
        return {
            (f.doc_id, f.id)
            for f in self.failed.values()
            if f.stage != "parse" and f.id is not None and f.doc_id is not None
        }

    def indexed_as_itself(self, key: ArticleKey) -> bool:
        doc_id, article_id = key
        found = self.indexed.get(article_id)
        return found is not None and found.doc_id == doc_id

    def superseded(self) -> set[ArticleKey]:
        """Enriched articles whose id Elasticsearch holds in another document's version (a later one wins)."""
        return {
            key
            for key, enriched in self.enriched.items()
            if not enriched.duplicate and key[1] in self.indexed and not self.indexed_as_itself(key)
        }

    def doc_place(self, doc_id: str | None, fallback: tuple[str, datetime]) -> tuple[str, datetime]:
        """(source, time) of a row: the document's fetch time, else the fact's own."""
        doc = self.docs.get(doc_id) if doc_id is not None else None
        return (doc.source, doc.at) if doc else fallback

    def failure_place(self, failure: Failed) -> tuple[str, datetime]:
        doc_id = failure.id if failure.stage == "parse" else failure.doc_id
        return self.doc_place(doc_id, (failure.source, failure.at))

    def listing_docs(self) -> dict[tuple[str, str | None], Raw]:
        """Listing pages by (trace id, page URL): links carry their page's trace id and URL, not its doc_id."""
        by_key = {(doc.trace_id, doc.url): doc for doc in self.docs.values()}
        return {
            (link.trace_id, link.found_on): by_key[key]
            for link in self.links
            if (key := (link.trace_id, link.found_on)) in by_key
        }


def build(facts: Iterable[Fact], source: str | None = None) -> Report:
    """The ledger of ``facts`` (of one source, when given)."""
    seen = _Seen()
    for fact in facts:
        if source is None or fact.source == source:
            seen.add(fact)
    return Report(_rows(seen), _breaks(seen))


def _rows(seen: _Seen) -> dict[str, dict[str, Counts]]:
    rows: dict[str, dict[str, Counts]] = {}

    def row(place: tuple[str, datetime]) -> Counts:
        source, when = place
        return rows.setdefault(source, {}).setdefault(hour_of(when), Counts())

    for doc in seen.docs.values():
        row((doc.source, doc.at)).raw += 1
    for refusal in seen.refused:
        row((refusal.source, refusal.at)).refused[refusal.kind] += 1
    listing = seen.listing_docs()
    for link in seen.links:
        page = listing.get((link.trace_id, link.found_on))
        row((link.source, page.at if page else link.at)).links += 1
    for page in {doc.doc_id: doc for doc in listing.values()}.values():
        row((page.source, page.at)).listing_pages += 1
    for failure in seen.failed.values():
        row(seen.failure_place(failure)).dead_lettered(failure.stage)
    for article in seen.articles.values():
        row(seen.doc_place(article.doc_id, (article.source, article.at))).articles += 1
    for enriched in seen.enriched.values():
        counts = row(seen.doc_place(enriched.doc_id, (enriched.source, enriched.at)))
        counts.enriched += 1
        counts.duplicates += enriched.duplicate
    for indexed in seen.indexed.values():
        row(seen.doc_place(indexed.doc_id, (indexed.source, indexed.at))).indexed += 1
    for doc_id, article_id in seen.superseded():
        enriched = seen.enriched[(doc_id, article_id)]
        row(seen.doc_place(doc_id, (enriched.source, enriched.at))).superseded += 1
    return rows


def _breaks(seen: _Seen) -> list[Break]:
    breaks: list[Break] = []
    parsed_docs = {doc_id for doc_id, _ in seen.articles}
    listing = {doc.doc_id for doc in seen.listing_docs().values()}
    parse_failed = seen.failed_docs()
    for doc in sorted(seen.docs.values(), key=lambda d: d.doc_id):
        if doc.doc_id not in parsed_docs and doc.doc_id not in listing and doc.doc_id not in parse_failed:
            breaks.append(Break("document", doc.doc_id, doc.source, "on news.raw.v1; no article, links or dead letter"))
    duplicates = {key for key, enriched in seen.enriched.items() if enriched.duplicate}
    ended = seen.failed_articles() | duplicates | seen.superseded()
    for key, article in sorted(seen.articles.items(), key=lambda item: (item[0][1], item[0][0])):
        if key not in ended and not seen.indexed_as_itself(key):
            stopped = "enriched, not indexed" if key in seen.enriched else "not enriched"
            detail = f"from document {article.doc_id}: {stopped}; no dead letter"
            breaks.append(Break("article", article.article_id, article.source, detail))
    return breaks
