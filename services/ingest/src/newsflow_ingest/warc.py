"""WARC archives (.warc, .warc.gz): every HTML response record becomes a RawDocument (warcio)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.exceptions import ArchiveLoadFailed  # type: ignore[import-untyped]
from warcio.recordloader import ArcWarcRecord  # type: ignore[import-untyped]

from newsflow_common.dlq import MAX_ORIGINAL_BYTES, Rejected
from newsflow_ingest.documents import Refusal, new_document, parse_content_type
from newsflow_schemas import RawDocument

HTML_TYPES = {"text/html", "application/xhtml+xml"}
"""Bytes of a refused record kept in its dead letter, at most."""


def warc_documents(path: Path, *, source: str, max_bytes: int) -> Iterator[RawDocument | Refusal]:
    """HTML pages answered 2xx, with the URL (WARC-Target-URI) and date (WARC-Date) of the capture.

    Other records (requests, metadata, images, redirects) are not documents and are passed over.
    """
    uri = path.resolve().as_uri()
    with path.open("rb") as stream:
        try:
            for record in ArchiveIterator(stream):
                if record.format != "warc":  # warcio reads lines of words as old ARC records: not ours
                    raise ArchiveLoadFailed(f"{record.format} record, not WARC")
                if _is_html_page(record):
                    yield _record_document(record, source=source, uri=uri, max_bytes=max_bytes)
        except ArchiveLoadFailed as exc:
            stream.seek(0)
            yield Refusal("warc", f"not a readable WARC archive: {exc}", stream.read(MAX_ORIGINAL_BYTES), uri)


def _is_html_page(record: ArcWarcRecord) -> bool:
    if record.rec_type != "response" or record.http_headers is None:
        return False
    status = record.http_headers.get_statuscode() or ""
    mime, _ = parse_content_type(record.http_headers.get_header("Content-Type"))
    return bool(status.startswith("2") and mime in HTML_TYPES)


def _record_document(record: ArcWarcRecord, *, source: str, uri: str, max_bytes: int) -> RawDocument | Refusal:
    url = record.rec_headers.get_header("WARC-Target-URI")
    record_id = record.rec_headers.get_header("WARC-Record-ID") or url
    locator = f"{uri}#{record_id}"
    data = record.content_stream().read(max_bytes + 1)  # decoded from chunked and gzip transfer
    _, charset = parse_content_type(record.http_headers.get_header("Content-Type"))
    try:
        return new_document(
            data,
            source=source,
            locator=locator,
            uri=locator,
            url=url,
            content_type="text/html",
            max_bytes=max_bytes,
            declared_charset=charset,
            fetched_at=_warc_date(record.rec_headers.get_header("WARC-Date")),
            metadata={"warc_record_id": record_id},
        )
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), data, locator)


def _warc_date(value: str | None) -> datetime | None:
    """WARC-Date is ISO 8601 in UTC ('2024-03-01T10:00:00Z'); None falls back to now."""
    if not value:
        return None
    try:
        date = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)
