"""Wire format: UTF-8 JSON values, the entity id as key, descriptive headers."""

from __future__ import annotations

from typing import TypeVar

from newsflow_schemas.models import Message

M = TypeVar("M", bound=Message)

CONTENT_TYPE = "application/json"
Headers = list[tuple[str, bytes]]


def encode(message: Message) -> bytes:
    return message.model_dump_json(exclude_none=False).encode("utf-8")


def decode(model: type[M], value: bytes | None) -> M:
    """Parse and validate a value; raises pydantic.ValidationError when it is not a valid ``model``."""
    return model.model_validate_json(value or b"")


def headers(message: Message, service: str) -> Headers:
    """The headers every produced message carries."""
    return [
        ("content-type", CONTENT_TYPE.encode()),
        ("schema-name", message.schema_name.encode()),
        ("schema-version", str(message.schema_version).encode()),
        ("trace-id", message.trace_id.encode()),
        ("producer", service.encode()),
    ]


def header(headers: Headers | None, name: str) -> str | None:
    """One header's value as text, or None."""
    for key, value in headers or ():
        if key == name:
            return value.decode("utf-8", "replace")
    return None
