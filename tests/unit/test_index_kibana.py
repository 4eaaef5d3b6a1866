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


def data_view_of(obj: dict[str, Any]) -> dict[str, Any]:
    [ref] = [r for r in obj["references"] if r["name"] == INDEX_REF]
    return by_key()[("index-pattern", ref["id"])]


def fields_used(obj: dict[str, Any]) -> set[str]:
    attributes = obj["attributes"]
    if obj["type"] == "visualization":
        aggs = json.loads(attributes["visState"])["aggs"]
        return {agg["params"]["field"] for agg in aggs if "field" in agg.get("params", {})}
    if obj["type"] == "search":
        return set(attributes["columns"]) | {field for field, _ in attributes["sort"]}
    return set()


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


def test_dashboard_panels_point_at_references():
    [dashboard] = [o for o in objects() if o["type"] == "dashboard"]
    names = {ref["name"] for ref in dashboard["references"]}
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    assert {panel["panelRefName"] for panel in panels} == names
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


@pytest.mark.parametrize(
    "obj", [o for o in objects() if o["type"] in ("visualization", "search")], ids=lambda o: o["id"]
)
def test_every_field_used_exists_in_the_mapping_of_its_data_view(obj):
    view = data_view_of(obj)
    used = fields_used(obj)
    assert used, f"{obj['id']} uses no field: the check would be blind"
    missing = used - FIELDS[view["attributes"]["title"]]
    assert not missing, f"{obj['id']} uses fields the mapping of {view['attributes']['title']} lacks: {missing}"


def test_fields_used_sees_a_field_the_mapping_lacks():
    broken = {"type": "search", "attributes": {"columns": ["title", "no_such_field"], "sort": []}}
    assert fields_used(broken) - FIELDS["news-articles"] == {"no_such_field"}
