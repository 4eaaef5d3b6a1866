"""The analyst API's contract: the pydantic models that validate each request and each answer.

The OpenAPI document (api.openapi) is generated from these models, so what is documented is what is
enforced: a parameter outside its type, enum or range is a 400 with the reason before Elasticsearch is asked.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model


class EntityType(StrEnum):
    """The entity types the index counts, as they are indexed: upper case (person is refused, not guessed)."""

    PERSON = "PERSON"
    ORG = "ORG"
    LOC = "LOC"
    NORP = "NORP"
    EVENT = "EVENT"


class TrendType(StrEnum):
    """What enrich counts in its trend windows: the named entity types and keywords, upper case."""

    PERSON = "PERSON"
    ORG = "ORG"
    LOC = "LOC"
    NORP = "NORP"
    EVENT = "EVENT"
    KEYWORD = "KEYWORD"


class Window(StrEnum):
    """How far back a trend window may have ended."""

    HOUR = "1h"
    SIX_HOURS = "6h"
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"


_YEAR = r"([1-9]\d{3}|0[1-9]\d{2}|00[1-9]\d|000[1-9])"
_LEAP_YEAR = r"(\d{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_DAY = (
    rf"({_YEAR}-(0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|{_YEAR}-(0[469]|11)-(0[1-9]|[12]\d|30)"
    rf"|{_YEAR}-02-(0[1-9]|1\d|2[0-8])|{_LEAP_YEAR}-02-29)"
)
_TIME = r"(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,3})?)?(Z|[+-](0\d|1[0-7]):[0-5]\d)?)?"
_MATH = r"now([+-]\d{1,3}[yMwdhHms]){0,3}(/[yMwdhHms])?"
DATE_PATTERN = f"^({_MATH}|{_DAY}{_TIME})$"
"""ISO 8601 as Elasticsearch reads it (real calendar days, offsets within ±18h) or date math from now.

The pattern alone decides, here and in the OpenAPI document, so a date the document allows is never refused.
"""
_DATE = re.compile(DATE_PATTERN)


def _date(value: Any) -> Any:
    if isinstance(value, str) and not _DATE.fullmatch(value):
        raise ValueError("must be an ISO 8601 date or time (2024-05-07, 2024-05-07T10:00:00Z) or date math (now-7d)")
    return value


DateExpr = Annotated[
    str,
    BeforeValidator(_date),
    Field(
        description="ISO 8601 date or time, or date math from now (now-7d)",
        examples=["2024-05-07", "now-7d"],
        json_schema_extra={"pattern": DATE_PATTERN},
    ),
]


class Params(BaseModel):
    """Query (and path) parameters: unknown ones are ignored, known ones must be what they say."""

    model_config = ConfigDict(extra="ignore", frozen=True, use_enum_values=True)


class Filters(Params):
    source: str | None = Field(None, description="only articles from this source")
    section: str | None = Field(None, description="only articles of this section")
    site: str | None = Field(None, description="site name, e.g. 'BBC News'")
    language: str | None = Field(None, description="ISO 639-1 code")
    since: DateExpr | None = Field(None, description="published at or after: ISO 8601 or date math (now-7d)")
    until: DateExpr | None = Field(None, description="published before: ISO 8601 or date math")


class SearchParams(Filters):
    q: str | None = Field(None, description="words to find in title, summary and body; none: newest first")
    entity: str | None = Field(None, description="only articles that name this entity")
    entity_type: EntityType | None = Field(None, description="with entity: only as this type")
    after: str | None = Field(None, description="the cursor `next` of the previous page")


class TopParams(Filters):
    type: EntityType = Field(EntityType.PERSON, description="entity type")


class TrendingParams(Params):
    window: Window = Field(Window.DAY, description="trend windows that ended within this span")
    type: TrendType | None = Field(None, description="only this kind of term")


class EntityPath(Filters):
    name: str = Field(min_length=1, description="the entity's name as indexed, e.g. 'Angela Merkel'")


class TimelineParams(EntityPath):
    interval: Interval = Field(Interval.DAY, description="one period per hour or per day")


_EXACT_TIME = re.compile(f"^{_DAY}{_TIME}$")


def _exact_time(value: Any) -> Any:
    if isinstance(value, str) and not _EXACT_TIME.fullmatch(value):
        raise ValueError("must be an ISO 8601 date or time (2024-05-07T10:00:00Z), as a trend row's window_end")
    return value


ExactTime = Annotated[
    str,
    BeforeValidator(_exact_time),
    Field(examples=["2024-05-07T10:00:00Z"], json_schema_extra={"pattern": f"^{_DAY}{_TIME}$"}),
]


class HistoryParams(Params):
    term: str = Field(min_length=1, description="the term as a trend row shows it")
    type: TrendType | None = Field(None, description="only counts of the term as this kind")
    end: ExactTime = Field(description="the end of the latest window: a trend row's window_end (no offset: UTC)")
    length: int = Field(
        3600, ge=60, le=90 * 86400, description="window length in seconds: a trend row's window_end - window_start"
    )


class ClusterParams(Params):
    cluster_id: str = Field(min_length=1, description="a story cluster, as search or another cluster shows it")


def sized(params: type[Params], default: int, maximum: int) -> type[Params]:
    """``params`` with a ``size``: the maximum is the deployment's (NEWSFLOW_API_MAX_SIZE), so it is documented."""
    size = (int, Field(default, ge=1, le=maximum, description=f"rows at most, from 1 to {maximum}"))
    model: type[Params] = create_model(params.__name__, __base__=params, size=size)
    return model


# --- answers ---------------------------------------------------------------------------------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ArticleRow(Answer):
    article_id: str
    title: str | None = None
    section: str | None = None
    site_name: str | None = None
    source: str | None = None
    language: str | None = None
    published_at: str | None = None
    url: str | None = None
    cluster_id: str | None = Field(None, description="the story cluster: open it at /clusters/{cluster_id}")


class SearchHit(ArticleRow):
    score: float | None = Field(None, description="relevance; null when sorted by date alone")
    highlight: str = Field("", description="the best fragment of body or title, matches in <em>")


class SearchAnswer(Answer):
    total: int
    hits: list[SearchHit]
    next: str | None = Field(description="pass as `after` for the next page; null on the last")


class EntityRow(Answer):
    name: str
    mentions: int
    articles: int


class TopAnswer(Answer):
    type: EntityType
    entities: list[EntityRow]


class TrendRow(Answer):
    term: str
    type: str
    count: int
    baseline: float
    score: float
    window_start: str
    window_end: str


class TrendingAnswer(Answer):
    window: Window
    trends: list[TrendRow]


class HistoryPoint(Answer):
    window_start: str
    window_end: str
    count: int | None = Field(description="null: no count stored for this window (below the emission threshold)")
    score: float | None = None


class HistoryAnswer(Answer):
    term: str
    length: int
    windows: list[HistoryPoint] = Field(description="one per window, oldest first, each ending `length` apart")


class Period(Answer):
    period: str
    articles: int


class TimelineAnswer(Answer):
    entity: str
    interval: Interval
    periods: list[Period]


class RelatedRow(Answer):
    name: str
    type: str
    articles: int


class RelatedAnswer(Answer):
    entity: str
    related: list[RelatedRow]


class ClusterArticle(ArticleRow):
    duplicate_of: str | None = None


class ClusterAnswer(Answer):
    cluster_id: str
    articles: list[ClusterArticle]


class ErrorAnswer(Answer):
    error: str = Field(description="what was wrong, in words")
