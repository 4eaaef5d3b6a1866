"""Web archives (.warc, .warc.gz, and the older .arc, .arc.gz): every HTML page in them becomes a RawDocument.

warcio reads both formats. A page is an HTML ``response`` answered 2xx (its HTTP headers give the
type and charset), or an HTML ``resource`` or ``conversion`` record (a page stored without its HTTP
exchange, or converted from another format: the record's own Content-Type tells). Other records
(requests, metadata, images, redirects) are not documents: they are passed over and counted in the
log line that closes each archive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]
from warcio.exceptions import ArchiveLoadFailed  # type: ignore[import-untyped]
from warcio.recordloader import ArcWarcRecord  # type: ignore[import-untyped]
from warcio.timeutils import timestamp_to_datetime  # type: ignore[import-untyped]

from newsflow_common.dlq import MAX_ORIGINAL_BYTES, Rejected
from newsflow_common.logs import get_logger
from newsflow_ingest.documents import Refusal, new_document, parse_content_type
from newsflow_schemas import RawDocument

HTML_TYPES = {"text/html", "application/xhtml+xml"}
STORED_TYPES = {"resource", "conversion"}
"""Record types holding a document itself, with no HTTP headers around it."""
ARC_SUFFIXES = (".arc", ".arc.gz")
log = get_logger(__name__)


def warc_documents(path: Path, *, source: str, max_bytes: int) -> Iterator[RawDocument | Refusal]:
    """The archive's HTML pages, with the URL and date of their capture; a file that is no archive is refused."""
    uri = path.resolve().as_uri()
    arc = path.name.lower().endswith(ARC_SUFFIXES)
    passed_over: Counter[str] = Counter()
    with path.open("rb") as stream:
        try:
            records = ArchiveIterator(stream)
            for record in records:
                if record.format != "warc" and not arc:  # lines of words read as old ARC records: not a WARC
                    raise ArchiveLoadFailed(f"{record.format} record, not WARC")
                if _is_html_page(record):
                    data = record.content_stream().read(max_bytes + 1)  # decoded from chunked and gzip transfer
                    record_id = _record_id(record, records)  # after the content: an ARC offset reads to the end
                    yield _record_document(record, record_id, data, source, uri, max_bytes)
                else:
                    passed_over[record.rec_type] += 1
        except ArchiveLoadFailed as exc:
            stream.seek(0)
            kind = "arc" if arc else "warc"
            yield Refusal(kind, f"not a readable {kind.upper()} archive: {exc}", stream.read(MAX_ORIGINAL_BYTES), uri)
    log.info("archive read", uri=uri, passed_over=dict(passed_over))


def _is_html_page(record: ArcWarcRecord) -> bool:
    if record.rec_type in STORED_TYPES:
        return _mime(record) in HTML_TYPES
    if record.rec_type != "response" or record.http_headers is None:
        return False
    status = record.http_headers.get_statuscode() or ""
    return bool(status.startswith("2") and _mime(record) in HTML_TYPES)


def _mime(record: ArcWarcRecord) -> str:
    return parse_content_type(_content_type(record))[0]


def _content_type(record: ArcWarcRecord) -> str | None:
    """The page's own type: from its HTTP headers when it has them, else from the record."""
    headers = record.http_headers if record.http_headers is not None else record.rec_headers
    value: str | None = headers.get_header("Content-Type")
    return value


def _record_document(
    record: ArcWarcRecord, record_id: str, data: bytes, source: str, uri: str, max_bytes: int
) -> RawDocument | Refusal:
    locator = f"{uri}#{record_id}"
    _, charset = parse_content_type(_content_type(record))
    warc = record.format == "warc"
    headers = record.rec_headers
    try:
        return new_document(
            data,
            source=source,
            locator=locator,
            uri=locator,
            url=headers.get_header("WARC-Target-URI" if warc else "uri"),
            content_type="text/html",
            max_bytes=max_bytes,
            declared_charset=charset,
            fetched_at=_warc_date(headers.get_header("WARC-Date"))
            if warc
            else _arc_date(headers.get_header("archive-date")),
            metadata={"warc_record_id": record_id, "warc_record_type": record.rec_type},
        )
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), data, locator)


def _record_id(record: ArcWarcRecord, records: ArchiveIterator) -> str:
    """WARC-Record-ID; an ARC record has none: its offset in the file is one that stays put."""
    if record.format == "warc":
        return str(record.rec_headers.get_header("WARC-Record-ID") or record.rec_headers.get_header("WARC-Target-URI"))
    return f"arc-offset-{records.get_record_offset()}"


def _warc_date(value: str | None) -> datetime | None:
    """WARC-Date is ISO 8601 in UTC ('2024-03-01T10:00:00Z'); None falls back to now."""
    if not value:
        return None
    try:
        date = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return date if date.tzinfo else date.replace(tzinfo=UTC)


def _arc_date(value: str | None) -> datetime | None:
    """An ARC archive-date: 14 digits, YYYYMMDDhhmmss in UTC (shorter ones are padded by warcio)."""
    if not value or not value.isdigit():
        return None
    try:
        date: datetime = timestamp_to_datetime(value)
    except ValueError:
        return None
    return date.replace(tzinfo=UTC)
