"""Whether a new JSON Schema of a topic breaks its consumers or its retained messages.

Within a topic version only optional fields may be added. Breaking, and so a new ``vN`` topic: a field
removed (old consumers read it), a field retyped to take values it could not before (old consumers parse
it), a field newly required (messages already in the topic, and producers written against the old
schema, lack it). Narrowing a type (dropping ``null``) and adding optional fields are compatible.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]
ANY = "any"


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """What in ``new`` breaks readers and data of ``old``, one line per problem; empty when compatible."""
    return _compare(old, new, old, new, "")


def _resolve(schema: Schema, root: Schema) -> Schema:
    seen = 0
    while "$ref" in schema and seen < 50:  # a self-referencing model must not loop forever
        node: Any = root
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            node = node[part]
        schema, seen = node, seen + 1
    return schema


def _branches(schema: Schema, root: Schema) -> list[Schema]:
    """The alternatives a value may match: anyOf/oneOf flattened, references resolved."""
    schema = _resolve(schema, root)
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        return [branch for option in alternatives for branch in _branches(option, root)]
    return [schema]


def _types(schema: Schema, root: Schema) -> set[str]:
    found: set[str] = set()
    for branch in _branches(schema, root):
        declared = branch.get("type")
        if isinstance(declared, list):
            found.update(declared)
        elif declared:
            found.add(declared)
        elif "const" in branch or "enum" in branch:
            values = branch["enum"] if "enum" in branch else [branch["const"]]
            found.update(_json_type(value) for value in values)
        elif "properties" in branch:
            found.add("object")
        else:
            found.add(ANY)
    if "integer" in found:
        found.add("number")  # an integer is a number to every JSON reader
    return found


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else ANY


def _only(branches: list[Schema], kind: str) -> Schema | None:
    matching = [b for b in branches if b.get("type") == kind or (kind == "object" and "properties" in b)]
    return matching[0] if len(matching) == 1 else None


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str) -> list[str]:
    where = path or "the value"
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if ANY not in old_types and not new_types <= old_types:
        return [f"{where}: retyped from {sorted(old_types)} to {sorted(new_types)}"]
    problems: list[str] = []
    old_branches, new_branches = _branches(old, old_root), _branches(new, new_root)
    old_object, new_object = _only(old_branches, "object"), _only(new_branches, "object")
    if old_object is not None and new_object is not None:
        old_fields, new_fields = old_object.get("properties", {}), new_object.get("properties", {})
        prefix = f"{path}." if path else ""
        for name, field in old_fields.items():
            if name not in new_fields:
                problems.append(f"{prefix}{name}: removed")
            else:
                problems += _compare(field, new_fields[name], old_root, new_root, prefix + name)
        now_required = set(new_object.get("required", [])) - set(old_object.get("required", []))
        problems += [f"{prefix}{name}: now required" for name in sorted(now_required)]
    old_array, new_array = _only(old_branches, "array"), _only(new_branches, "array")
    if old_array is not None and new_array is not None and "items" in old_array and "items" in new_array:
        problems += _compare(old_array["items"], new_array["items"], old_root, new_root, f"{path}[]")
    return problems
