"""The files door: nothing outside the folder given is read, special files never hang a run, one size cap,
and whatever one file holds, it is sent or refused with its reason while the run goes on."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import os
import socket
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsflow_ingest.documents import Refusal
from newsflow_ingest.files import find_files, read_file
from newsflow_ingest.ingestor import Ingestor, watch_folder
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import RawDocument

SECRET = b"root:$6$saltsalt$secret-password-hash:19000:0:99999:7:::\n"
UTF16_LONE_SURROGATE = codecs.BOM_UTF16_LE + b"\x00\xd8\x41\x00\x42\x00"  # 8 bytes: BOM, a lone high surrogate, "AB"


class RecordingProducer:
    """Kafka's side of a unit test: what would have been produced, by topic."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        self.sent.append((topic, json.loads(value)))

    def on(self, topic: str) -> list[dict[str, Any]]:
        return [value for sent_to, value in self.sent if sent_to == topic]


def ingestor(**overrides: Any) -> tuple[Ingestor, RecordingProducer]:
    producer = RecordingProducer()
    settings = IngestSettings(source_name="door", **overrides)
    return Ingestor(settings, producer, bulk=True), producer  # type: ignore[arg-type]


def run(paths: list[Path], **overrides: Any) -> RecordingProducer:
    door, producer = ingestor(**overrides)
    asyncio.run(asyncio.wait_for(door.ingest_all(paths), 30))
    return producer


def page(n: int) -> bytes:
    return f"<html><head><title>Story {n}</title></head><body><p>Story number {n}.</p></body></html>".encode()


def test_a_symlink_out_of_the_folder_is_not_followed_and_is_dead_lettered(tmp_path: Path) -> None:
    outside = tmp_path / "etc" / "shadow.txt"
    outside.parent.mkdir()
    outside.write_bytes(SECRET)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "story.txt").write_bytes(page(1))
    (inbox / "shadow.txt").symlink_to(outside)
    (inbox / "etc-dir").symlink_to(outside.parent)
    producer = run([inbox])
    assert [raw["uri"].rsplit("/", 1)[-1] for raw in producer.on("news.raw.v1")] == ["story.txt"]
    letters = producer.on("news.raw.v1.dlq")
    assert sorted(letter["error_kind"] for letter in letters) == ["symlink", "symlink"]
    assert {letter["source"] for letter in letters} == {(inbox / "shadow.txt").as_uri(), (inbox / "etc-dir").as_uri()}
    assert b"secret-password-hash" not in json.dumps(producer.sent).encode()


def test_a_symlink_inside_the_folder_is_followed(tmp_path: Path) -> None:
    (tmp_path / "2024").mkdir()
    (tmp_path / "2024" / "story.html").write_bytes(page(1))
    (tmp_path / "latest.html").symlink_to(tmp_path / "2024" / "story.html")
    producer = run([tmp_path])
    assert len(producer.on("news.raw.v1")) == 2
    assert producer.on("news.raw.v1.dlq") == []


@pytest.mark.parametrize("named", [True, False], ids=["named-on-the-command-line", "in-a-folder"])
def test_a_fifo_is_skipped_with_a_reason_and_does_not_hang_the_run(tmp_path: Path, named: bool) -> None:
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    (tmp_path / "story.html").write_bytes(page(1))
    producer = run([fifo, tmp_path / "story.html"] if named else [tmp_path])
    assert len(producer.on("news.raw.v1")) == 1
    (letter,) = producer.on("news.raw.v1.dlq")
    assert letter["error_kind"] == "not-a-file"
    assert "FIFO" in letter["error_message"]


def test_a_socket_and_a_device_are_skipped_with_a_reason(tmp_path: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "listener.txt"))
    try:
        producer = run([tmp_path / "listener.txt", Path("/dev/zero")])
    finally:
        server.close()
    assert sorted(letter["error_kind"] for letter in producer.on("news.raw.v1.dlq")) == ["not-a-file", "not-a-file"]
    assert producer.on("news.raw.v1") == []


