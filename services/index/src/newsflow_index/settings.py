"""Index and API settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class IndexSettings(Settings):
    http_port: int = 8004
    batch_size: int = 500
    """Documents per bulk request, at most."""
    batch_bytes: int = 5 * 1024 * 1024
    """Bytes of documents per bulk request, at most."""
    batch_seconds: float = 1.0
    """How long to wait for a batch to fill before sending what there is."""
    articles_alias: str = "news-articles"
    trends_alias: str = "news-trends"


class ApiSettings(IndexSettings):
    """``newsflow-api``: the analyst's HTTP API listens on NEWSFLOW_HTTP_HOST:NEWSFLOW_HTTP_PORT."""

    http_port: int = 8005
    api_max_size: int = 100
    """Largest page a request may ask for."""
