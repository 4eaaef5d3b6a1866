"""Files and folders -> RawDocuments: .txt, .html/.htm, .json/.jsonl, .warc/.warc.gz, and .gz of any of them.

A text or HTML file is one document; a JSON, JSONL or WARC file holds many. What cannot be ingested
comes out as a Refusal (with what was read of it) so the caller dead-letters it and moves on: a file
ends sent or refused with its reason, whatever it holds, and the run goes on.

The door: in a folder, a symbolic link is followed only when it leads to a file inside that folder;
FIFOs, sockets and devices are refused without being read (opened non-blocking, so a FIFO cannot
hang a run); every file is read as a stream and refused past NEWSFLOW_MAX_DOCUMENT_BYTES, the one
cap for every type (in a JSON lines or WARC file, for each record).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, cast

from newsflow_common.dlq import MAX_ORIGINAL_BYTES, Rejected
from newsflow_ingest.articles import file_articles, json_line_articles
from newsflow_ingest.documents import Refusal, decode_text, new_document
from newsflow_ingest.warc import warc_documents
from newsflow_schemas import RawDocument

TEXT_TYPES = {".txt": "text/plain", ".html": "text/html", ".htm": "text/html"}
ARTICLE_FILES = {".json": False, ".jsonl": True}
"""Suffix -> one article per line."""
SPECIAL_FILES = {stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}

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


def find_files(paths: Iterable[Path]) -> Iterator[Path | Refusal]:
    """The supported files among ``paths``, folders walked recursively in a stable order, and the refusal
    of every entry of a folder that is not followed: a link leading out of it, or to a folder."""
    for path in paths:
        if path.is_dir():
            yield from walk(path)
        else:
            yield path  # named by the user: read_file still refuses what is not a regular file


def walk(folder: Path, root: Path | None = None) -> Iterator[Path | Refusal]:
    """Every entry of ``folder`` to read or refuse; links are judged against ``root`` (the folder given)."""
    root = (root or folder).resolve()
    entries: list[tuple[Path, Path | Refusal]] = []
    for directory, subdirectories, names in os.walk(folder):  # never descends through a link
        here = Path(directory)
        links_to_folders = [name for name in subdirectories if (here / name).is_symlink()]
        for name in [*names, *links_to_folders]:
            entry = folder_entry(here / name, root)
            if entry is not None:
                entries.append((here / name, entry))
    for _, entry in sorted(entries, key=lambda pair: pair[0]):
        yield entry


def folder_entry(path: Path, root: Path) -> Path | Refusal | None:
    """A file of the folder ``root`` to read, the refusal of a link not followed, or None (not ours)."""
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            return _refusal("symlink", f"{path} links to {target}, outside {root}: not followed", path)
        if target.is_dir():
            return _refusal("symlink", f"{path} links to the folder {target}: not followed (it is walked itself)", path)
    if file_kind(path) is None:
        return None
    return path


def file_digest(path: Path) -> str:
    """The sha256 of a regular file (Rejected for a FIFO, a socket, a device: those are never opened blocking)."""
    digest = hashlib.sha256()
    with open_regular(path) as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def read_file(path: Path, *, source: str, max_bytes: int) -> Iterator[Item]:
    """Every document in a file, or the refusal of what is not ingestible (blocking I/O: run in a thread).

    Never raises for what a file holds: an unexpected error refuses the file, with its type and message.
    """
    produced = False
    try:
        for item in _read_file(path, source=source, max_bytes=max_bytes):
            produced = True
            yield item
    except Exception as exc:
        yield Refusal("unreadable", f"{type(exc).__name__}: {exc}", b"", _locator(path))
        return
    if not produced:
        yield Refusal("empty", "the file holds no document", b"", _locator(path))


def _read_file(path: Path, *, source: str, max_bytes: int) -> Iterator[Item]:
    kind = file_kind(path)
    try:
        stream = open_regular(path)
    except Rejected as exc:
        yield Refusal(exc.kind, str(exc), b"", _locator(path))
        return
    with stream:
        if kind == "warc":
            yield from warc_documents(path, source=source, max_bytes=max_bytes)
        elif kind is not None and ARTICLE_FILES.get(kind):
            lines = _lines(path, stream, max_bytes)
            yield from json_line_articles(lines, source=source, uri=file_uri(path), max_bytes=max_bytes)
        else:
            yield from _whole_file(path, stream, kind, source=source, max_bytes=max_bytes)


def open_regular(path: Path) -> BinaryIO:
    """The file opened for reading, or Rejected('not-a-file') for a FIFO, a socket or a device.

    Opened non-blocking (a FIFO without a writer would block a plain open) and checked on the open
    descriptor, so what is checked is what is read.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:  # a socket cannot be opened at all
        what = _special(path)
        if what is not None:
            raise Rejected("not-a-file", f"{path} is {what}, not a file: not read") from exc
        raise Rejected("unreadable", f"{path}: {exc.strerror or exc}") from exc
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        what = SPECIAL_FILES.get(stat.S_IFMT(mode), "not a regular file")
        raise Rejected("not-a-file", f"{path} is {what}, not a file: not read")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def _special(path: Path) -> str | None:
    try:
        return SPECIAL_FILES.get(stat.S_IFMT(os.stat(path).st_mode))
    except OSError:
        return None


