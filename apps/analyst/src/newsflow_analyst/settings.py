"""``newsflow-api`` settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class ApiSettings(Settings):
    """The analyst's HTTP API listens on NEWSFLOW_HTTP_HOST:NEWSFLOW_HTTP_PORT."""

    http_port: int = 8005
    api_max_size: int = 100
    """Largest page a request may ask for."""
