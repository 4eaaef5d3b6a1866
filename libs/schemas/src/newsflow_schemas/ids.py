"""Deterministic ids, so a replay or a re-delivery overwrites instead of duplicating."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from urllib.parse import unquote, urlsplit, urlunsplit

from url_normalize import url_normalize

URL_ID_SCHEME = "u2"
"""Prefix of ids derived from a URL, naming the canonicalisation that made them. The first scheme ("u",
hand-written) gave some pages several ids; ids of this one never equal its ids, so the two can be told apart
(docs/decisions/011-url-canonicalisation.md). Change the canonicalisation: change this prefix."""

TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|gbraid|wbraid|dclid|msclkid|yclid|twclid|ttclid|li_fat_id|igshid|mc_cid|mc_eid"
    r"|_ga|_gl|_hsenc|_hsmi|__hstc|__hssc|__hsfp|mkt_tok|oly_enc_id|oly_anon_id|vero_id|vero_conv|wickedid"
    r"|_openstat|ref_src)$",
    re.IGNORECASE,
)
"""Query parameters that say who sent the reader, never which page it is (analytics and ad click ids)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _is_tracking(param: str) -> bool:
    return bool(TRACKING_PARAMS.match(unquote(param.partition("=")[0])))


def normalize_url(url: str) -> str:
    """The URL as RFC 3986 normalises it (url-normalize: case, IDN hosts to punycode, escapes of unreserved
    characters decoded, dot segments and repeated slashes removed, default port dropped), without fragment or
    tracking parameters, the others sorted. Escapes stay as written otherwise: %20 is never turned into +."""
    try:
        normalized = url_normalize(url.strip()) or ""
        parts = urlsplit(normalized)
    except (ValueError, UnicodeError):  # no valid URL: the text is its own identity
        return url.strip()
    query = "&".join(sorted(p for p in parts.query.split("&") if p and not _is_tracking(p)))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, ""))


def article_id(*, url: str | None, source: str, title: str, published_at: datetime | None, body: str) -> str:
    """Canonical URL; else source + title + date; else the content's hash."""
    if url:
        return f"{URL_ID_SCHEME}-" + _digest(normalize_url(url))
    if title and published_at is not None:
        return "t-" + _digest(source, title.strip().lower(), published_at.date().isoformat())
    return "c-" + _digest(source, title.strip(), body.strip())


def content_id(*parts: str) -> str:
    """Id of a piece of content from what identifies it (source, locator, bytes' hash)."""
    return _digest(*parts)