@pytest.mark.parametrize("name", ["big.json", "big.jsonl", "big.html", "big.txt", "big.json.gz"])
def test_one_size_cap_for_every_file_type(tmp_path: Path, name: str) -> None:
    article = {"title": "T", "body": "x" * 3000}
    if name.startswith("big.json"):
        data = json.dumps([article] * 20).encode()
    elif name.endswith("jsonl"):
        data = json.dumps({"title": "T", "body": "x" * 30_000}).encode()  # one line over the cap
    else:
        data = b"<p>" + b"x" * 30_000 + b"</p>"
    if name.endswith(".gz"):
        import gzip

        data = gzip.compress(data)
    path = tmp_path / name
    path.write_bytes(data)
    items = list(read_file(path, source="door", max_bytes=20_000))
    assert [item.kind for item in items if isinstance(item, Refusal)] == ["too-large"]
    assert not [item for item in items if isinstance(item, RawDocument)]


def test_a_jsonl_file_is_read_line_by_line_under_the_cap(tmp_path: Path) -> None:
    """The cap is per article in a JSON lines file: a long file of small articles goes through."""
    lines = [json.dumps({"title": f"T{n}", "body": "b" * 100}) for n in range(500)]
    path = tmp_path / "many.jsonl"
    path.write_text("\n".join(lines))
    items = list(read_file(path, source="door", max_bytes=1000))
    assert len([item for item in items if isinstance(item, RawDocument)]) == 500


def test_the_8_byte_utf16_file_is_refused_and_the_run_goes_on(tmp_path: Path) -> None:
    for n in range(100):
        (tmp_path / f"good-{n:03}.html").write_bytes(page(n))
    (tmp_path / "bad.txt").write_bytes(UTF16_LONE_SURROGATE)
    producer = run([tmp_path])
    assert len(producer.on("news.raw.v1")) == 100
    (letter,) = producer.on("news.raw.v1.dlq")
    assert letter["error_kind"] == "encoding"
    assert letter["source"].endswith("bad.txt")


