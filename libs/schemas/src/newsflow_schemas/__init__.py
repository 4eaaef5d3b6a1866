"""newsflow's shared message schemas and topic registry."""

from newsflow_schemas.codec import decode, encode, header, headers
from newsflow_schemas.models import (
    Article,
    DeadLetter,
    EnrichedArticle,
    Entity,
    LinkToFetch,
    Message,
    Position,
    RawDocument,
    SourceHints,
    TrendCount,
)
from newsflow_schemas.topics import ARTICLES, ENRICHED, LINKS, RAW, TRENDS, Topic, dlq_of, registry, topic

__all__ = [
    "ARTICLES",
    "ENRICHED",
    "LINKS",
    "RAW",
    "TRENDS",
    "Article",
    "DeadLetter",
    "EnrichedArticle",
    "Entity",
    "LinkToFetch",
    "Message",
    "Position",
    "RawDocument",
    "SourceHints",
    "Topic",
    "TrendCount",
    "decode",
    "dlq_of",
    "encode",
    "header",
    "headers",
    "registry",
    "topic",
]
