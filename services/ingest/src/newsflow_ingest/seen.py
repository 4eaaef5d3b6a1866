"""What the service already ingested, in a sqlite file under NEWSFLOW_STATE_DIR, so it survives a restart.

One table maps a key (a file path, a normalised URL, a feed item, a sitemap entry) to a version
(a content hash, an item's date, a sitemap's lastmod): the same version again is skipped, a new
one is ingested. A second table keeps each feed's ETag / Last-Modified for conditional GETs.
sqlite3 blocks, so every call runs in a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from pathlib import Path

from newsflow_common.logs import get_logger

log = get_logger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, version TEXT NOT NULL, seen_at TEXT DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE IF NOT EXISTS validators (url TEXT PRIMARY KEY, etag TEXT, last_modified TEXT);
"""


class SeenStore:
    """Seen-before state; open with ``SeenStore.open(state_dir)``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)  # autocommit
        self._db.execute("PRAGMA journal_mode=WAL")  # readers (a one-shot run) do not block the service
        self._db.execute("PRAGMA synchronous=NORMAL")  # safe from a crash of the service; no fsync per mark
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, state_dir: Path) -> SeenStore:
        store = cls(state_dir / "seen.sqlite3")
        store._import_seen_files_json(state_dir / "seen-files.json")
        return store

    async def is_seen(self, key: str, version: str) -> bool:
        return await asyncio.to_thread(self._is_seen, key, version)

    async def version(self, key: str) -> str | None:
        """The version last marked for ``key``; None when it was never seen."""
        row = await asyncio.to_thread(self._query, "SELECT version FROM seen WHERE key = ?", key)
        return row[0] if row else None

    async def mark(self, key: str, version: str) -> None:
        await asyncio.to_thread(self._mark, [(key, version)])

    async def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) the feed answered last time."""
        row = await asyncio.to_thread(self._query, "SELECT etag, last_modified FROM validators WHERE url = ?", url)
        return (row[0], row[1]) if row else (None, None)

    async def set_validators(self, url: str, etag: str | None, last_modified: str | None) -> None:
        sql = "INSERT OR REPLACE INTO validators (url, etag, last_modified) VALUES (?, ?, ?)"
        await asyncio.to_thread(self._execute, sql, url, etag, last_modified)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _is_seen(self, key: str, version: str) -> bool:
        row = self._query("SELECT version FROM seen WHERE key = ?", key)
        return row is not None and row[0] == version

    def _mark(self, items: list[tuple[str, str]]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR REPLACE INTO seen (key, version) VALUES (?, ?)", items)

    def _query(self, sql: str, *args: object) -> tuple[str | None, ...] | None:
        with self._lock:
            row: tuple[str | None, ...] | None = self._db.execute(sql, args).fetchone()
            return row

    def _execute(self, sql: str, *args: object) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def _import_seen_files_json(self, legacy: Path) -> None:
        """Watch mode used to keep {path: sha256} in a JSON file: carry it over once."""
        if not legacy.exists():
            return
        seen = json.loads(legacy.read_text())
        self._mark([(f"file:{path}", digest) for path, digest in seen.items()])
        legacy.rename(legacy.with_suffix(".json.imported"))
        log.info("imported seen files", count=len(seen), into=str(self.path))
