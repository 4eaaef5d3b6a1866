"""Kibana saved objects (deploy/kibana/*.ndjson): they parse, their references resolve, their fields are mapped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from newsflow_common.settings import Settings
from newsflow_index.mappings import ARTICLE_PROPERTIES, TREND_PROPERTIES

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "deploy" / "kibana").glob("*.ndjson"))
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for path in FILES for line in path.read_text(encoding="utf-8").splitlines() if line]


def by_key() -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in objects()}


def mapped_fields(properties: dict[str, Any], prefix: str = "") -> set[str]:
    """Every field name Kibana can use: nested paths and multi-fields (title.keyword) included."""
    names = set()
    for name, spec in properties.items():
        path = prefix + name
        names.add(path)
        names |= mapped_fields(spec.get("properties", {}), path + ".")
        names |= {f"{path}.{sub}" for sub in spec.get("fields", {})}
    return names


FIELDS = {
    Settings().articles_alias: mapped_fields(ARTICLE_PROPERTIES),
    Settings().trends_alias: mapped_fields(TREND_PROPERTIES),
}


LENS_LAYER_REF = "indexpattern-datasource-layer-"
RECORDS = "___records___"  # Lens's pseudo-field of a count


def lens_layers(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return obj["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]


def data_view_of(obj: dict[str, Any]) -> dict[str, Any]:
    """The one data view an object reads (a Lens object: the one all its layers read)."""
    names = {INDEX_REF} if obj["type"] == "search" else {LENS_LAYER_REF + layer for layer in lens_layers(obj)}
    ids = {r["id"] for r in obj["references"] if r["name"] in names and r["type"] == "index-pattern"}
    assert len(ids) == 1, f"{obj['id']}: reads {sorted(ids)}; expected one data view"
    return by_key()[("index-pattern", ids.pop())]


def fields_used(obj: dict[str, Any]) -> set[str]:
    attributes = obj["attributes"]
    if obj["type"] == "lens":
        columns = [column for layer in lens_layers(obj).values() for column in layer["columns"].values()]
        return {column["sourceField"] for column in columns if column.get("sourceField", RECORDS) != RECORDS}
    if obj["type"] == "search":
        return set(attributes["columns"]) | {field for field, _ in attributes["sort"]}
    return set()


def accessors(visualization: dict[str, Any]) -> set[str]:
    """Column ids a Lens visualization shows: xy layers, a datatable's columns, a metric."""
    found: set[str] = set()
    for layer in visualization.get("layers", [visualization]):
        found |= set(layer.get("accessors", []))
        found |= {layer[key] for key in ("xAccessor", "splitAccessor", "metricAccessor") if key in layer}
    found |= {column["columnId"] for column in visualization.get("columns", [])}
    return found


def test_there_are_saved_objects_and_every_line_is_a_json_object():
    assert FILES, "no ndjson under deploy/kibana"
    for obj in objects():
        assert {"type", "id", "attributes", "references"} <= set(obj), obj.get("id")
    assert len(by_key()) == len(objects()), "two objects share a type and id: one import would overwrite the other"


def test_data_views_for_both_indices_with_mapped_time_fields():
    views = {o["attributes"]["title"]: o for o in objects() if o["type"] == "index-pattern"}
    assert set(views) == set(FIELDS)
    for title, view in views.items():
        assert view["attributes"]["timeFieldName"] in FIELDS[title]


def test_every_reference_resolves():
    known = by_key()
    for obj in objects():
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, f"{obj['id']} refers to a missing {ref['type']} {ref['id']}"


def test_charts_are_lens_visualizations_not_legacy_aggregation_based_ones():
    kinds = {o["type"] for o in objects()}
    assert "visualization" not in kinds, "legacy aggregation-based visualizations: rebuild them in Lens"
    assert "lens" in kinds


@pytest.mark.parametrize("obj", [o for o in objects() if o["type"] == "lens"], ids=lambda o: o["id"])
def test_lens_layers_have_their_data_view_and_show_only_columns_they_define(obj):
    references = {r["name"] for r in obj["references"]}
    shown = set()
    for layer_id, layer in lens_layers(obj).items():
        assert LENS_LAYER_REF + layer_id in references, f"{obj['id']}: layer {layer_id} has no data view"
        assert set(layer["columnOrder"]) == set(layer["columns"]), f"{obj['id']}: columnOrder and columns differ"
        for column in layer["columns"].values():
            assert column["operationType"] == "count" or column.get("sourceField"), f"{obj['id']}: {column}"
            ordered_by = column.get("params", {}).get("orderBy", {}).get("columnId")
            assert ordered_by in (None, *layer["columns"]), f"{obj['id']}: orders by unknown column {ordered_by}"
        shown |= set(layer["columns"])
    assert accessors(obj["attributes"]["state"]["visualization"]) == shown, f"{obj['id']}: shows other columns"


def test_dashboard_panels_point_at_references():
    [dashboard] = [o for o in objects() if o["type"] == "dashboard"]
    names = {ref["name"] for ref in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert {panel["panelRefName"] for panel in panels} == names
    kinds = {ref["name"]: ref["type"] for ref in dashboard["references"]}
    assert all(panel["type"] == kinds[panel["panelRefName"]] for panel in panels), "a panel's type is its object's"
    shown = {ref["id"] for ref in dashboard["references"]}
    wanted = {
        "newsflow-volume-by-section",
        "newsflow-volume-by-site",
        "newsflow-top-persons",
        "newsflow-top-organizations",
        "newsflow-top-places",
        "newsflow-trending",
        "newsflow-latest-articles",
    }
    assert wanted <= shown


@pytest.mark.parametrize("obj", [o for o in objects() if o["type"] in ("lens", "search")], ids=lambda o: o["id"])
def test_every_field_used_exists_in_the_mapping_of_its_data_view(obj):
    view = data_view_of(obj)
    used = fields_used(obj)
    assert used, f"{obj['id']} uses no field: the check would be blind"
    missing = used - FIELDS[view["attributes"]["title"]]
    assert not missing, f"{obj['id']} uses fields the mapping of {view['attributes']['title']} lacks: {missing}"


def test_fields_used_sees_a_field_the_mapping_lacks():
    broken = {"type": "search", "attributes": {"columns": ["title", "no_such_field"], "sort": []}}
    assert fields_used(broken) - FIELDS["news-articles"] == {"no_such_field"}


def test_fields_used_sees_a_lens_column_on_a_field_the_mapping_lacks():
    [chart] = [o for o in objects() if o["id"] == "newsflow-top-persons"]
    broken = json.loads(json.dumps(chart))
    next(iter(lens_layers(broken).values()))["columns"]["col-name"]["sourceField"] = "no_such_field"
    assert fields_used(broken) - FIELDS["news-articles"] == {"no_such_field"}
