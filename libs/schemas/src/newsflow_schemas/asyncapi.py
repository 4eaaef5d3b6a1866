"""Generate the AsyncAPI 3 document of newsflow's topics from the topic registry and the message models.

Run ``python -m newsflow_schemas.asyncapi [PATH]`` (``make asyncapi``) after changing a model or topics.yaml;
a test fails while the checked-in ``libs/schemas/asyncapi.yaml`` is stale. One channel per topic (its Kafka
binding: partitions, cleanup policy, retention), one message per channel (key, headers, payload schema, the
topic's example from ``libs/schemas/examples``), and one send or receive operation per producer and consumer
listed in the registry.
"""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from newsflow_schemas import models
from newsflow_schemas.codec import CONTENT_TYPE, decode, headers
from newsflow_schemas.topics import Topic, registry

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
SCHEMA_REF = "#/components/schemas/{model}"
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "asyncapi.yaml"
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
STAGES = ("ingest", "parse", "enrich", "index")
"""Services that consume in their own group, newsflow-<stage>; tools read without one."""

HEADERS: dict[str, str] = {
    "content-type": "Always application/json: the value is UTF-8 JSON.",
    "schema-name": "The value's model: RawDocument, Article, LinkToFetch, EnrichedArticle, TrendCount, DeadLetter.",
    "schema-version": "The model's version within the topic's vN (fields may only be added, optional).",
    "trace-id": "Id of the raw document the message descends from; in every stage's logs and the indexed document.",
    "producer": "The service that produced the message.",
    "source-name": "On ingest's dead letters: the source that delivered what was refused.",
    "replayed-from": (
        "Set by `newsflow-dlq replay` (topic:partition:offset of the dead letter); such a message carries "
        "trace-id and this header only."
    ),
}
"""Every header newsflow writes (newsflow_schemas.codec.headers and the tools); consumers must not require more."""

DESCRIPTION = """The Kafka topics of newsflow, its public API. Values are UTF-8 JSON, keys the entity's id as UTF-8.
Within a topic version (`v1`) fields are only ever added, and only optional ones; a breaking change is a
new `v2` topic (a test compares each `v1` schema with the one last committed). What a stage cannot
process goes to the DLQ of the topic it read, as a DeadLetter with the original bytes and the reason.
Generated from libs/schemas/src/newsflow_schemas/topics.yaml and the pydantic models: do not edit.""".replace("\n", " ")


def channel_id(topic: Topic) -> str:
    return topic.name.replace(".", "_")


@cache
def schemas() -> dict[str, Any]:
    """JSON Schema of every model a topic carries and of the models inside them, referenced by name."""
    found: dict[str, Any] = {}
    for topic in registry().values():
        schema = topic.model_class.model_json_schema(mode="serialization", ref_template=SCHEMA_REF)
        found.update(schema.pop("$defs", {}))
        found[topic.model] = schema
    return dict(sorted(found.items()))


def headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["trace-id"],
        "properties": {name: {"type": "string", "description": text} for name, text in HEADERS.items()},
    }


def example(topic: Topic) -> dict[str, Any]:
    """The topic's checked-in example and the headers newsflow's producer would give it."""
    payload = json.loads((EXAMPLES_DIR / f"{topic.name}.json").read_text(encoding="utf-8"))
    message = decode(topic.model_class, json.dumps(payload).encode())
    sent = {name: value.decode() for name, value in headers(message, topic.producers[0])}
    return {"name": f"{channel_id(topic)}_example", "headers": sent, "payload": payload}


def message(topic: Topic) -> dict[str, Any]:
    key_field = topic.model_class.model_fields[topic.key]
    key_text = f"`{topic.key}` of the value" + (f": {key_field.description}" if key_field.description else "")
    return {
        "name": topic.model,
        "title": topic.model,
        "summary": (topic.model_class.__doc__ or topic.model).strip().splitlines()[0],
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/Headers"},
        "payload": {"$ref": SCHEMA_REF.format(model=topic.model)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key_text},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [example(topic)],
    }


def channel(topic: Topic) -> dict[str, Any]:
    return {
        "address": topic.name,
        "title": topic.name,
        "description": topic.description + (f" Dead letters go to {topic.dlq}." if topic.dlq else ""),
        "messages": {topic.model: message(topic)},
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": {
                    "cleanup.policy": [topic.cleanup_policy],
                    "retention.ms": topic.retention_ms,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def operation(topic: Topic, service: str, action: str) -> dict[str, Any]:
    cid = channel_id(topic)
    verb = "writes" if action == "send" else "reads"
    found: dict[str, Any] = {
        "action": action,
        "channel": {"$ref": f"#/channels/{cid}"},
        "summary": f"{service} {verb} {topic.name}",
        "messages": [{"$ref": f"#/channels/{cid}/messages/{topic.model}"}],
        "x-newsflow-service": service,
    }
    if action == "receive" and service in STAGES:
        group = {"type": "string", "enum": [f"newsflow-{service}"], "description": "newsflow's own: use yours"}
        found["bindings"] = {"kafka": {"groupId": group, "bindingVersion": KAFKA_BINDING_VERSION}}
    return found


def operations() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for topic in registry().values():
        for service in topic.producers:
            found[f"{service}_sends_{channel_id(topic)}"] = operation(topic, service, "send")
        for service in topic.consumers:
            found[f"{service}_receives_{channel_id(topic)}"] = operation(topic, service, "receive")
    return found


def document() -> dict[str, Any]:
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "newsflow topics",
            "version": f"{max(m.schema_version for m in vars(models).values() if is_message(m))}.0.0",
            "description": DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {
            "compose": {"host": "kafka:9092", "protocol": "kafka", "description": "Inside the compose network."},
            "local": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make run, or make up PUBLISH=1."},
        },
        "channels": {channel_id(topic): channel(topic) for topic in registry().values()},
        "operations": operations(),
        "components": {"schemas": {"Headers": headers_schema(), **schemas()}},
    }


def is_message(value: object) -> bool:
    return isinstance(value, type) and issubclass(value, models.Message) and value is not models.Message


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True, width=120)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    path.write_text(render(), encoding="utf-8")
    print(path)


if __name__ == "__main__":
    main()
