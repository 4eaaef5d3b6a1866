"""A breaking change to a v1 topic's schema is refused: it must become a v2 topic.

Each checked-in JSON Schema of a v1 topic is compared with the one last committed (`git show HEAD:...`):
no field removed, none retyped, none newly required. Outside a git checkout there is nothing to compare.
"""

from __future__ import annotations

import copy
import json
import subprocess
from typing import Any

import pytest

from newsflow_schemas import registry
from newsflow_schemas.compat import breaking_changes
from newsflow_schemas.jsonschema import DEFAULT_DIR, json_schema

ROOT = DEFAULT_DIR.parents[2]
V1_TOPICS = [topic for topic in registry().values() if ".v1" in topic.name]


def committed(path: str) -> dict[str, Any] | None:
    """The file as last committed; None when it is new. Skips the test outside a git checkout."""
    inside = subprocess.run(["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        pytest.skip("not a git checkout: no committed schema to compare with")
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True)
    return json.loads(shown.stdout) if shown.returncode == 0 else None


@pytest.mark.parametrize("topic", V1_TOPICS, ids=lambda t: t.name)
def test_v1_schemas_change_only_compatibly_since_the_last_commit(topic):
    path = (DEFAULT_DIR / f"{topic.name}.json").relative_to(ROOT).as_posix()
    before = committed(path)
    if before is None:
        pytest.skip(f"{path} is new: nothing committed to compare with")
    problems = breaking_changes(before, json_schema(topic))
    assert not problems, f"{topic.name} changed incompatibly; make it a v2 topic instead:\n" + "\n".join(problems)


# --- the comparison itself, on the real Article schema -------------------------------------------

ARTICLE = json_schema(registry()["news.articles.v1"])


def changed(edit) -> dict[str, Any]:
    schema = copy.deepcopy(ARTICLE)
    edit(schema)
    return schema


def test_the_same_schema_is_compatible():
    assert breaking_changes(ARTICLE, ARTICLE) == []


def test_an_optional_field_added_is_compatible():
    def add(schema):
        schema["properties"]["paywalled"] = {"anyOf": [{"type": "boolean"}, {"type": "null"}], "default": None}

    assert breaking_changes(ARTICLE, changed(add)) == []


def test_a_type_narrowed_is_compatible():
    def narrow(schema):
        schema["properties"]["summary"] = {"type": "string"}

    assert breaking_changes(ARTICLE, changed(narrow)) == []


def test_a_removed_field_is_breaking():
    assert breaking_changes(ARTICLE, changed(lambda s: s["properties"].pop("section"))) == ["section: removed"]


def test_a_retyped_field_is_breaking():
    def retype(schema):
        schema["properties"]["authors"] = {"type": "string"}

    [problem] = breaking_changes(ARTICLE, changed(retype))
    assert problem.startswith("authors: retyped")


def test_a_field_made_nullable_is_breaking():
    def widen(schema):
        schema["properties"]["title"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}

    [problem] = breaking_changes(ARTICLE, changed(widen))
    assert problem.startswith("title: retyped")


def test_a_new_required_field_is_breaking():
    def require(schema):
        schema["properties"]["paywalled"] = {"type": "boolean"}
        schema["required"].append("paywalled")

    assert breaking_changes(ARTICLE, changed(require)) == ["paywalled: now required"]


def test_changes_inside_nested_models_are_seen():
    def nested(schema):
        position = schema["$defs"]["Position"]
        position["properties"].pop("end")
        position["properties"]["index"] = {"type": "string"}

    problems = breaking_changes(ARTICLE, changed(nested))
    assert problems == ["position.index: retyped from ['integer', 'number'] to ['string']", "position.end: removed"]


def test_changes_inside_lists_of_models_are_seen():
    enriched = json_schema(registry()["news.enriched.v1"])
    edited = copy.deepcopy(enriched)
    edited["$defs"]["Entity"]["required"].append("extra")
    edited["$defs"]["Entity"]["properties"]["extra"] = {"type": "string"}
    assert breaking_changes(enriched, edited) == ["entities[].extra: now required"]
