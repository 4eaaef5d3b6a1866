"""Every service stops within 5 s of SIGTERM in any state: here, while it cannot reach its broker.

``docker compose stop`` sends SIGTERM and waits its timeout before a SIGKILL; a service that ignored the signal
while connecting held every stop for that long. No server is needed: the broker address leads nowhere.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
DAEMONS = [["newsflow-parse"], ["newsflow-enrich"], ["newsflow-index"], ["newsflow-ingest", "--links"]]


@pytest.mark.parametrize("command", DAEMONS, ids=" ".join)
def test_a_service_still_connecting_stops_within_five_seconds_of_sigterm(command: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # nothing listens on the discard port
        "NEWSFLOW_HTTP_PORT": "0",
        "NEWSFLOW_WORKERS": "1",
        "NEWSFLOW_STATE_DIR": str(tmp_path),
    }
    process = subprocess.Popen([str(BIN / command[0]), *command[1:]], env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60  # started: it logs its first failed connection attempt
        while b"connect" not in (line := process.stderr.readline() if process.stderr else b"").lower():
            assert line or process.poll() is None, "the service exited before trying to connect"
            assert time.monotonic() < deadline, "the service never tried to connect"
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        process.wait(timeout=30)
        assert time.monotonic() - sent < 5.0
        assert process.returncode is not None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
