"""newsflow-parse-file: files or stdin (HTML, text dump, WARC) to one Article JSON per line."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders  # type: ignore[import-untyped]
from warcio.warcwriter import WARCWriter  # type: ignore[import-untyped]

from newsflow_schemas import Article

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "newsflow-parse-file"
SAMPLE = ROOT / "samples" / "listing-page-asia.txt"
PARAGRAPHS = "".join(
    f"<p>{text}</p>"
    for text in [
        "The harbour bridge reopened to traffic on Friday morning, two years after engineers closed it when cracks "
        "were found in two of its steel supports.",
        "About forty thousand vehicles crossed the bridge every day before it was closed, and the detour through the "
        "old town had added half an hour to many commutes.",
    ]
)
HTML = f"<html><head><title>Bridge reopens | Example</title></head><body><article><h1>Bridge reopens after repairs</h1>{PARAGRAPHS}</article></body></html>"  # noqa: E501


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(CLI), *args], input=stdin, capture_output=True, timeout=120, check=False)


def articles(output: bytes) -> list[Article]:
    return [Article.model_validate_json(line) for line in output.splitlines() if line.strip()]


def test_a_text_dump_prints_one_article_per_story() -> None:
    result = run(str(SAMPLE))
    assert result.returncode == 0, result.stderr.decode()
    found = articles(result.stdout)
    assert len(found) == 4
    assert {a.section for a in found} == {"ASIA"}
    assert [a.position.index if a.position else None for a in found] == [0, 1, 2, 3]


def test_html_from_stdin_with_its_url(tmp_path: Path) -> None:
    result = run("-", "--url", "https://example.com/2024/12/27/bridge?utm_source=x", stdin=HTML.encode())
    assert result.returncode == 0, result.stderr.decode()
    [article] = articles(result.stdout)
    assert article.title == "Bridge reopens after repairs"
    assert article.canonical_url == "https://example.com/2024/12/27/bridge"
    assert article.published_at_source == "url"


def test_each_response_of_a_warc_is_a_document(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    for k in range(2):
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        page = HTML.replace("Bridge reopens after repairs", f"Bridge {k} reopens after repairs").encode()
        record = writer.create_warc_record(
            f"https://example.com/news/bridge-{k}", "response", payload=io.BytesIO(page), http_headers=headers
        )
        writer.write_record(record)
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(buffer.getvalue())
    result = run(str(path))
    assert result.returncode == 0, result.stderr.decode()
    found = articles(result.stdout)
    assert [(a.title, a.url) for a in found] == [
        (f"Bridge {k} reopens after repairs", f"https://example.com/news/bridge-{k}") for k in range(2)
    ]


def test_a_rejected_document_is_reported_with_its_reason(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_text("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    result = run(str(empty), str(SAMPLE))
    assert result.returncode == 1
    assert "rejected (no-article)" in result.stderr.decode()
    assert len(articles(result.stdout)) == 4  # the other file still parsed


# --- the same reader as the pipeline -------------------------------------------------------------


def through_the_pipeline(path: Path, source: str) -> list[Article]:
    """What ingest sends for the file (its reader), parsed as the parse service parses it."""
    from newsflow_ingest.files import read_file
    from newsflow_parse.extract import extract
    from newsflow_schemas import RawDocument

    found: list[Article] = []
    for item in read_file(path, source=source, max_bytes=5 * 1024 * 1024):
        assert isinstance(item, RawDocument), item
        found += [out for out in extract(item) if isinstance(out, Article)]
    return found


def same_article(article: Article) -> tuple[object, ...]:
    return (article.doc_id, article.article_id, article.title, article.body, article.canonical_url)


def test_a_file_gives_the_doc_id_and_articles_the_pipeline_gives(tmp_path: Path) -> None:
    """A windows-1251 page with no charset in its markup: decoded and identified as ingest does it."""
    page = tmp_path / "novosti.html"
    russian = "Мост через гавань снова открыт для движения после двух лет ремонта опор и пролётов. " * 6
    page.write_bytes(HTML.replace(PARAGRAPHS, f"<p>{russian}</p>{PARAGRAPHS}").encode("cp1251", "replace"))
    dump = tmp_path / "listing.txt"
    dump.write_bytes(SAMPLE.read_bytes())
    for path in (page, dump):
        result = run(str(path), "--source", "archive")
        assert result.returncode == 0, result.stderr.decode()
        assert [same_article(a) for a in articles(result.stdout)] == [
            same_article(a) for a in through_the_pipeline(path, "archive")
        ]


def test_the_default_source_is_the_one_ingest_stamps_on_files(tmp_path: Path) -> None:
    page = tmp_path / "bridge.html"
    page.write_text(HTML)
    result = run(str(page))
    [article] = articles(result.stdout)
    assert (article.source, article.doc_id) == ("files", through_the_pipeline(page, "files")[0].doc_id)


def test_a_file_ingest_refuses_is_reported_with_the_refusal(tmp_path: Path) -> None:
    pdf = tmp_path / "story.html"
    pdf.write_bytes(b"%PDF-1.7 not a page")
    result = run(str(pdf), str(SAMPLE))
    assert result.returncode == 1
    assert "refused (binary)" in result.stderr.decode()
    assert len(articles(result.stdout)) == 4
