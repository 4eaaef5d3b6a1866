"""The analyst's questions, as Elasticsearch queries: shared by the CLI (query.py) and the HTTP API (api.py).

Every function takes a client and the alias to read, and returns plain rows (dicts of JSON values).
Where the local stand-in lacks a feature (ordering terms by a sub-aggregation, reverse_nested,
``exclude`` in terms) the query asks for what real Elasticsearch answers exactly, and the rows are
re-sorted or filtered here, which changes nothing on real Elasticsearch.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import difflib
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError, TransportError

SEARCH_FIELDS = [
    "article_id", "title", "section", "site_name", "source", "language", "published_at", "url", "cluster_id"
]  # fmt: skip
ROLES = {"persons": "PERSON", "organizations": "ORG", "locations": "LOC"}
"""The keyword arrays of an article, and the entity type each holds."""
INTERVALS = ("hour", "day")


@dataclass(frozen=True)
class Filters:
    """What narrows a question down; every field is optional. Dates: ISO 8601 or date math (``now-7d``)."""

    source: str | None = None
    section: str | None = None
    site: str | None = None
    language: str | None = None
    entity: str | None = None
    entity_type: str | None = None
    since: str | None = None
    until: str | None = None
    entity_names: tuple[str, ...] = ()
    """The indexed names ``entity`` stands for (:func:`resolve`); empty: ``entity`` as it is written."""

    def clauses(self) -> list[dict[str, Any]]:
        terms = {"source": self.source, "section": self.section, "site_name": self.site, "language": self.language}
        found: list[dict[str, Any]] = [{"term": {field: value}} for field, value in terms.items() if value]
        if self.entity_names:
            found.append(entity_clause(list(self.entity_names), self.entity_type))
        elif self.entity:
            found.append(entity_clause(self.entity, self.entity_type))
        if self.since or self.until:
            bounds = {"gte": self.since, "lt": self.until}
            found.append({"range": {"published_at": {k: v for k, v in bounds.items() if v}}})
        return found


def entity_clause(name: str | list[str], kind: str | None = None) -> dict[str, Any]:
    """Articles that mention the entity ``name``, or any of the names given (of type ``kind``, when given)."""
    match = {"terms": {"entities.name": name}} if isinstance(name, list) else {"term": {"entities.name": name}}
    must: list[dict[str, Any]] = [match]
    if kind:
        must.append({"term": {"entities.type": kind}})
    return {"nested": {"path": "entities", "query": {"bool": {"filter": must}}}}


# Names: the indexed articles carry canonical names ("Donald Trump"); analysts type "Trump" or "donald trump".

CANDIDATES = 200
"""Indexed names read per question: those holding the asked word, most articles first."""
SUGGESTIONS = 5
SIMILAR = 0.7
"""How alike (difflib's ratio) a name or one of its words must be to the asked name to be suggested."""


class UnknownEntity(ValueError):
    """No indexed name is the asked name or holds it; ``suggestions`` are the closest by spelling."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        self.name, self.suggestions = name, suggestions
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"no entity named {name!r}{hint}")


@dataclass(frozen=True)
class Candidate:
    """An indexed entity name, its types and the number of articles that name it."""

    name: str
    types: frozenset[str]
    articles: int


def _words(name: str) -> list[str]:
    return name.casefold().split()


def _holds(name: str, words: list[str]) -> bool:
    """``words`` appear in ``name`` as whole words, in order, side by side ('Trump' in 'Donald Trump')."""
    have = _words(name)
    return any(have[i : i + len(words)] == words for i in range(len(have) - len(words) + 1))


def choose_names(asked: str, candidates: Sequence[Candidate]) -> list[str]:
    """The indexed names ``asked`` stands for: itself in any case, and the one longer name most articles give.

    'Trump' stands for Trump and Donald Trump (not Ivanka Trump, named in fewer articles: ask for her by
    name). When the asked name is itself indexed, a longer name must share one of its types, so 'Jordan'
    the country does not pull in Michael Jordan.
    """
    words = _words(asked)
    if not words:
        return []
    exact = [c for c in candidates if _words(c.name) == words]
    types = frozenset().union(*(c.types for c in exact)) if exact else None
    longer = [c for c in candidates if c not in exact and _holds(c.name, words) and (types is None or c.types & types)]
    best = sorted(longer, key=lambda c: (-c.articles, c.name))[:1]
    return sorted(c.name for c in [*exact, *best])


def suggest(asked: str, candidates: Sequence[Candidate]) -> list[str]:
    """Names spelt like ``asked`` (the whole name, or one of its words a little less), most alike first."""
    wanted = " ".join(_words(asked))

    def likeness(name: str) -> float:
        whole = difflib.SequenceMatcher(None, wanted, " ".join(_words(name))).ratio()
        word = max((difflib.SequenceMatcher(None, wanted, w).ratio() for w in _words(name)), default=0.0)
        return max(whole, word - 0.05)

    scored = [(likeness(c.name), c.articles, c.name) for c in candidates]
    alike = sorted((s for s in scored if s[0] >= SIMILAR), key=lambda s: (-s[0], -s[1], s[2]))
    return [name for _, _, name in alike[:SUGGESTIONS]]


def _wildcard_escape(text: str) -> str:
    return re.sub(r"([\\*?])", r"\\\1", text)


def candidates_aggregation(word: str | None, kind: str | None, size: int = CANDIDATES) -> dict[str, Any]:
    """Indexed names holding ``word`` in any case (all names without one), of type ``kind``, with their types."""
    clauses: list[dict[str, Any]] = []
    if word:
        pattern = f"*{_wildcard_escape(word)}*"
        clauses.append({"wildcard": {"entities.name": {"value": pattern, "case_insensitive": True}}})
    if kind:
        clauses.append({"term": {"entities.type": kind}})
    names = {
        "terms": {"field": "entities.name", "size": size},
        "aggs": {"types": {"terms": {"field": "entities.type"}}},
    }
    matching = {"filter": {"bool": {"filter": clauses}}, "aggs": {"names": names}}
    return {"names": {"nested": {"path": "entities"}, "aggs": {"matching": matching}}}


async def candidates(client: AsyncElasticsearch, alias: str, word: str | None, kind: str | None) -> list[Candidate]:
    response = await client.search(index=alias, size=0, aggs=candidates_aggregation(word, kind))
    buckets = response["aggregations"]["names"]["matching"]["names"]["buckets"]
    return [
        Candidate(b["key"], frozenset(t["key"] for t in b["types"]["buckets"]), int(b["doc_count"])) for b in buckets
    ]


async def entity_names(client: AsyncElasticsearch, alias: str, name: str, kind: str | None = None) -> list[str]:
    """The indexed names ``name`` stands for (:func:`choose_names`); :class:`UnknownEntity` when none."""
    longest = max(name.split(), key=len, default="")
    chosen = choose_names(name, await candidates(client, alias, longest, kind))
    if chosen:
        return chosen
    raise UnknownEntity(name, suggest(name, await candidates(client, alias, None, kind)))


async def resolve(client: AsyncElasticsearch, alias: str, filters: Filters) -> Filters:
    """``filters`` with its entity resolved to the indexed names it stands for."""
    if not filters.entity or filters.entity_names:
        return filters
    names = await entity_names(client, alias, filters.entity, filters.entity_type)
    return replace(filters, entity_names=tuple(names))


HIGHLIGHT_FIELDS = {"title": {"number_of_fragments": 0}, "body": {"number_of_fragments": 1, "fragment_size": 160}}
PIT_KEEP_ALIVE = "5m"
"""How long a search's paging cursor stays valid after its last page (Elasticsearch's point in time)."""


@dataclass(frozen=True)
class Cursor:
    """Where the next page starts: the point in time the search reads (None in cursors from before points in
    time) and the sort values of the previous page's last hit."""

    pit: str | None
    after: list[Any]


