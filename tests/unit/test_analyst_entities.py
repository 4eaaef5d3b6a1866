"""Analysts find an entity by any name it goes by: partial names, other cases, typos answered with suggestions.

The indexed articles carry canonical names ("Donald Trump"); an analyst types "Trump" or "donald trump".
These are the pure parts: the query bodies, which indexed names a name stands for, and what to suggest.
"""

from __future__ import annotations

from typing import Any

import pytest

from newsflow_analyst import queries
from newsflow_analyst.queries import Candidate, Filters, UnknownEntity, choose_names, suggest

TRUMPS = [
    Candidate("Donald Trump", frozenset({"PERSON"}), 11),
    Candidate("Ivanka Trump", frozenset({"PERSON"}), 2),
    Candidate("Trump", frozenset({"PERSON"}), 1),
    Candidate("Trumpington", frozenset({"LOC"}), 3),
    Candidate("Trump Tower", frozenset({"ORG"}), 1),
]


def test_a_surname_stands_for_itself_and_the_full_name_most_articles_give() -> None:
    assert choose_names("Trump", TRUMPS) == ["Donald Trump", "Trump"]


def test_a_full_name_in_any_case_is_the_indexed_name() -> None:
    assert choose_names("donald TRUMP", TRUMPS) == ["Donald Trump"]


def test_a_first_name_alone_finds_the_full_name() -> None:
    assert choose_names("Ivanka", TRUMPS) == ["Ivanka Trump"]


def test_a_partial_name_never_matches_inside_a_word_nor_crosses_to_another_type() -> None:
    jordans = [
        Candidate("Jordan", frozenset({"LOC"}), 40),
        Candidate("Michael Jordan", frozenset({"PERSON"}), 9),
        Candidate("Jordanian", frozenset({"NORP"}), 5),
    ]
    assert choose_names("Jordan", jordans) == ["Jordan"]  # the country; the player is named in full
    assert choose_names("Trum", TRUMPS) == []


def test_nothing_matching_is_none() -> None:
    assert choose_names("Angela Merkel", TRUMPS) == []


def test_suggestions_are_the_closest_names_by_spelling_then_by_articles() -> None:
    names = [c for c in TRUMPS if "PERSON" in c.types] + [Candidate("Angela Merkel", frozenset({"PERSON"}), 30)]
    assert suggest("Donald Trumb", names)[0] == "Donald Trump"
    assert suggest("Trumb", names)[:2] == ["Trump", "Donald Trump"]
    assert suggest("Merkl", names) == ["Angela Merkel"]
    assert suggest("Xi Jinping", names) == []


def test_unknown_entity_is_a_value_error_that_names_its_suggestions() -> None:
    error = UnknownEntity("Trumb", ["Trump", "Donald Trump"])
    assert isinstance(error, ValueError)  # the CLI and the API answer it as the caller's mistake
    assert "did you mean" in str(error)
    assert "Donald Trump" in str(error)
    assert str(UnknownEntity("Zzz", [])) == "no entity named 'Zzz'"


def test_candidates_query_finds_names_holding_the_word_in_any_case_of_the_type_asked() -> None:
    body = queries.candidates_aggregation("Trump", "PERSON")
    nested = body["names"]
    assert nested["nested"] == {"path": "entities"}
    matching = nested["aggs"]["matching"]
    wildcard = {"wildcard": {"entities.name": {"value": "*Trump*", "case_insensitive": True}}}
    assert wildcard in matching["filter"]["bool"]["filter"]
    assert {"term": {"entities.type": "PERSON"}} in matching["filter"]["bool"]["filter"]
    names = matching["aggs"]["names"]
    assert names["terms"]["field"] == "entities.name"
    assert names["aggs"]["types"]["terms"]["field"] == "entities.type"


def test_candidates_query_escapes_wildcard_characters() -> None:
    body = queries.candidates_aggregation("A*b?c\\", None)
    clauses = body["names"]["aggs"]["matching"]["filter"]["bool"]["filter"]
    assert clauses == [{"wildcard": {"entities.name": {"value": "*A\\*b\\?c\\\\*", "case_insensitive": True}}}]


def test_resolved_names_filter_by_any_of_them() -> None:
    clause = Filters(entity="Trump", entity_names=("Donald Trump", "Trump")).clauses()[0]
    assert clause["nested"]["query"]["bool"]["filter"] == [{"terms": {"entities.name": ["Donald Trump", "Trump"]}}]


class FakeClient:
    """Answers the aggregation the resolver sends with the candidates given; records every body."""

    def __init__(self, candidates: list[Candidate]) -> None:
        self.candidates = candidates
        self.bodies: list[dict[str, Any]] = []

    async def search(self, **body: Any) -> dict[str, Any]:
        self.bodies.append(body)
        buckets = [
            {"key": c.name, "doc_count": c.articles, "types": {"buckets": [{"key": t} for t in sorted(c.types)]}}
            for c in self.candidates
        ]
        return {"aggregations": {"names": {"matching": {"names": {"buckets": buckets}}}}}


async def test_filters_resolve_through_the_index_and_unknown_names_get_suggestions() -> None:
    client = FakeClient(TRUMPS)
    resolved = await queries.resolve(client, "news-articles", Filters(entity="Trump", source="s"))  # type: ignore[arg-type]
    assert resolved.entity_names == ("Donald Trump", "Trump")
    assert resolved.source == "s"
    with pytest.raises(UnknownEntity, match=r"did you mean.*Trump"):
        await queries.resolve(client, "news-articles", Filters(entity="Trumb"))  # type: ignore[arg-type]


async def test_trending_refuses_a_source_it_cannot_honour() -> None:
    with pytest.raises(ValueError, match="source"):
        await queries.trending(FakeClient([]), "news-trends", source="bbc")  # type: ignore[arg-type]


def test_the_query_command_refuses_trending_by_source_instead_of_ignoring_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from newsflow_analyst import cli

    with pytest.raises(SystemExit) as refused:  # before any request: nothing to connect to
        cli.main(["trending", "--source", "bbc"])
    assert refused.value.code == 2
    assert "--source" in capsys.readouterr().err
