"""Found by the fault run (bench/chaos.py): a SIGKILLed parse left its extraction workers running, orphaned.

Now each worker of parse and of enrich exits when the service that started it is gone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

PARSE_WITH_A_POOL = """
import asyncio, multiprocessing
from newsflow_common.pool import WorkerPool

async def main() -> None:
    pool = WorkerPool(len, timeout=60, workers=2)
    await pool.warm_up()
    assert await pool.run("four") == 4
    print(*(process.pid for process in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""

ENRICH_WITH_A_POOL = """
import asyncio, multiprocessing
from newsflow_enrich.service import analysis_pool

async def main() -> None:
    pool = analysis_pool(workers=2)
    await pool.warm_up()
    print(*(process.pid for process in multiprocessing.active_children()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("service", [PARSE_WITH_A_POOL, ENRICH_WITH_A_POOL], ids=["parse", "enrich"])
def test_pool_workers_exit_when_their_service_is_sigkilled(service: str) -> None:
    process = subprocess.Popen([sys.executable, "-c", service], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    workers = [int(pid) for pid in process.stdout.readline().split()]
    assert len(workers) == 2
    assert all(running(pid) for pid in workers)
    process.kill()  # no chance to shut the pool down
    process.wait()
    deadline = time.monotonic() + 15
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if running(pid)], "pool workers outlived the SIGKILLed service"


def test_a_worker_that_starts_after_its_service_died_exits_at_once() -> None:
    # The service's pid is not this process's parent any more (it was re-parented while still importing).
    late_worker = "from newsflow_common.lifecycle import exit_with_parent as e; e(1); import time; time.sleep(60)"
    finished = subprocess.run([sys.executable, "-c", late_worker], timeout=20, check=False)
    assert finished.returncode == 0