def encode_cursor(pit: str | None, sort_values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"pit": pit, "after": sort_values}).encode()).decode()


def decode_cursor(cursor: str) -> Cursor:
    """The cursor of the previous page; ValueError when it is not one of ours."""
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a paging cursor: {cursor!r}") from exc
    if isinstance(value, list):  # an earlier version's cursor: the sort values alone
        return Cursor(None, value)
    if isinstance(value, dict) and isinstance(value.get("after"), list) and isinstance(value.get("pit"), str | None):
        return Cursor(value["pit"], value["after"])
    raise ValueError(f"not a paging cursor: {cursor!r}")


async def open_point_in_time(client: AsyncElasticsearch, alias: str) -> str:
    """A point in time over the indices behind the alias, named one by one: the local stand-in's point in time
    over an alias reaches only its first index (decision 001). The name itself when it is an index."""
    try:
        indices = sorted((await client.indices.get_alias(name=alias)).keys())
    except NotFoundError:
        indices = [alias]
    return str((await client.open_point_in_time(index=indices, keep_alive=PIT_KEEP_ALIVE))["id"])


async def search(
    client: AsyncElasticsearch,
    alias: str,
    text: str | None,
    filters: Filters = Filters(),
    size: int = 10,
    after: str | None = None,
) -> dict[str, Any]:
    """Articles matching ``text`` (best first; newest first without text), highlighted, a page at a time.

    Returns ``{"total", "hits", "next"}``; pass ``next`` as ``after`` for the following page. Every page of a
    search reads the index as it was at the first (a point in time): a score depends on how rare a word is
    among all the documents, so articles arriving in between would shift the scores and the pages would skip
    or repeat hits.
    """
    filters = await resolve(client, alias, filters)
    cursor = decode_cursor(after) if after else None
    must = [{"multi_match": {"query": text, "fields": ["title^2", "summary", "body"]}}] if text else []
    # unmapped_type: an index of the alias that holds no article yet has no mapping to sort on; without it
    # Elasticsearch refuses the whole search (search_phase_execution_exception).
    newest = {"published_at": {"order": "desc", "missing": "_last", "unmapped_type": "date"}}
    sort: list[Any] = ["_score", newest] if text else [newest]
    sort.append({"article_id": {"order": "asc", "unmapped_type": "keyword"}})  # unique: search_after never skips
    if cursor and cursor.pit is None:  # an earlier version's cursor: the index as it is now
        where: dict[str, Any] = {"index": alias}
    else:
        pit = cursor.pit if cursor else await open_point_in_time(client, alias)
        where = {"pit": {"id": pit, "keep_alive": PIT_KEEP_ALIVE}}
    try:
        response = await client.search(
            **where,
            query={"bool": {"must": must, "filter": filters.clauses()}},
            highlight={"fields": HIGHLIGHT_FIELDS},
            source_includes=SEARCH_FIELDS,
            sort=sort,
            search_after=cursor.after if cursor else None,
            size=size,
            track_total_hits=True,
        )
    except NotFoundError as exc:
        if cursor is None or cursor.pit is None:
            raise
        raise ValueError(f"the paging cursor has expired ({PIT_KEEP_ALIVE} after its page): search again") from exc
    hits = []
    for hit in response["hits"]["hits"]:
        highlight = hit.get("highlight", {})
        fragment = (highlight.get("body") or highlight.get("title") or [""])[0]
        hits.append({**hit["_source"], "score": hit["_score"], "highlight": fragment})
    last = response["hits"]["hits"][-1]["sort"] if len(hits) == size else None
    pit_now = response.get("pit_id")  # Elasticsearch may hand a new id for the same point in time
    if pit_now and not last:  # the last page: nothing will read it again (and it expires by itself)
        with contextlib.suppress(ApiError, TransportError):
            await client.close_point_in_time(id=pit_now)
    return {
        "total": response["hits"]["total"]["value"],
        "hits": hits,
        "next": encode_cursor(pit_now, last) if last else None,
    }


