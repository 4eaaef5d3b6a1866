"""The analyst's tools as pure logic: filters, paging cursors, the table, the CLI's arguments, the OpenAPI document."""

from __future__ import annotations

import base64
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import ValidationError

from newsflow_analyst import api, queries
from newsflow_analyst import cli as query
from newsflow_analyst.contract import SearchParams, TopParams
from newsflow_analyst.queries import Cursor, Filters, decode_cursor, encode_cursor, entity_clause
from newsflow_analyst.settings import ApiSettings
from newsflow_common import es
from newsflow_common.health import Health


def test_no_filters_is_no_clause():
    assert Filters().clauses() == []


def test_filters_become_term_nested_and_range_clauses():
    clauses = Filters(section="Business", site="Beta Times", language="en", entity="Ada Lovelace",
                      entity_type="PERSON", since="2024-03-01", until="now").clauses()  # fmt: skip
    assert {"term": {"section": "Business"}} in clauses
    assert {"term": {"site_name": "Beta Times"}} in clauses
    assert {"term": {"language": "en"}} in clauses
    assert entity_clause("Ada Lovelace", "PERSON") in clauses
    assert {"range": {"published_at": {"gte": "2024-03-01", "lt": "now"}}} in clauses


def test_an_open_date_range_has_one_bound():
    assert Filters(since="now-7d").clauses() == [{"range": {"published_at": {"gte": "now-7d"}}}]


def test_entity_clause_searches_inside_the_nested_entities():
    clause = entity_clause("Oslo")
    assert clause["nested"]["path"] == "entities"
    assert clause["nested"]["query"]["bool"]["filter"] == [{"term": {"entities.name": "Oslo"}}]


@pytest.mark.parametrize("values", [[1.5, 1714712400000, "a-1"], [None, -9223372036854775808, "x"]])
def test_cursor_round_trips_the_point_in_time_and_the_sort_values(values):
    assert decode_cursor(encode_cursor("pit-id==", values)) == Cursor("pit-id==", values)


def test_a_cursor_of_the_earlier_version_still_pages_on():
    """Before points in time a cursor held the sort values alone: a page open in a browser still works."""
    old = base64.urlsafe_b64encode(json.dumps([1.5, 1714712400000, "a-1"]).encode()).decode()
    assert decode_cursor(old) == Cursor(None, [1.5, 1714712400000, "a-1"])


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30=", "!!", "eyJwaXQiOiAxLCAiYWZ0ZXIiOiBbXX0="])
def test_a_foreign_cursor_is_refused_with_a_clear_error(cursor):
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor(cursor)


def test_table_aligns_columns_and_rounds_scores():
    rows = [{"name": "Ada Lovelace", "score": 1.23456}, {"name": "Oslo", "score": None}]
    assert query.table(rows, ["name", "score"]).splitlines() == [
        "NAME          SCORE",
        "Ada Lovelace  1.23",
        "Oslo",
    ]


def test_cli_keeps_the_commands_make_run_and_tests_use():
    parse = query.parser().parse_args
    assert parse(["search", "Taliban", "--source", "s", "--json"]).text == "Taliban"
    assert parse(["top", "--type", "ORG", "--size", "8"]).type == "ORG"
    assert parse(["wait", "--count", "4", "--source", "sample", "--timeout", "180"]).count == 4
    assert parse(["search", "--section", "World"]).text is None
    assert parse(["cluster", "c-1"]).size == 100
    assert parse(["timeline", "Oslo", "--interval", "hour"]).entity_name == "Oslo"
    with pytest.raises(SystemExit):
        parse(["timeline", "Oslo", "--interval", "week"])


def test_openapi_documents_every_route_from_the_models():
    document = api.openapi(max_size=50)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == set(api.ROUTES)
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        get = item["get"]
        params = {p["name"]: p for p in get["parameters"]}
        assert all(params[n]["in"] == "path" and params[n]["required"] for n in ("name", "cluster_id") if n in params)
        assert all(f"{{{name}}}" not in path or name in params for name in ("name", "cluster_id")), path
        if "size" in params:
            assert params["size"]["schema"]["maximum"] == 50, path  # the deployment's maximum, documented
        answer = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert answer in schemas
        assert "ErrorAnswer" in get["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]


def schema_of(path: str, name: str) -> dict:
    document = api.openapi()
    (param,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    schema = param["schema"]
    while "anyOf" in schema:  # optional: the non-null branch
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_the_typed_parameters_are_enums_in_the_document():
    assert set(schema_of("/trending", "window")["enum"]) == {"1h", "6h", "24h", "7d", "30d"}
    assert set(schema_of("/entities/top", "type")["enum"]) == {"PERSON", "ORG", "LOC", "NORP", "EVENT"}
    assert set(schema_of("/entities/{name}/timeline", "interval")["enum"]) == set(queries.INTERVALS)


@pytest.mark.parametrize("kind", ["FOO", "person"])
def test_an_entity_type_is_one_of_the_indexed_ones_as_indexed(kind):
    """Documented: the types as they are indexed, upper case; person is refused with the list, not guessed."""
    with pytest.raises(ValidationError, match="PERSON"):
        TopParams.model_validate({"type": kind})


@pytest.mark.parametrize(
    "junk",
    [
        "yesterday",
        "2024-13-01",
        "2023-02-29",
        "2024-04-31",
        "now-7x",
        "2024-05-07 10:00",
        "0000-01-01",
        "2024-05-07T10:00+19:00",
        "'",
    ],
)
def test_a_junk_date_is_refused_by_us(junk):
    with pytest.raises(ValidationError, match="ISO 8601"):
        SearchParams.model_validate({"since": junk})


@pytest.mark.parametrize(
    "good",
    ["2024-05-07", "2024-02-29", "2000-02-29", "2024-05-07T10:00:00.123Z", "2024-05-07T10:00+02:00", "now-7d/d", "now"],
)
def test_dates_elasticsearch_understands_pass(good):
    assert SearchParams.model_validate({"until": good}).until == good


async def test_bad_parameters_are_400_with_our_reason_before_elasticsearch_is_asked():
    settings = ApiSettings(elasticsearch_url="http://127.0.0.1:9")
    client = es.client(settings)
    app = api.make_api(client, settings, Health("test-api"))
    async with TestClient(TestServer(app)) as http:
        for path, params, words in [
            ("/search", {"q": "x", "size": "101"}, "100"),
            ("/search", {"since": "last tuesday"}, "ISO 8601"),
            ("/entities/top", {"type": "FOO"}, "type"),
            ("/trending", {"window": "forever"}, "window"),
            ("/entities/Oslo/timeline", {"interval": "week"}, "interval"),
        ]:
            response = await http.get(path, params=params)
            assert response.status == 400, (path, params)
            assert words in (await response.json())["error"], (path, params)
    await client.close()


@pytest.mark.parametrize(
    "ignored",
    [["trending", "--source", "s"], ["wait", "--count", "1", "--size", "3"], ["cluster", "c-1", "--source", "s"]],
)
def test_an_option_the_command_would_ignore_is_refused(ignored):
    with pytest.raises(SystemExit) as exited:
        query.parser().parse_args(ignored)
    assert exited.value.code == 2
