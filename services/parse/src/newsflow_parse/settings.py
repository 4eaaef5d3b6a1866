"""Parse settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class ParseSettings(Settings):
    http_port: int = 8002
    parse_timeout_seconds: float = 30.0
    """Time limit to extract one document; past it the worker is killed and the document dead-lettered."""
    parse_workers: int | None = None
    """Extraction worker processes; default: the cores this process may use."""
