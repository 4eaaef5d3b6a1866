"""Message models: one pydantic model per topic, the public contract of newsflow.

Within a topic version only optional fields may be added; a breaking change is
a new ``vN`` topic with its own model.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class Message(BaseModel):
    """Base of every topic message: strict about unknown fields, versioned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_name: ClassVar[str]
    schema_version: ClassVar[int] = 1

    trace_id: str = Field(description="Id of the raw document this message descends from; logged by every stage.")

    def key(self) -> str:
        """The Kafka key: the entity's id."""
        raise NotImplementedError


class SourceHints(BaseModel):
    """What the source said about the document (a feed item, a sitemap entry, a pushed JSON article)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str | None = None
    published_at: AwareDatetime | None = None
    authors: list[str] = Field(default_factory=list)
    summary: str | None = None
    section: str | None = None
    language: str | None = Field(default=None, description="ISO 639-1 code the source declared.")
    site_name: str | None = None


class RawDocument(Message):
    """A document as a source delivered it, before any parsing (news.raw.v1)."""

    schema_name: ClassVar[str] = "RawDocument"

    doc_id: str = Field(description="Deterministic id: hash of the source, locator and content.")
    source: str = Field(description="Name of the source that delivered it, e.g. 'files' or a feed name.")
    uri: str = Field(description="Where it came from: a file path or a URL.")
    url: str | None = Field(default=None, description="The page's URL on the web, when known.")
    content_type: str = Field(description="MIME type of the body: text/plain, text/html, ...")
    charset: str = Field(description="Charset the original bytes were decoded from.")
    body: str = Field(description="The document's text, decoded to Unicode.")
    fetched_at: AwareDatetime
    metadata: dict[str, str] = Field(default_factory=dict, description="Source-specific extras.")
    hints: SourceHints | None = Field(default=None, description="Title, date, authors... as the source gave them.")
    fetch_error: str | None = Field(
        default=None, description="Set when the page could not be fetched and body holds the feed's summary instead."
    )

    def key(self) -> str:
        return self.doc_id


class Position(BaseModel):
    """Where an article sits inside the raw document it was cut from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int = Field(ge=0, description="0-based order of the story in its page.")
    start: int = Field(ge=0, description="Character offset of the story's first character in the raw body.")
    end: int = Field(ge=0, description="Character offset just past the story's last character.")


PublishedAtSource = Literal["meta", "json-ld", "text", "url", "feed", "fetch-time"]


class Article(Message):
    """One story extracted from a raw document (news.articles.v1)."""

    schema_name: ClassVar[str] = "Article"

    article_id: str = Field(description="Deterministic: canonical URL, else source + title + date, else content hash.")
    doc_id: str = Field(description="The RawDocument this article was extracted from.")
    source: str
    url: str | None = None
    title: str
    body: str
    section: str | None = None
    authors: list[str] = Field(default_factory=list)
    published_at: AwareDatetime | None = None
    extractor: str = Field(description="What extracted it: 'trafilatura', 'listing-splitter', 'plain-text'.")
    position: Position | None = Field(default=None, description="Set when the page held several stories.")
    parsed_at: AwareDatetime
    canonical_url: str | None = Field(default=None, description="Normalised canonical URL, the article_id's basis.")
    site_name: str | None = None
    summary: str | None = None
    language_hint: str | None = Field(default=None, description="Language the page or source declared.")
    published_at_source: PublishedAtSource | None = Field(
        default=None, description="Where published_at came from, in that order of trust."
    )
    extraction_confidence: float | None = Field(default=None, ge=0, le=1)

    def key(self) -> str:
        return self.article_id


class LinkToFetch(Message):
    """An article URL found on a listing page or a sitemap, for ingest to fetch (news.links.v1)."""

    schema_name: ClassVar[str] = "LinkToFetch"

    url: str
    source: str
    found_on: str | None = Field(default=None, description="URL of the page or sitemap that listed it.")
    hints: SourceHints | None = None
    found_at: AwareDatetime

    def key(self) -> str:
        return self.url


