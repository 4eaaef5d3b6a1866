"""Found by the fault run (bench/chaos.py): a SIGKILLed parse left its extraction workers running, orphaned.

Now each worker exits when the service that started it is gone.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

PARSE_WITH_A_POOL = """
import asyncio
from newsflow_parse.pool import WorkerPool

async def main() -> None:
    pool = WorkerPool(len, timeout=60, workers=2)
    assert await pool.run("four") == 4
    print(*(process.pid for process in pool._executor._processes.values()), flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_parse_workers_exit_when_parse_is_sigkilled() -> None:
    parse = subprocess.Popen([sys.executable, "-c", PARSE_WITH_A_POOL], stdout=subprocess.PIPE, text=True)
    assert parse.stdout is not None
    workers = [int(pid) for pid in parse.stdout.readline().split()]
    assert len(workers) == 2
    assert all(running(pid) for pid in workers)
    parse.kill()  # no chance to shut the pool down
    parse.wait()
    deadline = time.monotonic() + 15
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in workers if running(pid)], "extraction workers outlived the SIGKILLed parse"
