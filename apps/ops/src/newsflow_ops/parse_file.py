"""``newsflow-parse-file``: extract articles from files or stdin as the pipeline does, no Kafka needed.

Reads files and folders through ingest's own reader (HTML, text dumps, JSON/JSON
lines, WARC, and .gz of them), so a file gives the documents, charsets and doc
ids the pipeline gives, then parses them as the parse service does. Prints one
Article JSON per line on stdout; with ``--links``, a listing page's links
(LinkToFetch JSON) too. What ingest refuses or parse rejects is reported on
stderr with its reason, and the exit status is 1.

    newsflow-parse-file page.html --url https://example.com/news/story
    curl -s https://example.com/news/story | newsflow-parse-file - --url https://example.com/news/story
    newsflow-parse-file crawl.warc.gz | jq -r .title
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from newsflow_common.dlq import Rejected
from newsflow_common.logs import configure_logging
from newsflow_common.progress import Progress
from newsflow_ingest.documents import Refusal, new_document
from newsflow_ingest.files import find_files, read_file
from newsflow_ingest.settings import IngestSettings
from newsflow_parse.extract import extract
from newsflow_schemas import Article, RawDocument

STDIN = "stdin"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsflow-parse-file", description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="files or folders to parse; - reads stdin")
    parser.add_argument("--url", help="the page's URL on the web (for canonical URLs and relative links)")
    parser.add_argument("--source", default="files", help="source name on the documents (default: files, as ingest)")
    parser.add_argument("--content-type", help="override the detected type: text/html, text/plain, application/json")
    parser.add_argument("--links", action="store_true", help="also print a listing page's links (LinkToFetch)")
    return parser.parse_args(argv)


def read(args: argparse.Namespace) -> Iterator[RawDocument | Refusal]:
    """What ingest would send for each path (its reader: decoding, doc ids, refusals); stdin as one document."""
    max_bytes = IngestSettings().max_document_bytes
    for path in args.paths:
        if path == "-":
            yield from_stdin(args, max_bytes)
            continue
        if not Path(path).exists():
            raise SystemExit(f"newsflow-parse-file: cannot read {path}: no such file or folder")
        for file in find_files([Path(path)]):
            if isinstance(file, Refusal):  # a link out of the folder: refused, as ingest refuses it
                yield file
            else:
                yield from read_file(file, source=args.source, max_bytes=max_bytes)


def from_stdin(args: argparse.Namespace, max_bytes: int) -> RawDocument | Refusal:
    """stdin as ingest makes a document of bytes (its push API does the same); ingest's reader tells HTML from text."""
    data = sys.stdin.buffer.read()
    media_type = args.content_type or "text/plain"
    try:
        return new_document(
            data, source=args.source, locator=STDIN, uri=STDIN, content_type=media_type, max_bytes=max_bytes
        )
    except Rejected as exc:
        return Refusal(exc.kind, str(exc), data, STDIN)


def documents(args: argparse.Namespace) -> Iterator[RawDocument | Refusal]:
    """The documents, with the URL and content type the command line gives where they say nothing else."""
    for item in read(args):
        if isinstance(item, RawDocument):
            update = {"url": item.url or args.url, "content_type": args.content_type or item.content_type}
            item = item.model_copy(update=update)
        yield item


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging("parse-file", "WARNING")  # log lines to stderr: stdout holds the articles, one JSON each
    failures = 0
    progress = Progress("documents parsed")
    for raw in documents(args):
        if isinstance(raw, Refusal):
            failures += 1
            print(f"{raw.locator}: refused ({raw.kind}): {raw.message}", file=sys.stderr)
            continue
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
