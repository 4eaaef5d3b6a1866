"""Archives as public test sets hold them: HTML as WARC resource and conversion records, and old ARC files."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.warcwriter import WARCWriter

from newsflow_ingest.documents import Refusal
from newsflow_ingest.files import file_kind, find_files, read_file
from newsflow_schemas import RawDocument

PAGE = b"<html><head><title>Stored</title></head><body><p>A stored story.</p></body></html>"


def read(path: Path) -> list[RawDocument | Refusal]:
    return list(read_file(path, source="archive", max_bytes=1 << 20))


def warc_records(records: list[tuple[str, str, str, bytes]], compress: bool = False) -> bytes:
    """(url, record type, WARC Content-Type, payload) -> a WARC file of records without HTTP headers (warcio)."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=compress)
    for url, record_type, content_type, payload in records:
        record = writer.create_warc_record(
            url,
            record_type,
            payload=io.BytesIO(payload),
            warc_content_type=content_type,
            warc_headers_dict={"WARC-Date": "2024-03-01T10:00:00Z"},
        )
        writer.write_record(record)
    return out.getvalue()


@pytest.mark.parametrize("name", ["stored.warc", "stored.warc.gz"])
def test_html_resource_and_conversion_records_become_documents(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    records = [
        ("https://news.example/resource", "resource", "text/html; charset=utf-8", PAGE),
        ("https://news.example/converted", "conversion", "application/xhtml+xml", PAGE.replace(b"A ", b"The ")),
        ("https://news.example/logo.png", "resource", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("https://news.example/notes", "metadata", "text/html", PAGE),  # about a capture, not one
    ]
    path.write_bytes(warc_records(records, compress=name.endswith(".gz")))
    docs = read(path)
    assert all(isinstance(doc, RawDocument) for doc in docs)
    assert [(d.url, d.metadata["warc_record_type"]) for d in docs if isinstance(d, RawDocument)] == [
        ("https://news.example/resource", "resource"),
        ("https://news.example/converted", "conversion"),
    ]
    first = docs[0]
    assert isinstance(first, RawDocument)
    assert first.body == PAGE.decode()
    assert first.fetched_at == datetime(2024, 3, 1, 10, tzinfo=UTC)


def arc_file(records: list[tuple[str, str, bytes]], compress: bool) -> bytes:
    """An ARC v1 file (warcio reads ARC but does not write it): the filedesc header, then one record per page.

    Each record: `URL IP-address Archive-date Content-type Archive-length`, then the HTTP response;
    an .arc.gz holds each record in a gzip member of its own.
    """
    desc = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    out = [b"filedesc://test.arc 0.0.0.0 20240305093000 text/plain %d\n%s\n" % (len(desc), desc)]
    for url, content_type, payload in records:
        http = b"HTTP/1.0 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (
            content_type.encode(),
            len(payload),
            payload,
        )
        out.append(
            b"%s 93.184.216.34 20240305093000 %s %d\n%s\n" % (url.encode(), content_type.encode(), len(http), http)
        )
    return b"".join(gzip.compress(record) if compress else record for record in out)


@pytest.mark.parametrize("name", ["old.arc", "old.arc.gz"])
def test_arc_files_are_read_with_their_url_and_date(tmp_path: Path, name: str) -> None:
    pages = [("http://news.example/arc", "text/html", PAGE), ("http://news.example/a.gif", "image/gif", b"GIF89a")]
    path = tmp_path / name
    path.write_bytes(arc_file(pages, compress=name.endswith(".gz")))
    assert file_kind(path) is not None
    assert list(find_files([tmp_path])) == [path]
    (doc,) = read(path)
    assert isinstance(doc, RawDocument)
    assert (doc.url, doc.content_type, doc.body) == ("http://news.example/arc", "text/html", PAGE.decode())
    assert doc.fetched_at == datetime(2024, 3, 5, 9, 30, tzinfo=UTC)
    assert [d.doc_id for d in read(path)] == [doc.doc_id]  # read again, the same id: a replay overwrites


def test_a_text_file_named_warc_is_still_refused_not_read_as_arc(tmp_path: Path) -> None:
    path = tmp_path / "words.warc"
    path.write_bytes(b"these are words on a line\n" * 5)
    (refusal,) = read(path)
    assert isinstance(refusal, Refusal)
    assert refusal.kind == "warc"
