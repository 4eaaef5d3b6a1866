"""Files and folders -> RawDocuments: .txt, .html/.htm, .json/.jsonl, .warc/.warc.gz, and .gz of any of them.

A text or HTML file is one document; a JSON, JSONL or WARC file holds many. What cannot be ingested
comes out as a Refusal (with its bytes) so the caller dead-letters it and moves on.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from newsflow_common.dlq import MAX_ORIGINAL_BYTES, Rejected
from newsflow_ingest.articles import file_articles
from newsflow_ingest.documents import Refusal, decode_text, new_document
from newsflow_ingest.warc import warc_documents
from newsflow_schemas import RawDocument

TEXT_TYPES = {".txt": "text/plain", ".html": "text/html", ".htm": "text/html"}
ARTICLE_FILES = {".json": False, ".jsonl": True}
"""Suffix -> one article per line."""
GZ_RATIO_CAP = 64
"""A .gz of JSON/JSONL may inflate to this many times max_document_bytes: a gzip bomb stops there."""

Item = RawDocument | Refusal


def file_kind(path: Path) -> str | None:
    """'warc', a text/article suffix ('.html', '.jsonl'...), or None when unsupported; '.gz' looks inside."""
    name = path.name.lower()
    if name.endswith((".warc", ".warc.gz", ".arc", ".arc.gz")):  # warc.py reads both formats
        return "warc"
    if name.endswith(".gz"):
        return file_kind(path.with_suffix(""))
    suffix = path.suffix.lower()
    return suffix if suffix in TEXT_TYPES or suffix in ARTICLE_FILES else None


def find_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The supported files among ``paths``, folders walked recursively, in a stable order."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and file_kind(p) is not None)
        else:
            yield path


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def read_file(path: Path, *, source: str, max_bytes: int) -> Iterator[Item]:
    """Every document in a file, or the refusal of what is not ingestible (blocking I/O: run in a thread)."""
    kind = file_kind(path)
    if kind == "warc":
        yield from warc_documents(path, source=source, max_bytes=max_bytes)
        return
    try:
        data = _read(path, max_bytes * (GZ_RATIO_CAP if kind in ARTICLE_FILES else 1))
    except Rejected as exc:
        yield Refusal(exc.kind, str(exc), _head(path), file_uri(path))
        return
    if kind in ARTICLE_FILES:
        yield from _article_file(data, path=path, lines=ARTICLE_FILES[kind], source=source, max_bytes=max_bytes)
        return
    try:
        yield raw_document(data, path=path, source=source, max_bytes=max_bytes)
    except Rejected as exc:
        yield Refusal(exc.kind, str(exc), data, file_uri(path))


def raw_document(data: bytes, *, path: Path, source: str, max_bytes: int) -> RawDocument:
    """The RawDocument for a text or HTML file's bytes; raises Rejected when it is not ingestible text."""
    kind = file_kind(path)
    if kind not in TEXT_TYPES:
        raise Rejected("unsupported-type", f"unsupported file type {path.suffix or '(none)'}")
    return new_document(
        data,
        source=source,
        locator=str(path),
        uri=file_uri(path),
        content_type=TEXT_TYPES[kind],
        max_bytes=max_bytes,
        metadata={"filename": path.name},
    )


def _head(path: Path) -> bytes:
    """The beginning of a refused file, for its dead letter: a huge file is not read whole."""
    with path.open("rb") as handle:
        return handle.read(MAX_ORIGINAL_BYTES)


def _read(path: Path, limit: int) -> bytes:
    """The file's bytes, decompressed when .gz, refused past ``limit`` (read no further than that)."""
    if path.suffix.lower() != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as stream:
            data = stream.read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise Rejected("gzip", f"not readable gzip data: {exc}") from exc
    if len(data) > limit:
        raise Rejected("too-large", f"decompresses to more than {limit} bytes")
    return data


def _article_file(data: bytes, *, path: Path, lines: bool, source: str, max_bytes: int) -> Iterator[Item]:
    try:
        text, _ = decode_text(data)
    except Rejected as exc:
        yield Refusal(exc.kind, str(exc), data, file_uri(path))
        return
    yield from file_articles(text, lines=lines, source=source, uri=file_uri(path), max_bytes=max_bytes)