EntityType = Literal["PERSON", "ORG", "LOC", "NORP", "EVENT", "DATE", "MONEY"]


class Entity(BaseModel):
    """A named entity of an article, with its mentions folded together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: EntityType
    count: int = Field(ge=1, description="Mentions in the article.")
    first_offset: int = Field(ge=0, description="Character offset of the first mention in title + body.")


class EnrichedArticle(Article):
    """An article with language and entities (news.enriched.v1)."""

    schema_name: ClassVar[str] = "EnrichedArticle"

    language: str | None = Field(description="ISO 639-1 code, None when undetected.")
    entities: list[Entity] = Field(default_factory=list)
    persons: list[str] = Field(default_factory=list)
    organizations: list[str] = Field(default_factory=list)
    locations: list[str] = Field(default_factory=list)
    enriched_at: AwareDatetime
    keywords: list[str] = Field(default_factory=list, description="Top keyphrases, entities left out.")
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes of countries mentioned.")
    word_count: int | None = Field(default=None, ge=0)
    reading_time_minutes: float | None = Field(default=None, ge=0)
    ner_truncated: bool = Field(default=False, description="NER ran on a bounded prefix of a very long body.")
    cluster_id: str | None = Field(default=None, description="The story this article belongs to (near-duplicates).")
    duplicate_of: str | None = Field(default=None, description="The earlier article this one nearly duplicates.")


class Spelling(BaseModel):
    """The ways one entity was written in an article (for the alias table)."""

    type: str = Field(description="The entity type, as in Entity.type.")
    name: str
    spellings: list[str]


class AnalysedArticle(Article):
    """An article with what enrich learned from it alone, on its way to enrich's state (news.analysed.v1).

    Internal to enrich: the per-article analysis scales out over replicas; canonical names, clusters and
    trends are keyed state, applied by one consumer of this one-partition topic (decision 006).
    """

    schema_name: ClassVar[str] = "AnalysedArticle"

    language: str | None = Field(description="ISO 639-1 code, None when undetected.")
    entities: list[Entity] = Field(default_factory=list)
    spellings: list[Spelling] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    word_count: int | None = Field(default=None, ge=0)
    reading_time_minutes: float | None = Field(default=None, ge=0)
    ner_truncated: bool = False
    signature: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+/]{683}=$",  # 512 bytes in base64: any other would corrupt the near-duplicate index
        description="MinHash of the body's shingles: 128 little-endian 32-bit values in base64; None: no words.",
    )
    analysed_at: AwareDatetime


class TrendCount(Message):
    """How often a term appeared in a time window (news.trends.v1)."""

    schema_name: ClassVar[str] = "TrendCount"

    trend_id: str = Field(description="Deterministic: term, type and window, so a re-emission overwrites.")
    term: str
    type: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    count: int = Field(ge=0)
    baseline: float = Field(ge=0, description="Mean count of the same term in earlier windows.")
    score: float = Field(description="How unusual count is against the baseline.")

    def key(self) -> str:
        return self.trend_id


class DeadLetter(Message):
    """A message a stage could not process, with the reason (news.*.dlq)."""

    model_config = ConfigDict(extra="forbid", frozen=True, ser_json_bytes="base64", val_json_bytes="base64")
    schema_name: ClassVar[str] = "DeadLetter"

    original: bytes = Field(description="The original bytes, base64 in JSON; only the first MiBs of a huge message.")
    original_size: int | None = Field(
        default=None, ge=0, description="Size of the original in bytes, when ``original`` holds only its beginning."
    )
    original_key: str | None = None
    topic: str | None = Field(description="Topic it was read from; None when a source delivered it.")
    partition: int | None = None
    offset: int | None = None
    source: str | None = Field(default=None, description="Source locator when it never reached a topic.")
    stage: str = Field(description="The service that gave up on it.")
    error_kind: str = Field(description="Short machine-readable reason, e.g. 'schema', 'empty', 'binary'.")
    error_message: str
    failed_at: AwareDatetime

    def key(self) -> str:
        return self.original_key or self.trace_id
