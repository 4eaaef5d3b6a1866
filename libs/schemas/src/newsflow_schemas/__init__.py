"""newsflow's shared message schemas and topic registry."""

from newsflow_schemas.codec import decode, encode, header, headers
from newsflow_schemas.models import (
    Article,
    DeadLetter,
    EnrichedArticle,
    Entity,
    Message,
    Position,
    RawDocument,
    TrendCount,
)
from newsflow_schemas.topics import ARTICLES, ENRICHED, RAW, TRENDS, Topic, dlq_of, registry, topic

__all__ = [
    "ARTICLES",
    "ENRICHED",
    "RAW",
    "TRENDS",
    "Article",
    "DeadLetter",
    "EnrichedArticle",
    "Entity",
    "Message",
    "Position",
    "RawDocument",
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
