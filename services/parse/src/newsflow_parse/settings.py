"""Parse settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from newsflow_common.settings import Settings


class ParseSettings(Settings):
    http_port: int = 8002