def test_an_unexpected_error_on_one_file_refuses_that_file_only(tmp_path: Path) -> None:
    (tmp_path / "good.html").write_bytes(page(1))
    (tmp_path / "bad.warc").write_bytes(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: x\r\n\r\n")
    producer = run([tmp_path])
    assert len(producer.on("news.raw.v1")) == 1
    (letter,) = producer.on("news.raw.v1.dlq")
    assert letter["error_message"]


def test_the_refusals_are_counted_by_reason(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(UTF16_LONE_SURROGATE)
    (tmp_path / "b.txt").write_bytes(b"")
    door, _ = ingestor()
    counts = asyncio.run(door.ingest_all([tmp_path]))
    assert counts.refused == {"encoding": 1, "empty": 1}


# --- watch mode ----------------------------------------------------------------------------------


async def wait_until(condition: Any, seconds: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


Watch = asyncio.Task[None]


@contextlib.asynccontextmanager
async def watching(
    inbox: Path, state: Path, **settings: Any
) -> AsyncIterator[tuple[RecordingProducer, asyncio.Task[None]]]:
    """watch_folder over ``inbox`` with a recording producer, until the block ends (then stopped cleanly)."""
    door, producer = ingestor(**settings)
    seen = SeenStore.open(state)
    stop = asyncio.Event()
    task = asyncio.create_task(watch_folder(door, seen, inbox, stop))
    try:
        yield producer, task
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)
        seen.close()


@pytest.mark.parametrize("force_polling", [False, True], ids=["inotify", "polling"])
def test_watch_mode_survives_a_bad_file_and_ingests_each_change_once(tmp_path: Path, force_polling: bool) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "before.html").write_bytes(page(0))

    async def scenario() -> RecordingProducer:
        async with watching(inbox, tmp_path / "state", watch_force_polling=force_polling, poll_seconds=0.1) as (
            producer,
            task,
        ):
            await wait_until(lambda: len(producer.on("news.raw.v1")) == 1)
            (inbox / "bad.txt").write_bytes(UTF16_LONE_SURROGATE)
            await wait_until(lambda: len(producer.on("news.raw.v1.dlq")) == 1)
            (inbox / "after.html").write_bytes(page(1))
            await wait_until(lambda: len(producer.on("news.raw.v1")) == 2)
            (inbox / "after.html").write_bytes(page(2))  # changed within the second, same size: a new version
            await wait_until(lambda: len(producer.on("news.raw.v1")) == 3)
            assert not task.done()
        return producer

    producer = asyncio.run(scenario())
    assert len(producer.on("news.raw.v1")) == 3  # before, after, after changed: each once


@pytest.mark.parametrize("force_polling", [False, True], ids=["inotify", "polling"])
def test_a_file_arriving_while_the_watch_starts_is_not_missed(
    tmp_path: Path, force_polling: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by CI: files written just after start-up were never sent. The start-up scan had listed the folder
    before they came, and the watch (inotify, or the polling's first look) began after they came."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "before.html").write_bytes(page(0))

    def listing_then_a_file_arrives(paths: list[Path]) -> list[Path | Refusal]:
        listed = list(find_files(paths))
        (inbox / "late.html").write_bytes(page(1))
        return listed

    monkeypatch.setattr("newsflow_ingest.ingestor.find_files", listing_then_a_file_arrives)

    async def scenario() -> int:
        async with watching(inbox, tmp_path / "state", watch_force_polling=force_polling, poll_seconds=0.1) as (
            producer,
            _,
        ):
            await wait_until(lambda: len(producer.on("news.raw.v1")) == 2, seconds=10)
        return len(producer.on("news.raw.v1"))

    assert asyncio.run(scenario()) == 2


def test_watch_mode_does_not_send_again_after_a_restart(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "a.html").write_bytes(page(0))

    async def one_run() -> int:
        async with watching(tmp_path / "inbox", tmp_path / "state") as (producer, _):
            await asyncio.sleep(1.0)  # a restart that finds nothing new must send nothing: no condition to wait on
        return len(producer.on("news.raw.v1"))

    assert asyncio.run(one_run()) == 1
    assert asyncio.run(one_run()) == 0


# --- every file ends somewhere -------------------------------------------------------------------

NAMES = st.sampled_from(["a.txt", "b.html", "c.htm", "d.json", "e.jsonl", "f.warc", "g.warc.gz", "h.html.gz", "i.md"])
CONTENTS = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.just(UTF16_LONE_SURROGATE),
    st.builds(lambda b: codecs.BOM_UTF16_LE + b, st.binary(max_size=50)),
    st.just(json.dumps([{"title": "T", "body": "B"}, {"x": 1}]).encode()),
    st.just(b"\x1f\x8b\x08\x00garbage"),
)
KINDS = st.sampled_from(["file", "file", "file", "fifo", "symlink-out", "symlink-in", "dir"])


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(files=st.lists(st.tuples(NAMES, CONTENTS, KINDS), min_size=1, max_size=6))
def test_every_file_ends_sent_or_refused_with_a_reason_and_the_run_never_aborts(
    tmp_path_factory: pytest.TempPathFactory, files: list[tuple[str, bytes, str]]
) -> None:
    root = tmp_path_factory.mktemp("gen")
    outside = root / "outside.txt"
    outside.write_bytes(SECRET)
    inbox = root / "inbox"
    inbox.mkdir()
    for n, (name, data, kind) in enumerate(files):
        path = inbox / f"{n}-{name}"
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "symlink-out":
            path.symlink_to(outside)
        elif kind == "dir":
            path.mkdir()
            (path / "inner.txt").write_bytes(data)
        else:
            path.write_bytes(data)
            if kind == "symlink-in":
                (inbox / f"{n}-link-{name}").symlink_to(path)
    supported = list(find_files([inbox]))
    door, producer = ingestor(max_document_bytes=4096)
    done = threading.Event()

    async def ingest() -> None:
        await asyncio.wait_for(door.ingest_all([inbox]), 30)
        done.set()

    asyncio.run(ingest())
    assert done.is_set()
    assert b"secret-password-hash" not in json.dumps(producer.sent).encode()
    sent_or_refused = {raw["uri"] for raw in producer.on("news.raw.v1")} | {
        letter["source"] for letter in producer.on("news.raw.v1.dlq")
    }
    for found in supported:
        locator = found.locator if isinstance(found, Refusal) else found.resolve().as_uri()
        assert any(ended.startswith(locator) for ended in sent_or_refused), locator
