"""Index: mappings that cover the models, the template, byte-bounded chunks, error classes, bulk lines."""

from __future__ import annotations

import json
import types
import typing
from datetime import UTC, datetime

import pytest
from elastic_transport import ApiResponseMeta, ConnectionTimeout, HttpHeaders, NodeConfig
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError
from pydantic import BaseModel

from newsflow_common.es import is_transient_es_error, refusal_reason
from newsflow_common.stage import Record
from newsflow_index.bulk import Action, RetryItems, _operations
from newsflow_index.mappings import (
    ARTICLE_PROPERTIES,
    SETTINGS_COMPONENT,
    TEMPLATE_VERSION,
    TREND_PROPERTIES,
    component_templates,
    index_template,
)
from newsflow_index.service import chunks
from newsflow_schemas import ENRICHED, EnrichedArticle, Entity, Position, TrendCount

# mappings: dynamic "strict" means a field missing from the mapping makes Elasticsearch refuse every document


def _nested_model(annotation: object) -> type[BaseModel] | None:
    """The pydantic model inside an annotation like ``Position | None`` or ``list[Entity]``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def missing_fields(model: type[BaseModel], properties: dict, prefix: str = "") -> list[str]:
    missing = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        if name not in properties:
            missing.append(path)
            continue
        nested = _nested_model(info.annotation)
        if nested is not None:
            assert "properties" in properties[name], f"{path} holds {nested.__name__}: it needs sub-properties"
            missing += missing_fields(nested, properties[name]["properties"], f"{path}.")
    return missing


def test_article_mapping_has_every_field_of_the_enriched_article():
    assert missing_fields(EnrichedArticle, ARTICLE_PROPERTIES) == []


def test_trend_mapping_has_every_field_of_the_trend_count():
    assert missing_fields(TrendCount, TREND_PROPERTIES) == []


def test_field_walk_reaches_nested_models():
    """The check above would be blind if it did not descend into entities and position."""
    assert _nested_model(EnrichedArticle.model_fields["entities"].annotation) is Entity
    assert _nested_model(EnrichedArticle.model_fields["position"].annotation) is Position
    assert missing_fields(EnrichedArticle, {**ARTICLE_PROPERTIES, "entities": {"properties": {}}}) == [
        "entities.name",
        "entities.type",
        "entities.count",
        "entities.first_offset",
    ]


@pytest.mark.parametrize("properties", [ARTICLE_PROPERTIES, TREND_PROPERTIES], ids=["articles", "trends"])
def test_mappings_have_indexed_at(properties):
    assert properties["indexed_at"] == {"type": "date"}


def test_mapping_types_fit_the_values():
    assert ARTICLE_PROPERTIES["entities"]["type"] == "nested"  # so name and type of one entity stay together
    for name in ("published_at", "parsed_at", "enriched_at"):
        assert ARTICLE_PROPERTIES[name]["type"] == "date"
    for name in ("window_start", "window_end"):
        assert TREND_PROPERTIES[name]["type"] == "date"
    assert ARTICLE_PROPERTIES["title"]["type"] == "text"
    assert ARTICLE_PROPERTIES["body"]["type"] == "text"
    assert ARTICLE_PROPERTIES["article_id"]["type"] == "keyword"


def test_index_template_is_composed_of_settings_and_a_strict_mapping():
    template = index_template("news-articles", read_alias=True)
    assert template["index_patterns"] == ["news-articles-*"]
    assert template["version"] == TEMPLATE_VERSION
    assert isinstance(TEMPLATE_VERSION, int)
    assert template["composed_of"] == [SETTINGS_COMPONENT, "news-articles-mappings"]
    components = component_templates("news-articles", ARTICLE_PROPERTIES)
    assert set(components) == set(template["composed_of"])
    mappings = components["news-articles-mappings"]["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert mappings["properties"] == ARTICLE_PROPERTIES
    assert all(component["version"] == TEMPLATE_VERSION for component in components.values())
    json.dumps([template, components])  # sent as JSON


def test_monthly_article_indices_join_the_read_alias_and_trends_do_not():
    assert index_template("news-articles", read_alias=True)["template"]["aliases"] == {"news-articles": {}}
    assert "aliases" not in index_template("news-trends", read_alias=False)["template"]
    assert index_template("news-trends", read_alias=False)["index_patterns"] == ["news-trends-*"]


# chunks


def action(n: int, size: int) -> Action:
    record = Record(topic=ENRICHED, partition=0, offset=n, key=f"a-{n}".encode(), value=b"x" * size)
    return Action(index="news-articles", doc_id=f"a-{n}", source={"n": n}, record=record)


def test_chunks_split_by_bytes_and_keep_order():
    actions = [action(n, 40) for n in range(10)]
    result = list(chunks(actions, 100))
    assert [a for chunk in result for a in chunk] == actions
    assert all(sum(len(a.record.value) for a in chunk) <= 100 for chunk in result)
    assert [len(chunk) for chunk in result] == [2, 2, 2, 2, 2]


def test_chunks_fill_up_to_the_limit_exactly():
    actions = [action(n, 50) for n in range(4)]
    assert [len(chunk) for chunk in chunks(actions, 100)] == [2, 2]


def test_chunks_give_an_oversized_document_a_chunk_of_its_own():
    actions = [action(0, 10), action(1, 500), action(2, 10), action(3, 10)]
    result = list(chunks(actions, 100))
    assert [[a.doc_id for a in chunk] for chunk in result] == [["a-0"], ["a-1"], ["a-2", "a-3"]]


def test_chunks_never_yield_an_empty_chunk():
    assert list(chunks([], 100)) == []
    for limit in (0, 1, 39, 40, 1000):
        result = list(chunks([action(n, 40) for n in range(5)], limit))
        assert all(result), limit
        assert sum(len(chunk) for chunk in result) == 5


def test_chunks_with_everything_fitting_is_one_chunk():
    actions = [action(n, 10) for n in range(5)]
    assert list(chunks(actions, 5 * 1024 * 1024)) == [actions]


# transient or not


def api_error(status: int, body: object = None) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.01,
        node=NodeConfig("http", "localhost", 9200),
    )
    return ApiError(f"status {status}", meta=meta, body=body or {"error": {"type": "x"}})


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_transient(status):
    assert is_transient_es_error(api_error(status))


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409])
def test_request_errors_are_not_transient(status):
    assert not is_transient_es_error(api_error(status))


def test_a_refusal_is_told_by_its_shards_reasons_not_only_its_type():
    """ "search_phase_execution_exception" alone says nothing; the shards' reasons say what to change."""
    body = {
        "error": {
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
            "root_cause": [{"type": "query_shard_exception", "reason": "No mapping found for [x] in order to sort on"}],
            "failed_shards": [
                {"index": "news-articles-2024.01", "reason": {"type": "query_shard_exception", "reason": "No mapping"}}
            ],
        },
        "status": 400,
    }
    told = refusal_reason(api_error(400, body))
    assert "search_phase_execution_exception" in told
    assert "No mapping found for [x] in order to sort on" in told
    assert "news-articles-2024.01" in told
    assert refusal_reason(api_error(400, "not json")) == "status 400"