def _whole_file(path: Path, stream: BinaryIO, kind: str | None, *, source: str, max_bytes: int) -> Iterator[Item]:
    """A text, HTML or JSON file: read up to the cap, then one document (or one per article of a JSON array)."""
    try:
        data = _read_capped(path, stream, max_bytes)
    except Rejected as exc:
        stream.seek(0)
        yield Refusal(exc.kind, str(exc), stream.read(MAX_ORIGINAL_BYTES), file_uri(path))
        return
    if kind in ARTICLE_FILES:
        yield from _article_file(data, path=path, source=source, max_bytes=max_bytes)
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


def _inflated(path: Path, stream: BinaryIO) -> BinaryIO:
    """The stream, inflated as it is read when the file is .gz."""
    return cast(BinaryIO, gzip.GzipFile(fileobj=stream, mode="rb")) if path.suffix.lower() == ".gz" else stream


def _read_capped(path: Path, stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes (inflated), read no further than one past it: over it is Rejected('too-large')."""
    try:
        data = _inflated(path, stream).read(limit + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise Rejected("gzip", f"not readable gzip data: {exc}") from exc
    if len(data) > limit:
        raise Rejected("too-large", f"more than {limit} bytes{' once inflated' if path.suffix == '.gz' else ''}")
    return data


def _lines(path: Path, stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes] | Refusal]:
    """(number, bytes) of each line, read one at a time; a line over the cap is refused and skipped."""
    inflated = _inflated(path, stream)
    number = 0
    try:
        while line := inflated.readline(limit + 1):
            number += 1
            if len(line) > limit and not line.endswith(b"\n"):
                while (rest := inflated.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass  # the rest of the oversized line
                yield Refusal(
                    "too-large", f"line {number} is over {limit} bytes", line[:MAX_ORIGINAL_BYTES], f"#{number}"
                )
            elif line.strip():
                yield number, line.rstrip(b"\r\n")
    except (OSError, EOFError, zlib.error) as exc:
        yield Refusal("gzip", f"not readable gzip data after line {number}: {exc}", b"", f"#{number + 1}")


def _article_file(data: bytes, *, path: Path, source: str, max_bytes: int) -> Iterator[Item]:
    try:
        text, _ = decode_text(data)
    except Rejected as exc:
        yield Refusal(exc.kind, str(exc), data, file_uri(path))
        return
    yield from file_articles(text, lines=False, source=source, uri=file_uri(path), max_bytes=max_bytes)


def _locator(path: Path) -> str:
    """A file's name in its dead letter: the path given (a link is named, not its target)."""
    return path.absolute().as_uri()


def _refusal(kind: str, message: str, path: Path) -> Refusal:
    return Refusal(kind, message, b"", _locator(path))