async def top_entities(
    client: AsyncElasticsearch, alias: str, kind: str, filters: Filters = Filters(), size: int = 10
) -> list[dict[str, Any]]:
    """The entities of a type with the most mentions, and in how many articles they appear."""
    filters = await resolve(client, alias, filters)
    response = await client.search(
        index=alias,
        size=0,
        query={"bool": {"filter": filters.clauses()}},
        aggs={
            "entities": {
                "nested": {"path": "entities"},
                "aggs": {
                    "of_type": {
                        "filter": {"term": {"entities.type": kind}},
                        "aggs": {
                            "names": {
                                # Headroom, then a re-sort below: the local stand-in ignores a sub-aggregation order.
                                "terms": {"field": "entities.name", "size": size * 10, "order": {"mentions": "desc"}},
                                "aggs": {"mentions": {"sum": {"field": "entities.count"}}},
                            }
                        },
                    }
                },
            }
        },
    )
    buckets = response["aggregations"]["entities"]["of_type"]["names"]["buckets"]
    # One entity per (name, type) per article (enrich folds mentions), so a nested bucket's count is articles.
    rows = [{"name": b["key"], "mentions": int(b["mentions"]["value"]), "articles": b["doc_count"]} for b in buckets]
    return sorted(rows, key=lambda row: (-row["mentions"], -row["articles"], row["name"]))[:size]