def test_connection_failures_are_transient():
    assert is_transient_es_error(TransportConnectionError("connection refused"))
    assert is_transient_es_error(ConnectionTimeout("timed out"))


def test_other_exceptions_are_not_transient():
    # A bare OSError or TimeoutError comes from a stage's own code (a file, a page), not from the client.
    assert not is_transient_es_error(ConnectionRefusedError())
    assert not is_transient_es_error(TimeoutError())
    assert not is_transient_es_error(ValueError("bad document"))
    assert not is_transient_es_error(KeyError("items"))


def test_bulk_item_retries_are_transient():
    assert is_transient_es_error(RetryItems(3, 429))
    assert is_transient_es_error(api_error(503))
    assert not is_transient_es_error(api_error(400))


# bulk operations


def test_operations_pair_action_lines_with_sources_and_use_the_id():
    now = datetime(2024, 5, 7, tzinfo=UTC).isoformat()
    record = Record(topic=ENRICHED, partition=0, offset=0, key=None, value=b"{}")
    actions = [
        Action(index="news-articles", doc_id="a-1", source={"article_id": "a-1", "indexed_at": now}, record=record),
        Action(index="news-trends", doc_id="t-9", source={"trend_id": "t-9", "indexed_at": now}, record=record),
    ]
    operations = _operations(actions)
    assert operations == [
        {"index": {"_index": "news-articles", "_id": "a-1"}},
        {"article_id": "a-1", "indexed_at": now},
        {"index": {"_index": "news-trends", "_id": "t-9"}},
        {"trend_id": "t-9", "indexed_at": now},
    ]


def test_operations_of_nothing_is_empty():
    assert _operations([]) == []
