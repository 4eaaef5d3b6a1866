"""Index settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class IndexSettings(Settings):
    http_port: int = 8004
    batch_size: int = 500
    """Documents per bulk request, at most."""
    batch_bytes: int = 5 * 1024 * 1024
    """Bytes of documents per bulk request, at most."""
