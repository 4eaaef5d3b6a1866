"""Graceful shutdown: SIGTERM or SIGINT sets an event; the service finishes what it holds and exits.

And the ungraceful end: a worker process exits when the service that started it dies.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path


def shutdown_event() -> asyncio.Event:
    """An event set on SIGTERM/SIGINT; call inside the running loop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when stopping was asked meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def exit_with_parent(service_pid: int, poll_seconds: float = 1.0) -> None:
    """In a worker process (a pool's initializer, ``initargs=(os.getpid(),)``): exit once the service is gone.

    A SIGKILLed service cannot shut its pool down; without this its workers live on, orphaned, holding memory.
    The service's pid comes from the service: a worker still importing when the service died has already been
    handed to another parent, so its own parent at this point would not tell.
    """

    parent = os.getppid()  # the service, or the forkserver it started (which exits with it)
    started_by_service = service_pid in (parent, parent_of(parent))

    def watch() -> None:
        while started_by_service and os.getppid() == parent and alive(service_pid):
            time.sleep(poll_seconds)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def parent_of(pid: int) -> int | None:
    """The parent of a process (Linux's /proc), None when it is gone or unknown."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # there, but not ours to signal
        return True
    return True
