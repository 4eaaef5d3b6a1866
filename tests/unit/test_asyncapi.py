"""The AsyncAPI 3 document downstream teams read: generated from the registry and the models, checked in."""

from __future__ import annotations

import json
import warnings
from typing import Any

import jsonschema
import pytest
import yaml

with warnings.catch_warnings():  # asyncapi3 0.0.2 names a field "schema", which pydantic warns about
    warnings.simplefilter("ignore", UserWarning)
    from asyncapi3 import AsyncAPI3

from newsflow_schemas import registry
from newsflow_schemas.asyncapi import DEFAULT_PATH, EXAMPLES_DIR, document, render

TOPICS = list(registry().values())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: only local references, the document stands alone"
    node: Any = spec
    for part in ref[2:].split("/"):
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def channel_of(spec: dict[str, Any], topic: str) -> tuple[str, dict[str, Any]]:
    found = [(cid, c) for cid, c in spec["channels"].items() if c["address"] == topic]
    assert len(found) == 1, f"{topic}: {len(found)} channels"
    return found[0]


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Validator:
    """Validates against a schema of the document, its #/components/... references resolved in the document."""
    root = {**spec, **schema}
    return jsonschema.Draft7Validator(root, format_checker=jsonschema.FormatChecker())


def test_checked_in_document_is_up_to_date():
    assert DEFAULT_PATH.exists(), f"missing {DEFAULT_PATH}: run `make asyncapi`"
    assert DEFAULT_PATH.read_text(encoding="utf-8") == render(), f"{DEFAULT_PATH} is stale: run `make asyncapi`"


def test_it_is_an_asyncapi_3_document(spec):
    assert spec["asyncapi"].startswith("3.")
    AsyncAPI3.model_validate(spec)


def test_every_reference_resolves(spec):
    for ref in refs(spec):
        resolve(spec, ref)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_every_topic_has_its_channel_key_headers_payload_and_a_valid_example(spec, topic):
    _, channel = channel_of(spec, topic.name)
    binding = channel["bindings"]["kafka"]
    assert (binding["topic"], binding["partitions"]) == (topic.name, topic.partitions)
    assert binding["topicConfiguration"]["cleanup.policy"] == [topic.cleanup_policy]
    [message] = channel["messages"].values()
    message = resolve(spec, message["$ref"]) if "$ref" in message else message
    assert message["contentType"] == "application/json"
    assert topic.key in message["bindings"]["kafka"]["key"]["description"]
    payload = resolve(spec, message["payload"]["$ref"])
    assert payload["title"] == topic.model
    [example] = message["examples"]
    assert example["payload"] == json.loads((EXAMPLES_DIR / f"{topic.name}.json").read_text(encoding="utf-8"))
    validator(spec, message["payload"]).validate(example["payload"])
    headers = resolve(spec, message["headers"]["$ref"]) if "$ref" in message["headers"] else message["headers"]
    validator(spec, headers).validate(example["headers"])
    assert example["headers"]["schema-name"] == topic.model


def test_an_example_breaking_the_schema_is_refused(spec):
    _, channel = channel_of(spec, "news.articles.v1")
    [message] = channel["messages"].values()
    broken = {key: value for key, value in message["examples"][0]["payload"].items() if key != "title"}
    with pytest.raises(jsonschema.ValidationError):
        validator(spec, message["payload"]).validate(broken)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.name)
def test_operations_say_who_sends_and_who_receives(spec, topic):
    cid, _ = channel_of(spec, topic.name)
    said: dict[str, set[str]] = {"send": set(), "receive": set()}
    for operation in spec["operations"].values():
        if operation["channel"]["$ref"] == f"#/channels/{cid}":
            said[operation["action"]].add(operation["x-newsflow-service"])
            for message in operation["messages"]:
                assert message["$ref"].startswith(f"#/channels/{cid}/messages/")
    assert said == {"send": set(topic.producers), "receive": set(topic.consumers)}


def test_the_document_is_generated_from_the_registry_not_written_by_hand():
    assert {c["address"] for c in document()["channels"].values()} == set(registry())
