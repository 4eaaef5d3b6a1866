"""Index templates for articles and trends: explicit, closed mappings (no dynamic surprises)."""

from __future__ import annotations

from typing import Any

TEMPLATE_VERSION = 2
"""Bump with every mapping change; a change needs new indices and a reindex (see README)."""

KEYWORD = {"type": "keyword"}
DATE = {"type": "date"}
ENGLISH_TEXT = {"type": "text", "analyzer": "english"}

ARTICLE_PROPERTIES: dict[str, Any] = {
    "trace_id": KEYWORD,
    "article_id": KEYWORD,
    "doc_id": KEYWORD,
    "source": KEYWORD,
    "url": KEYWORD,
    "title": {**ENGLISH_TEXT, "fields": {"keyword": {"type": "keyword", "ignore_above": 512}}},
    "body": ENGLISH_TEXT,
    "section": KEYWORD,
    "authors": KEYWORD,
    "published_at": DATE,
    "extractor": KEYWORD,
    "position": {
        "properties": {"index": {"type": "integer"}, "start": {"type": "integer"}, "end": {"type": "integer"}}
    },
    "parsed_at": DATE,
    "language": KEYWORD,
    "entities": {
        "type": "nested",
        "properties": {
            "name": KEYWORD,
            "type": KEYWORD,
            "count": {"type": "integer"},
            "first_offset": {"type": "integer"},
        },
    },
    "persons": KEYWORD,
    "organizations": KEYWORD,
    "locations": KEYWORD,
    "enriched_at": DATE,
    "canonical_url": KEYWORD,
    "site_name": KEYWORD,
    "summary": ENGLISH_TEXT,
    "language_hint": KEYWORD,
    "published_at_source": KEYWORD,
    "extraction_confidence": {"type": "float"},
    "keywords": KEYWORD,
    "countries": KEYWORD,
    "word_count": {"type": "integer"},
    "reading_time_minutes": {"type": "float"},
    "ner_truncated": {"type": "boolean"},
    "cluster_id": KEYWORD,
    "duplicate_of": KEYWORD,
    "indexed_at": DATE,
}

TREND_PROPERTIES: dict[str, Any] = {
    "trace_id": KEYWORD,
    "trend_id": KEYWORD,
    "term": KEYWORD,
    "type": KEYWORD,
    "window_start": DATE,
    "window_end": DATE,
    "count": {"type": "integer"},
    "baseline": {"type": "float"},
    "score": {"type": "float"},
    "indexed_at": DATE,
}


def index_template(alias: str, properties: dict[str, Any]) -> dict[str, Any]:
    """A template for the indices behind ``alias`` (named ``<alias>-NNNNNN``)."""
    return {
        "index_patterns": [f"{alias}-*"],
        "version": TEMPLATE_VERSION,
        "template": {
            "settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"dynamic": "strict", "properties": properties},
        },
        "_meta": {"managed_by": "newsflow"},
    }
