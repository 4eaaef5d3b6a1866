"""The analyst's tools as pure logic: filters, paging cursors, the table, the CLI's arguments, the OpenAPI document."""

from __future__ import annotations

import pytest

from newsflow_analyst import api, queries
from newsflow_analyst import cli as query
from newsflow_analyst.queries import Filters, decode_cursor, encode_cursor, entity_clause


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
def test_cursor_round_trips_the_sort_values(values):
    assert decode_cursor(encode_cursor(values)) == values


@pytest.mark.parametrize("cursor", ["not-a-cursor", "e30=", "!!"])
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


def test_openapi_documents_every_route():
    document = api.openapi()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == set(api.ROUTES)
    for path, item in document["paths"].items():
        names = {p["name"] for p in item["get"]["parameters"]}
        assert all(f"{{{name}}}" not in path or name in names for name in ("name", "cluster_id")), path
    assert set(document["paths"]["/entities/{name}/timeline"]["get"]["parameters"][1]["schema"]["enum"]) == set(
        queries.INTERVALS
    )


@pytest.mark.parametrize(
    "ignored",
    [["trending", "--source", "s"], ["wait", "--count", "1", "--size", "3"], ["cluster", "c-1", "--source", "s"]],
)
def test_an_option_the_command_would_ignore_is_refused(ignored):
    with pytest.raises(SystemExit) as exited:
        query.parser().parse_args(ignored)
    assert exited.value.code == 2
