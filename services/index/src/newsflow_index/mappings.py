"""Composable index templates for articles and trends: explicit, closed mappings (no dynamic surprises).

Each index template is built from component templates: one for the shared settings, one per mapping.
Articles live in monthly indices ``news-articles-YYYY.MM`` (by published time, decision 004) that join
the read alias ``news-articles`` through their template; trends in ``news-trends-000001`` behind the
write alias ``news-trends``.
"""

from __future__ import annotations

from typing import Any

TEMPLATE_VERSION = 3
"""Bump with every mapping or settings change; existing indices keep their mapping: reindex (docs/index.md)."""

SETTINGS_COMPONENT = "newsflow-settings"

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


SETTINGS: dict[str, Any] = {"number_of_shards": 1, "number_of_replicas": 0}


def mappings_component(alias: str) -> str:
    return f"{alias}-mappings"


def component_templates(alias: str, properties: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The component templates an index template of ``alias`` is composed of, by name."""
    meta = {"managed_by": "newsflow"}
    return {
        SETTINGS_COMPONENT: {"template": {"settings": SETTINGS}, "version": TEMPLATE_VERSION, "_meta": meta},
        mappings_component(alias): {
            "template": {"mappings": {"dynamic": "strict", "properties": properties}},
            "version": TEMPLATE_VERSION,
            "_meta": meta,
        },
    }


def index_template(alias: str, *, read_alias: bool) -> dict[str, Any]:
    """The template for the indices behind ``alias`` (named ``<alias>-*``).

    ``read_alias``: every new index joins ``alias`` (monthly article indices); otherwise the setup
    command attaches the alias to the one index it creates, as the write index.
    """
    template: dict[str, Any] = {"aliases": {alias: {}}} if read_alias else {}
    return {
        "index_patterns": [f"{alias}-*"],
        "composed_of": [SETTINGS_COMPONENT, mappings_component(alias)],
        "template": template,
        "priority": 200,
        "version": TEMPLATE_VERSION,
        "_meta": {"managed_by": "newsflow"},
    }
