"""What ingest reads from files, how it decodes them, and what it refuses."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from newsflow_common.dlq import Rejected
from newsflow_ingest.documents import Refusal, decode_text
from newsflow_ingest.files import find_files, raw_document, read_file
from newsflow_schemas import RawDocument
from tests.conftest import SAMPLE


def document(tmp_path: Path, name: str, data: bytes, max_bytes: int = 1 << 20) -> RawDocument:
    path = tmp_path / name
    path.write_bytes(data)
    return raw_document(data, path=path, source="test", max_bytes=max_bytes)


def read(tmp_path: Path, name: str, data: bytes, max_bytes: int = 1 << 20) -> list[RawDocument | Refusal]:
    path = tmp_path / name
    path.write_bytes(data)
    return list(read_file(path, source="test", max_bytes=max_bytes))


def test_sample_becomes_a_plain_text_document_with_a_stable_id(tmp_path: Path) -> None:
    data = SAMPLE.read_bytes()
    first = document(tmp_path, "page.txt", data)
    again = document(tmp_path, "page.txt", data)
    assert first.content_type == "text/plain"
    assert first.body.startswith("Connect with us")
    assert first.doc_id == again.doc_id
    assert first.trace_id != again.trace_id  # each ingestion is traced on its own


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"", "empty"),
        (b"  \n\t ", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "binary"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "binary"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "binary"),
        (b"text then \x00\x01\x02 binary", "binary"),
    ],
)
def test_empty_and_binary_files_are_refused_with_a_reason(data: bytes, kind: str) -> None:
    with pytest.raises(Rejected) as refused:
        decode_text(data)
    assert refused.value.kind == kind


def test_charset_is_detected_not_assumed(tmp_path: Path) -> None:
    text = "Le président a déclaré à Paris qu’il était très préoccupé par la crise économique. " * 5
    doc = document(tmp_path, "article.txt", text.encode("cp1252"))
    assert doc.body == text
    assert doc.charset.lower().replace("_", "-") in {"cp1252", "windows-1252", "latin-1", "iso-8859-1"}


def test_declared_html_charset_is_used_when_the_bytes_are_not_utf8() -> None:
    page = '<html><head><meta charset="koi8-r"></head><body>Москва сегодня</body></html>'.encode("koi8-r")
    text, charset = decode_text(page)
    assert "Москва сегодня" in text
    assert charset == "koi8-r"


def test_utf16_with_a_byte_order_mark_is_text_not_binary() -> None:
    text, charset = decode_text("Grüße aus Zürich".encode("utf-16"))
    assert text == "Grüße aus Zürich"
    assert charset == "utf-16"


def test_html_is_sniffed_even_under_a_txt_name(tmp_path: Path) -> None:
    doc = document(tmp_path, "page.txt", b"<!DOCTYPE html><html><body><p>Hello</p></body></html>")
    assert doc.content_type == "text/html"


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Rejected) as refused:
        document(tmp_path, "big.txt", b"a" * 2000, max_bytes=1000)
    assert refused.value.kind == "too-large"


def test_folders_are_walked_for_supported_files_only(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    names = ("a.txt", "sub/b.html", "sub/c.HTM", "d.json", "e.jsonl", "f.warc", "g.warc.gz", "h.html.gz", "notes.md")
    for name in (*names, "image.png", "archive.zip.gz"):
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_files([tmp_path])]
    assert found == sorted(n for n in names if n != "notes.md")


# --- JSON and JSONL articles -----------------------------------------------------------------------


def test_a_json_array_becomes_one_document_per_article_carrying_its_own_json(tmp_path: Path) -> None:
    articles = [
        {"url": "https://news.example/a", "title": "A", "body": "Body A", "published": "2024-03-01T10:00:00Z"},
        {"title": "B", "body": "Body B", "author": "Ann Lee", "section": "World", "language": "en"},
    ]
    docs = read(tmp_path, "batch.json", json.dumps(articles).encode())
    assert all(isinstance(d, RawDocument) for d in docs)
    first, second = docs
    assert isinstance(first, RawDocument)
    assert isinstance(second, RawDocument)
    assert first.content_type == "application/json"
    assert json.loads(first.body) == articles[0]
    assert first.url == "https://news.example/a"
    assert first.hints is not None
    assert first.hints.published_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert second.hints is not None
    assert second.hints.authors == ["Ann Lee"]
    assert (second.hints.section, second.hints.language) == ("World", "en")


def test_jsonl_keeps_good_lines_and_refuses_bad_ones_with_their_bytes(tmp_path: Path) -> None:
    lines = [
        json.dumps({"title": "Good", "body": "A good article", "published_at": "Mon, 04 Mar 2024 08:00:00 GMT"}),
        "{not json",
        json.dumps({"title": "No body"}),
        json.dumps(["not", "an", "object"]),
        "",
    ]
    items = read(tmp_path, "feed.jsonl", "\n".join(lines).encode())
    good = [i for i in items if isinstance(i, RawDocument)]
    refused = [i for i in items if isinstance(i, Refusal)]
    assert len(good) == 1
    assert good[0].hints is not None
    assert good[0].hints.published_at == datetime(2024, 3, 4, 8, tzinfo=UTC)
    assert [r.kind for r in refused] == ["json", "schema", "schema"]
    assert refused[0].original == b"{not json"
    assert refused[0].locator.endswith("feed.jsonl#2")
    assert "body" in refused[1].message


def test_gzipped_files_are_read_through(tmp_path: Path) -> None:
    html = b"<html><body><h1>Zipped</h1><p>A story</p></body></html>"
    (doc,) = read(tmp_path, "page.html.gz", gzip.compress(html))
    assert isinstance(doc, RawDocument)
    assert doc.content_type == "text/html"
    assert "Zipped" in doc.body
    jsonl = gzip.compress(b'{"title": "T", "body": "B"}\n{"title": "U", "body": "C"}\n')
    assert len([d for d in read(tmp_path, "articles.jsonl.gz", jsonl) if isinstance(d, RawDocument)]) == 2


def test_a_gzip_bomb_is_refused_without_inflating_it_all(tmp_path: Path) -> None:
    bomb = gzip.compress(b"a" * (50 << 20))  # 50 MB of 'a' in ~50 KB
    (refusal,) = read(tmp_path, "bomb.txt.gz", bomb, max_bytes=1 << 20)
    assert isinstance(refusal, Refusal)
    assert refusal.kind == "too-large"


# --- WARC ----------------------------------------------------------------------------------------


def warc_bytes(records: list[tuple[str, str, str, bytes, str]], compress: bool) -> bytes:
    """(url, status, content type, payload, record type) -> a WARC file made with warcio."""
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=compress)
    for url, status, content_type, payload, record_type in records:
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            url,
            record_type,
            payload=io.BytesIO(payload),
            http_headers=headers if record_type == "response" else None,
            warc_headers_dict={"WARC-Date": "2024-03-01T10:00:00Z"},
        )
        writer.write_record(record)
    return out.getvalue()


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_every_html_response_record_of_a_warc_becomes_a_document(tmp_path: Path, name: str) -> None:
    records = [
        (
            "https://news.example/one",
            "200 OK",
            "text/html; charset=utf-8",
            b"<html><p>First story</p></html>",
            "response",
        ),
        ("https://news.example/logo.png", "200 OK", "image/png", b"\x89PNG....", "response"),
        ("https://news.example/old", "301 Moved", "text/html", b"<html>moved</html>", "response"),
        (
            "https://news.example/two",
            "200 OK",
            "text/html; charset=iso-8859-1",
            "<p>Café</p>".encode("latin-1"),
            "response",
        ),
        ("https://news.example/empty", "200 OK", "text/html", b"", "response"),
    ]
    items = read(tmp_path, name, warc_bytes(records, compress=name.endswith(".gz")))
    docs = [i for i in items if isinstance(i, RawDocument)]
    assert [d.url for d in docs] == ["https://news.example/one", "https://news.example/two"]
    assert all(d.fetched_at == datetime(2024, 3, 1, 10, tzinfo=UTC) for d in docs)
    assert all(d.content_type == "text/html" for d in docs)
    assert "Café" in docs[1].body
    (refusal,) = [i for i in items if isinstance(i, Refusal)]
    assert refusal.kind == "empty"


def test_a_file_that_is_not_a_warc_is_refused(tmp_path: Path) -> None:
    (refusal,) = read(tmp_path, "broken.warc", b"this is not an archive at all\n" * 10)
    assert isinstance(refusal, Refusal)
    assert refusal.kind == "warc"
    assert refusal.original.startswith(b"this is not")
