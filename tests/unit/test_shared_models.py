"""Enrich's workers are forked from a forkserver that loaded the models (docs/decisions/014-shared-models.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from newsflow_common.pool import WorkerPool
from newsflow_enrich import jobs

ROLLUP = Path("/proc/self/smaps_rollup")
PRELOAD = [jobs.PRELOAD]  # as analysis_pool()


def own_memory_mb() -> float:
    """In a worker: the memory it does not share with the processes it was forked from (Private_Dirty)."""
    for line in ROLLUP.read_text().splitlines():
        if line.startswith("Private_Dirty:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no Private_Dirty in smaps_rollup")


@pytest.mark.skipif(not ROLLUP.exists(), reason="needs Linux's /proc/self/smaps_rollup")
async def test_a_started_enrich_worker_owns_little_memory_of_its_own() -> None:
    """Loaded in each worker, the models and libraries made 70 MB of a worker's own; shared, about 12."""
    probe = WorkerPool(own_memory_mb, None, 2, initializer=jobs.load_models, preload=PRELOAD)
    try:
        await probe.warm_up()
        owned = await asyncio.gather(probe.run(), probe.run())
    finally:
        probe.close()
    assert max(owned) < 40, f"each worker owns {owned} MB: the models are not shared"
