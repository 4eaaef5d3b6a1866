"""Deterministic ids, so a replay or a re-delivery overwrites instead of duplicating."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|_ga|ref_src)$", re.I)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, no tracking parameters."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    query = urlencode(
        sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING_PARAMS.match(k))
    )
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), host, path, query, ""))


def article_id(*, url: str | None, source: str, title: str, published_at: datetime | None, body: str) -> str:
    """Canonical URL; else source + title + date; else the content's hash."""
    if url:
        return "u-" + _digest(normalize_url(url))
    if title and published_at is not None:
        return "t-" + _digest(source, title.strip().lower(), published_at.date().isoformat())
    return "c-" + _digest(source, title.strip(), body.strip())


def content_id(*parts: str) -> str:
    """Id of a piece of content from what identifies it (source, locator, bytes' hash)."""
    return _digest(*parts)
