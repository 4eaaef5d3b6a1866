"""Generate the checked-in JSON Schema of every topic for downstream consumers.

Run ``python -m newsflow_schemas.jsonschema [DIR]`` after changing a model; a
test fails while the checked-in files are stale.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from newsflow_schemas.topics import Topic, registry

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "jsonschema"


def json_schema(topic: Topic) -> dict[str, Any]:
    """The JSON Schema of a topic's message value (what travels on the wire)."""
    schema = topic.model_class.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"newsflow/{topic.name}.json",
        "x-topic": topic.name,
        "x-key": topic.key,
        **schema,
    }


def render(topic: Topic) -> str:
    return json.dumps(json_schema(topic), indent=2, sort_keys=True) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for topic in registry().values():
        path = directory / f"{topic.name}.json"
        path.write_text(render(topic), encoding="utf-8")
        written.append(path)
    return written


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for path in write_all(directory):
        print(path)


if __name__ == "__main__":
    main()
