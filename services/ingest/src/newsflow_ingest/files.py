"""Files and folders -> RawDocuments: what to read, how to decode it, what to refuse."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from charset_normalizer import from_bytes

from newsflow_common.dlq import Rejected
from newsflow_schemas import RawDocument
from newsflow_schemas.ids import content_id

CONTENT_TYPES = {".txt": "text/plain", ".html": "text/html", ".htm": "text/html"}

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


def find_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The supported files among ``paths``, folders walked recursively, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CONTENT_TYPES)
        else:
            yield path


def decode_text(data: bytes) -> tuple[str, str]:
    """Detect the charset (not assume it) and decode; raises Rejected for empty or binary data."""
    if not data.strip():
        raise Rejected("empty", "the document is empty")
    for signature, what in BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise Rejected("binary", f"the document is {what}, not text")
    if b"\x00" in data[:8192]:
        raise Rejected("binary", "the document holds NUL bytes: binary, not text")
    match = from_bytes(data).best()
    if match is None:
        raise Rejected("binary", "no text encoding decodes the document")
    return str(match), match.encoding


def sniff_content_type(path: Path, text: str) -> str:
    """By suffix, corrected when a .txt file is really HTML."""
    head = text[:512].lstrip().lower()
    if head.startswith(("<!doctype html", "<html")):
        return "text/html"
    content_type = CONTENT_TYPES.get(path.suffix.lower())
    if content_type is None:
        raise Rejected("unsupported-type", f"unsupported file type {path.suffix or '(none)'}")
    return content_type


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def raw_document(data: bytes, *, path: Path, source: str, max_bytes: int) -> RawDocument:
    """The RawDocument for a file's bytes; raises Rejected when it is not ingestible text."""
    if len(data) > max_bytes:
        raise Rejected("too-large", f"{len(data)} bytes is over the limit of {max_bytes}")
    text, charset = decode_text(data)
    digest = hashlib.sha256(data).hexdigest()
    return RawDocument(
        trace_id=uuid.uuid4().hex,
        doc_id=content_id(source, str(path), digest),
        source=source,
        uri=file_uri(path),
        content_type=sniff_content_type(path, text),
        charset=charset,
        body=text,
        fetched_at=datetime.now(UTC),
        metadata={"sha256": digest, "filename": path.name},
    )
