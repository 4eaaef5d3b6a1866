"""What ingest reads from files, how it decodes them, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow_common.dlq import Rejected
from newsflow_ingest.files import decode_text, find_files, raw_document
from tests.conftest import SAMPLE


def document(tmp_path: Path, name: str, data: bytes, max_bytes: int = 1 << 20):
    path = tmp_path / name
    path.write_bytes(data)
    return raw_document(data, path=path, source="test", max_bytes=max_bytes)


def test_sample_becomes_a_plain_text_document_with_a_stable_id(tmp_path):
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
def test_empty_and_binary_files_are_refused_with_a_reason(data, kind):
    with pytest.raises(Rejected) as refused:
        decode_text(data)
    assert refused.value.kind == kind


def test_charset_is_detected_not_assumed(tmp_path):
    text = "Le président a déclaré à Paris qu’il était très préoccupé par la crise économique. " * 5
    doc = document(tmp_path, "article.txt", text.encode("cp1252"))
    assert doc.body == text
    assert doc.charset.lower().replace("_", "-") in {"cp1252", "windows-1252", "latin-1", "iso-8859-1"}


def test_html_is_sniffed_even_under_a_txt_name(tmp_path):
    doc = document(tmp_path, "page.txt", b"<!DOCTYPE html><html><body><p>Hello</p></body></html>")
    assert doc.content_type == "text/html"


def test_oversized_file_is_refused(tmp_path):
    with pytest.raises(Rejected) as refused:
        document(tmp_path, "big.txt", b"a" * 2000, max_bytes=1000)
    assert refused.value.kind == "too-large"


def test_folders_are_walked_for_supported_files_only(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ("a.txt", "sub/b.html", "sub/c.HTM", "notes.md", "image.png"):
        (tmp_path / name).write_text("x")
    found = [p.relative_to(tmp_path).as_posix() for p in find_files([tmp_path])]
    assert found == ["a.txt", "sub/b.html", "sub/c.HTM"]
