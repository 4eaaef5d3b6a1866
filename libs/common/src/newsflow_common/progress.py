"""A progress line on stderr for long CLI work, at most once a second."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


@dataclass
class Progress:
    label: str
    total: int | None = None
    done: int = 0
    started: float = field(default_factory=time.monotonic)
    _last: float = field(default_factory=time.monotonic)

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= 1.0:
            self._last = now
            # On a terminal the line rewrites itself; in a log file each update is a line.
            self._print(end="\r" if sys.stderr.isatty() else "\n")

    def finish(self) -> None:
        self._print(end="\n")

    def _print(self, end: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        of_total = f"/{self.total}" if self.total is not None else ""
        sys.stderr.write(f"{self.label}: {self.done}{of_total} ({self.done / elapsed:,.0f}/s){end}")
        sys.stderr.flush()
