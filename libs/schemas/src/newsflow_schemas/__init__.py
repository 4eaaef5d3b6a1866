"""newsflow's shared message schemas and topic registry."""

from newsflow_schemas.codec import decode, encode, header, headers
from newsflow_schemas.models import (
    AnalysedArticle,
    Article,
    DeadLetter,
    EnrichedArticle,
    Entity,
    LinkToFetch,
    Message,
    Position,
    RawDocument,
    SourceHints,
    Spelling,
    TrendCount,
)
from newsflow_schemas.topics import ANALYSED, ARTICLES, ENRICHED, LINKS, RAW, TRENDS, Topic, dlq_of, registry, topic

__all__ = [
    "ANALYSED",
    "ARTICLES",
    "ENRICHED",
    "LINKS",
    "RAW",
    "TRENDS",
    "AnalysedArticle",
    "Article",
    "DeadLetter",
    "EnrichedArticle",
    "Entity",
    "LinkToFetch",
    "Message",
    "Position",
    "RawDocument",
    "SourceHints",
    "Spelling",
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
