"""What the doors cost when nothing gets in: gzip bombs at the push API, and watch mode over an idle folder.

    uv run python bench/doors.py [--bombs 4] [--files 5000] [--idle 20]

No dataset and no Kafka needed (documents go to a producer that drops them). Each figure is printed
next to a baseline measured in the same run:

- four unauthenticated gzip bombs (1 MB on the wire, 1 GiB inflated each): the CPU the API spends
  refusing them when its handler inflates bodies after auth, against aiohttp inflating every body as
  it arrives (the API before: it drained and inflated the unread body of each 401);
- watch mode over N unchanged files: CPU per second of idling with inotify and with forced polling,
  against listing and re-hashing every file every 2 s (the watch before).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, web

from newsflow_common.lifecycle import wait_or_stop
from newsflow_common.logs import configure_logging
from newsflow_ingest.api import SERVER_OPTIONS, PushApi
from newsflow_ingest.files import find_files
from newsflow_ingest.ingestor import Ingestor, watch_folder
from newsflow_ingest.seen import SeenStore
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.ssrf import Guard

TOKEN = "bench-token-0001"


class DroppingProducer:
    """Kafka's stand-in here: counts what it is given, and says when ``expected`` documents came."""

    def __init__(self, expected: int = 0) -> None:
        self.sent = 0
        self.expected = expected
        self.all_sent = asyncio.Event()

    async def send_and_wait(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1
        if self.sent >= self.expected:
            self.all_sent.set()


async def bombs_cpu(count: int, server_options: dict[str, Any], bomb: bytes) -> tuple[float, float, list[int]]:
    """(CPU seconds, wall seconds, statuses) of ``count`` unauthenticated gzip bombs posted at once."""
    seen = SeenStore.open(Path(tempfile.mkdtemp()))
    ingestor = Ingestor(IngestSettings(), DroppingProducer(), seen)  # type: ignore[arg-type]
    api = PushApi(ingestor, Guard([]), TOKEN, 16 << 20, 5)
    runner = web.AppRunner(api.app(), access_log=None, **server_options)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/documents"
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    cpu, wall = time.process_time(), time.monotonic()
    async with ClientSession() as session:

        async def one() -> int:
            async with session.post(url, data=bomb, headers=headers) as response:
                return response.status

        statuses = list(await asyncio.gather(*(one() for _ in range(count))))
        await runner.cleanup()  # includes what the server still does with the bodies
    seen.close()
    return time.process_time() - cpu, time.monotonic() - wall, statuses


async def rehash_poll(folder: Path, stop: asyncio.Event) -> None:
    """The watch before: list the folder and hash every file, every 2 s."""
    while not stop.is_set():
        for path in await asyncio.to_thread(lambda: list(find_files([folder]))):
            await asyncio.to_thread(lambda path=path: hashlib.sha256(Path(str(path)).read_bytes()).hexdigest())
        await wait_or_stop(stop, 2.0)


async def idle_cpu(folder: Path, files: int, idle: float, how: str) -> float:
    """CPU seconds per second of watching ``folder`` once every file was taken in."""
    producer = DroppingProducer(expected=files)
    ingestor = Ingestor(IngestSettings(watch_force_polling=how == "polling"), producer, bulk=True)  # type: ignore[arg-type]
    seen = SeenStore.open(Path(tempfile.mkdtemp()))
    stop = asyncio.Event()
    if how == "re-hash":
        task = asyncio.create_task(rehash_poll(folder, stop))
    else:
        task = asyncio.create_task(watch_folder(ingestor, seen, folder, stop))
        await asyncio.wait_for(producer.all_sent.wait(), 300)
    await asyncio.sleep(1.0)
    cpu = time.process_time()
    await asyncio.sleep(idle)
    used = time.process_time() - cpu
    stop.set()
    await task
    seen.close()
    return used / idle


async def main(args: argparse.Namespace) -> None:
    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=9)
    ours = await bombs_cpu(args.bombs, SERVER_OPTIONS, bomb)
    before = await bombs_cpu(args.bombs, {}, bomb)
    print(f"{args.bombs} unauthenticated gzip bombs ({len(bomb) / 1e6:.1f} MB each, 1 GiB inflated)")
    print(f"  handler inflates after auth    {ours[0]:6.2f} s CPU  {ours[1]:6.2f} s wall  statuses {ours[2]}")
    print(f"  aiohttp inflates (before)      {before[0]:6.2f} s CPU  {before[1]:6.2f} s wall  statuses {before[2]}")

    folder = Path(tempfile.mkdtemp())
    for n in range(args.files):
        (folder / f"{n:06}.html").write_bytes(b"<p>" + (b"%06d " % n) * 900 + b"</p>")
    print(f"watch mode over {args.files} unchanged files (5.4 KB), {args.idle:.0f} s idle")
    for how in ("inotify", "polling", "re-hash"):
        share = await idle_cpu(folder, args.files, args.idle, how)
        label = {
            "inotify": "inotify (watchfiles)",
            "polling": "forced polling (stat)",
            "re-hash": "re-hash every 2 s (before)",
        }
        print(f"  {label[how]:30} {share * 1000:6.1f} ms CPU per second")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bombs", type=int, default=4)
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--idle", type=float, default=20.0)
    configure_logging("bench", "WARNING")
    asyncio.run(main(parser.parse_args()))
