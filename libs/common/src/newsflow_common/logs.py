"""structlog logging: readable lines on a terminal, JSON lines elsewhere; stdlib loggers (aiokafka, elasticsearch) go
through the same renderer and carry their logger name."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import structlog
from structlog.tracebacks import ExceptionDictTransformer

_SECRETS: set[str] = set()
_URL_PASSWORD = re.compile(r"(?<![\w.:@%-])([\w.~%!$&'()*+,;=-]+):([^@\s\"'/<>]+)@(?=[\w\[])")
"""user:password@host anywhere: in a URL (https://user:pw@host) or a netloc printed alone (user:pw@host)."""
REDACTED = "***"


def register_secrets(*values: str | None) -> None:
    """Values that must never appear in a log line (passwords, API keys, tokens), in any spelling of them."""
    for value in values:
        if value and len(value) >= 4:
            _SECRETS.update(_spellings(value))


def _spellings(secret: str) -> set[str]:
    """The secret as written, JSON-escaped, repr-escaped and percent-encoded: a quote in it changes the form."""
    return {secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quote(secret, safe="")}


def redact(line: str) -> str:
    """Text without registered secrets or passwords in URLs (user:password@host)."""
    for secret in sorted(_SECRETS, key=len, reverse=True):  # the longest spelling first: it holds the others
        line = line.replace(secret, REDACTED)
    return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", line)


def _redact_values(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_redact_values(item) for item in value]
    return value


def _redact_event(_: object, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """Before rendering: every string of the event, nested or not, as the program wrote it (no escaping yet)."""
    return {key: _redact_values(value) for key, value in event.items()}


def _redact_rendered(_: object, __: str, rendered: Any) -> str:
    """After rendering too: a value the event held as an object may render a secret from its repr."""
    return redact(str(rendered))


_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(terminal: bool) -> list[structlog.types.Processor]:
    """A person at a terminal reads aligned, coloured lines; a collector parses JSON with structured tracebacks.

    The traceback becomes data first, then every string of the event is redacted, then it is rendered: a
    secret in an exception's message is gone before a renderer escapes it into another spelling.
    """
    if terminal:
        return [structlog.processors.format_exc_info, _redact_event, structlog.dev.ConsoleRenderer()]
    # structlog's dict_tracebacks without the frames' locals: a record's body must not land in a log line.
    tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    return [tracebacks, _redact_event, structlog.processors.JSONRenderer()]


def configure_logging(service: str, level: str = "INFO") -> None:
    """Lines on stderr, each carrying the service, the logger's name and the bound trace id."""
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(sys.stderr.isatty()),
            _redact_rendered,  # last: whatever a library put in a message or a traceback, secrets go
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for chatty in ("elastic_transport.transport", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(chatty).setLevel(logging.WARNING)  # a line per request or heartbeat is noise
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


@contextmanager
def trace(trace_id: str | None, **fields: object) -> Iterator[None]:
    """Bind a message's trace id (and extras) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(trace_id=trace_id, **fields):
        yield


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
