"""structlog logging: readable lines on a terminal, JSON lines elsewhere; stdlib loggers (aiokafka, elasticsearch) go
through the same renderer and carry their logger name."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.tracebacks import ExceptionDictTransformer

_SECRETS: set[str] = set()
_URL_PASSWORD = re.compile(r"(://[^:/@\s\"]+):([^@\s\"]+)@")
REDACTED = "***"


def register_secrets(*values: str | None) -> None:
    """Values that must never appear in a log line (passwords, API keys, tokens)."""
    _SECRETS.update(value for value in values if value and len(value) >= 4)


def redact(line: str) -> str:
    """A rendered log line without registered secrets or passwords in URLs (user:password@host)."""
    for secret in _SECRETS:
        line = line.replace(secret, REDACTED)
    return _URL_PASSWORD.sub(rf"\1:{REDACTED}@", line)


def _redact_rendered(_: object, __: str, rendered: Any) -> str:
    """Runs after the JSON renderer: ``rendered`` is the finished line."""
    return redact(str(rendered))


_SHARED: list[structlog.types.Processor] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _renderer(terminal: bool) -> list[structlog.types.Processor]:
    """A person at a terminal reads aligned, coloured lines; a collector parses JSON with structured tracebacks."""
    if terminal:
        return [structlog.dev.ConsoleRenderer()]
    # structlog's dict_tracebacks without the frames' locals: a record's body must not land in a log line.
    tracebacks = structlog.processors.ExceptionRenderer(ExceptionDictTransformer(show_locals=False))
    return [tracebacks, structlog.processors.JSONRenderer()]


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
