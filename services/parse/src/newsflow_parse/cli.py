"""``newsflow-parse-file`` (or ``newsflow-parse extract``): extract articles from files or stdin, no Kafka needed.

Reads HTML, text dumps, JSON/JSON lines and WARC files (each response record
of a WARC is a document) and prints one Article JSON per line on stdout; with
``--links``, a listing page's links (LinkToFetch JSON) too. What cannot be
parsed is reported on stderr with its reason, and the exit status is 1.

    newsflow-parse-file page.html --url https://example.com/news/story
    curl -s https://example.com/news/story | newsflow-parse-file - --url https://example.com/news/story
    newsflow-parse-file crawl.warc.gz | jq -r .title
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from trafilatura.utils import decode_file
from warcio.archiveiterator import ArchiveIterator  # type: ignore[import-untyped]

from newsflow_common.dlq import Rejected
from newsflow_common.progress import Progress
from newsflow_parse.extract import extract
from newsflow_schemas import Article, RawDocument
from newsflow_schemas.ids import content_id

TYPES_BY_SUFFIX = {
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".txt": "text/plain",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsflow-parse-file", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="files to parse; - reads stdin")
    parser.add_argument("--url", help="the page's URL on the web (for canonical URLs and relative links)")
    parser.add_argument("--source", default="cli", help="source name on the articles (default: cli)")
    parser.add_argument("--content-type", help="override the detected type: text/html, text/plain, application/json")
    parser.add_argument("--links", action="store_true", help="also print a listing page's links (LinkToFetch)")
    return parser.parse_args(argv)


def sniff_type(name: str, data: bytes) -> str:
    """The content type from the file name, else from the first bytes."""
    for suffix, media_type in TYPES_BY_SUFFIX.items():
        if name.lower().endswith(suffix):
            return media_type
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<div", b"<p")):
        return "text/html"
    if head.startswith((b"{", b"[")):
        return "application/json"
    return "text/plain"


def is_warc(name: str, data: bytes) -> bool:
    return name.lower().endswith((".warc", ".warc.gz")) or data.startswith(b"WARC/")


def raw_document(data: bytes, *, uri: str, url: str | None, media_type: str, source: str) -> RawDocument:
    text = decode_file(data)  # charset from the markup, else detected
    doc_id = content_id(source, uri, content_id(text))
    return RawDocument(
        trace_id=doc_id,
        doc_id=doc_id,
        source=source,
        uri=uri,
        url=url,
        content_type=media_type,
        charset="utf-8",
        body=text,
        fetched_at=datetime.now(UTC),
    )


def warc_documents(stream: io.BufferedIOBase | io.BytesIO, uri: str, source: str) -> Iterator[RawDocument]:
    """Each HTTP response record of a WARC, with its target URL and content type."""
    for record in ArchiveIterator(stream):
        if record.rec_type != "response" or record.http_headers is None:
            continue
        url = record.rec_headers.get_header("WARC-Target-URI")
        media_type = (record.http_headers.get_header("Content-Type") or "text/html").split(";")[0].strip()
        yield raw_document(
            record.content_stream().read(), uri=f"{uri}#{url}", url=url, media_type=media_type, source=source
        )


def documents(args: argparse.Namespace) -> Iterator[RawDocument]:
    for path in args.paths:
        try:
            data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        except OSError as exc:
            raise SystemExit(f"newsflow-parse-file: cannot read {path}: {exc.strerror}") from None
        uri = "stdin" if path == "-" else str(Path(path).resolve())
        if is_warc(path, data):
            yield from warc_documents(io.BytesIO(data), uri, args.source)
        else:
            media_type = args.content_type or sniff_type(path, data)
            yield raw_document(data, uri=uri, url=args.url, media_type=media_type, source=args.source)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    failures = 0
    progress = Progress("documents parsed")
    for raw in documents(args):
        try:
            outputs = extract(raw)
        except Rejected as exc:
            failures += 1
            print(f"{raw.uri}: rejected ({exc.kind}): {exc}", file=sys.stderr)
            continue
        for output in outputs:
            if isinstance(output, Article) or args.links:
                print(output.model_dump_json())
        if outputs and not isinstance(outputs[0], Article):
            print(f"{raw.uri}: a listing page, {len(outputs)} article links", file=sys.stderr)
        progress.advance()
    if progress.done > 1:
        progress.finish()
    return 1 if failures else 0


def run() -> None:
    """Console script entry point."""
    sys.exit(main())
