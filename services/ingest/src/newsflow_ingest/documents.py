"""Bytes -> RawDocument, for every source: charset detection, refusal of what is not text, ids."""

from __future__ import annotations

import codecs
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from charset_normalizer import from_bytes

from newsflow_common.dlq import Rejected
from newsflow_schemas import RawDocument, SourceHints
from newsflow_schemas.ids import content_id

# Magic numbers of what users rename to .html or .txt by mistake.
BINARY_SIGNATURES = {
    b"%PDF": "a PDF",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"PK\x03\x04": "a ZIP archive (or an office document)",
    b"\x1f\x8b": "gzip data",
    b"RIFF": "a RIFF file (WebP, WAV, AVI)",
}
BOMS = {codecs.BOM_UTF8: "utf-8-sig", codecs.BOM_UTF16_LE: "utf-16", codecs.BOM_UTF16_BE: "utf-16"}
META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
HTML_START = ("<!doctype html", "<html")
CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
"""Control characters no text holds (tab, newlines and form feeds aside); JSON escapes each into 6 bytes."""
MAX_CONTROLS_SHARE = 0.01


@dataclass(frozen=True)
class Refusal:
    """Something a source delivered that is not ingestible: it goes to news.raw.v1.dlq with its bytes."""

    kind: str
    message: str
    original: bytes
    locator: str
    """Where it came from: a file URI, a URL, a WARC record."""


def decode_text(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode with a detected charset; raises Rejected for empty or binary data.

    Order of trust: a byte-order mark, valid UTF-8 (other charsets almost never pass as UTF-8),
    the charset the source declared (HTTP header, <meta>), then statistical detection.
    """
    if not data.strip():
        raise Rejected("empty", "the document is empty")
    text, charset = _decode(data, declared)
    controls = len(CONTROLS.findall(text, 0, 1 << 20))
    if controls > MAX_CONTROLS_SHARE * min(len(text), 1 << 20):
        raise Rejected("binary", f"{controls} control characters in the first MiB: binary, not text")
    return text, charset


def _decode(data: bytes, declared: str | None) -> tuple[str, str]:
    for bom, charset in BOMS.items():
        if data.startswith(bom):
            try:
                return data.decode(charset), charset
            except UnicodeDecodeError as exc:  # an odd byte count, a lone surrogate after a UTF-16 BOM
                raise Rejected(
                    "encoding", f"the document starts with a {charset} byte-order mark but is not {charset}: {exc}"
                ) from exc
    for signature, what in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise Rejected("binary", f"the document is {what}, not text")
    if b"\x00" in data[:8192]:
        raise Rejected("binary", "the document holds NUL bytes: binary, not text")
    for candidate in ("utf-8", declared, meta_charset(data)):
        if candidate:
            try:
                return data.decode(candidate), candidate
            except (LookupError, UnicodeDecodeError, ValueError):
                continue
    match = from_bytes(data).best()
    if match is None:
        raise Rejected("binary", "no text encoding decodes the document")
    return str(match), match.encoding


def meta_charset(data: bytes) -> str | None:
    """The charset an HTML page declares in its first bytes, if any."""
    found = META_CHARSET.search(data[:4096])
    return found.group(1).decode("ascii", "replace") if found else None


def looks_like_html(text: str) -> bool:
    return text[:512].lstrip().lower().startswith(HTML_START)


def new_document(
    data: bytes,
    *,
    source: str,
    locator: str,
    uri: str,
    content_type: str,
    max_bytes: int,
    declared_charset: str | None = None,
    url: str | None = None,
    fetched_at: datetime | None = None,
    hints: SourceHints | None = None,
    metadata: dict[str, str] | None = None,
    fetch_error: str | None = None,
    trace_id: str | None = None,
) -> RawDocument:
    """A RawDocument for ``data``; raises Rejected when it is too large, empty or binary.

    The id hashes the source, the locator and the bytes: the same content from the same place
    gets the same id (a replay overwrites), a changed page gets a new one (a new version).
    """
    if len(data) > max_bytes:
        raise Rejected("too-large", f"{len(data)} bytes is over the limit of {max_bytes}")
    text, charset = decode_text(data, declared_charset)
    if content_type == "text/plain" and looks_like_html(text):
        content_type = "text/html"
    digest = hashlib.sha256(data).hexdigest()
    return RawDocument(
        trace_id=trace_id or uuid.uuid4().hex,
        doc_id=content_id(source, locator, digest),
        source=source,
        uri=uri,
        url=url,
        content_type=content_type,
        charset=charset,
        body=text,
        fetched_at=fetched_at or datetime.now(UTC),
        metadata={"sha256": digest, **(metadata or {})},
        hints=hints,
        fetch_error=fetch_error,
    )


def parse_content_type(value: str | None) -> tuple[str, str | None]:
    """'text/html; charset=ISO-8859-1' -> ('text/html', 'ISO-8859-1')."""
    mime, _, params = (value or "").partition(";")
    charset = None
    for param in params.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = param_value.strip().strip("\"'") or None
    return mime.strip().lower(), charset
