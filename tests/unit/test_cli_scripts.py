"""Every operator and analyst command answers --help and --version at once, without a reachable broker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
UNREACHABLE = {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "NEWSFLOW_ELASTICSEARCH_URL": "http://127.0.0.1:9"}
COMMANDS = [
    ["newsflow"],
    ["newsflow", "status"],
    ["newsflow", "dlq"],
    ["newsflow", "dlq", "replay"],
    ["newsflow", "query", "trending"],
    ["newsflow-dlq"],
    ["newsflow-topics"],
    ["newsflow-es-setup"],
    ["newsflow-query"],
    ["newsflow-api"],
    ["newsflow-ingest"],
    ["newsflow-parse"],
    ["newsflow-enrich"],
    ["newsflow-index"],
]
SECONDS = 20.0  # an import of the Kafka and Elasticsearch clients on a busy two-core machine; a connect never ends


def run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(BIN / args[0]), *args[1:]]
    env = {**os.environ, **UNREACHABLE}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=SECONDS, check=False)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_answers_at_once_and_lists_the_environment(command: list[str]) -> None:
    started = time.monotonic()
    done = run(*command, "--help")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < SECONDS
    assert "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS" in done.stdout or "NEWSFLOW_ELASTICSEARCH_URL" in done.stdout
    assert "``" not in done.stdout
    assert "usage:" in done.stdout


@pytest.mark.parametrize("command", [c for c in COMMANDS if len(c) == 1], ids=" ".join)
def test_version_names_the_command_and_its_release(command: list[str]) -> None:
    done = run(*command, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{command[0]} 0.1.0"


def test_the_operator_entry_point_lists_its_commands_with_what_they_do() -> None:
    out = run("newsflow", "--help").stdout
    for name in ("status", "ledger", "check", "dlq", "topics", "es-setup", "query"):
        assert any(line.split()[:1] == [name] and len(line.split()) > 1 for line in out.splitlines()), name


def test_metavars_read_as_words() -> None:
    out = run("newsflow", "status", "--help").stdout
    assert "--interval SECONDS" in out
    assert "--service NAME=URL" in out
    assert "(default: 1.0)" in out
    assert "INTERVAL" not in out
