"""The files door against the stand-in: a run over a folder with bad entries in it sends the good files,
dead-letters every bad one with its reason and locator, and the ledger (`newsflow ledger`) counts them."""

from __future__ import annotations

import codecs
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.harness import BIN
from tests.integration.test_ledger import ledger_json

pytestmark = pytest.mark.integration


def test_a_folder_of_100_good_files_and_bad_entries_sends_100_and_dead_letters_the_rest(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    source = f"door-{uuid.uuid4().hex[:8]}"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for n in range(100):
        (inbox / f"story-{n:03}.html").write_text(f"<html><title>Story {n}</title><p>Story number {n}.</p></html>")
    (inbox / "bad.txt").write_bytes(codecs.BOM_UTF16_LE + b"\x00\xd8\x41\x00\x42\x00")
    os.mkfifo(inbox / "pipe.html")
    (tmp_path / "secret.txt").write_text("not for the pipeline")
    (inbox / "secret.txt").symlink_to(tmp_path / "secret.txt")
    run = subprocess.run(
        [str(BIN / "newsflow-ingest"), "--source", source, str(inbox)],
        env={**os.environ, **service_env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "sent 100 documents" in run.stderr
    totals = ledger_json(service_env, source)["totals"][source]
    assert totals["raw"] == 100
    assert totals["refused"] == {"encoding": 1, "not-a-file": 1, "symlink": 1}
    assert totals["received"] == 103