async def trending(
    client: AsyncElasticsearch,
    alias: str,
    window: str = "24h",
    kind: str | None = None,
    size: int = 10,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The terms with the highest trend score in windows that ended within ``window`` (e.g. 1h, 24h, 7d).

    Each term once, with its best window (field collapsing on the term). Trend counts are the whole stream's,
    not a source's: a story counts once across every outlet that reprints it, so ``source`` is refused.
    """
    if source:
        raise ValueError(
            "trending cannot narrow to a source: trend counts are kept for the whole stream, a story counted "
            "once across the outlets that reprint it (use top --source for one source's entities)"
        )
    clauses: list[dict[str, Any]] = [{"range": {"window_end": {"gte": f"now-{window}"}}}]
    if kind:
        clauses.append({"term": {"type": kind}})
    response = await client.search(
        index=alias,
        query={"bool": {"filter": clauses}},
        collapse={"field": "term"},
        sort=[{"score": "desc"}, {"count": "desc"}, {"term": "asc"}],
        source_includes=["term", "type", "count", "baseline", "score", "window_start", "window_end"],
        size=size,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


def history_ends(end: datetime, length: timedelta, size: int) -> list[datetime]:
    """The ends of ``size`` windows of ``length`` one after the other, the last ending at ``end``, oldest first."""
    try:
        return [end - length * back for back in range(size - 1, -1, -1)]
    except OverflowError as exc:
        raise ValueError(f"end: {size} windows of {length} before {end} start before the year 1") from exc


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def history_points(ends: list[datetime], length: timedelta, stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per window end, oldest first: the stored window of exactly ``length`` there, or a null count."""
    found = {
        _instant(row["window_end"]): row
        for row in stored
        if _instant(row["window_end"]) - _instant(row["window_start"]) == length
    }
    points = []
    for end in ends:
        row = found.get(end, {})
        start = (end - length).isoformat()
        points.append({"window_start": start, "window_end": end.isoformat(), "count": row.get("count"),
                       "score": row.get("score")})  # fmt: skip
    return points


async def term_history(
    client: AsyncElasticsearch, alias: str, term: str, kind: str | None, end: str, length: int, size: int = 12
) -> list[dict[str, Any]]:
    """A term's counts in the ``size`` windows of ``length`` seconds ending at ``end`` and before: a sparkline.

    Windows of one size slide (1 h windows every 15 min), so the points are the non-overlapping ones, a
    window apart; windows of another size ending at the same instants are left out.
    """
    span = timedelta(seconds=length)
    ends = history_ends(_instant(end), span, size)
    clauses: list[dict[str, Any]] = [
        {"term": {"term": term}},
        {"bool": {"should": [{"range": {"window_end": {"gte": e.isoformat(), "lte": e.isoformat()}}} for e in ends],
                  "minimum_should_match": 1}},
    ]  # fmt: skip
    if kind:
        clauses.append({"term": {"type": kind}})
    response = await client.search(
        index=alias,
        query={"bool": {"filter": clauses}},
        source_includes=["window_start", "window_end", "count", "score"],
        size=size * 4,  # other sizes of window may end at the same instants
    )
    return history_points(ends, span, [hit["_source"] for hit in response["hits"]["hits"]])


async def timeline(
    client: AsyncElasticsearch,
    alias: str,
    entity: str,
    interval: str = "day",
    filters: Filters = Filters(),
) -> list[dict[str, Any]]:
    """Articles mentioning ``entity`` per hour or day of publication, empty periods included."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {sorted(INTERVALS)}, not {interval!r}")
    scoped = await resolve(client, alias, replace(filters, entity=entity, entity_names=()))
    histogram: dict[str, Any] = {"field": "published_at", "calendar_interval": interval, "min_doc_count": 0}
    if filters.since and filters.until:
        histogram["extended_bounds"] = {"min": filters.since, "max": filters.until}
    response = await client.search(
        index=alias,
        size=0,
        query={"bool": {"filter": scoped.clauses()}},
        aggs={"periods": {"date_histogram": histogram}},
    )
    buckets = response["aggregations"]["periods"]["buckets"]
    return [{"period": b["key_as_string"], "articles": b["doc_count"]} for b in buckets]


async def cooccurring(
    client: AsyncElasticsearch, alias: str, entity: str, filters: Filters = Filters(), size: int = 10
) -> list[dict[str, Any]]:
    """People, organizations and places named in the same articles as ``entity``, by number of articles."""
    scoped = await resolve(client, alias, replace(filters, entity=entity, entity_names=()))
    itself = list(scoped.entity_names)
    response = await client.search(
        index=alias,
        size=0,
        query={"bool": {"filter": scoped.clauses()}},
        aggs={field: {"terms": {"field": field, "size": size + len(itself), "exclude": itself}} for field in ROLES},
    )
    rows = [
        {"name": bucket["key"], "type": kind, "articles": bucket["doc_count"]}
        for field, kind in ROLES.items()
        for bucket in response["aggregations"][field]["buckets"]
        if bucket["key"] not in itself  # the stand-in ignores `exclude`
    ]
    return sorted(rows, key=lambda row: (-row["articles"], row["name"], row["type"]))[:size]


async def cluster(client: AsyncElasticsearch, alias: str, cluster_id: str, size: int = 100) -> list[dict[str, Any]]:
    """The articles of one story cluster, first published first."""
    response = await client.search(
        index=alias,
        query={"bool": {"filter": [{"term": {"cluster_id": cluster_id}}]}},
        sort=[
            {"published_at": {"order": "asc", "missing": "_last", "unmapped_type": "date"}},
            {"article_id": {"order": "asc", "unmapped_type": "keyword"}},
        ],
        source_includes=[*SEARCH_FIELDS, "duplicate_of"],
        size=size,
    )
    return [hit["_source"] for hit in response["hits"]["hits"]]


async def count(client: AsyncElasticsearch, alias: str, filters: Filters = Filters()) -> int:
    await client.indices.refresh(index=alias)
    response = await client.count(index=alias, query={"bool": {"filter": filters.clauses()}})
    return int(response["count"])


async def wait_for_count(client: AsyncElasticsearch, alias: str, expected: int, filters: Filters, within: float) -> int:
    """Poll until at least ``expected`` articles are searchable, or the deadline passes."""
    deadline = time.monotonic() + within
    found = await count(client, alias, filters)
    while found < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        found = await count(client, alias, filters)
    return found
