"""Near-duplicates: MinHash signatures over body shingles, an LSH index, and the clusters they form.

The signatures live in a table (the enrich state store's, backed by a changelog topic; a dict in tests),
bounded by count; the LSH index is rebuilt from the table on start, so a restart forgets nothing within the
bound. Every update is keyed by the article's id, so processing an article again changes nothing.
"""

from __future__ import annotations

import base64
import heapq
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasketch import LeanMinHash, MinHash, MinHashLSH  # type: ignore[import-untyped]

NUM_PERM = 128
SHINGLE_WORDS = 3
MAX_WORDS = 20_000
"""Shingles come from the first words only: enough to recognise a story, bounded for 2 MB bodies."""
SCHEME = "affine32"
"""datasketch 2's hashing: 32-bit values, stored as they are."""
_WORD = re.compile(r"\w+")


def shingles(body: str) -> list[bytes]:
    words = _WORD.findall(body.lower())[:MAX_WORDS]
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)]


def signature(body: str) -> str | None:
    """The body's MinHash as text (128 32-bit values, base64), None when it has no words."""
    found = shingles(body)
    if not found:
        return None
    minhash = MinHash(num_perm=NUM_PERM, scheme=SCHEME)
    minhash.update_batch(found)
    return base64.b64encode(minhash.hashvalues.astype("<u4").tobytes()).decode()


def _minhash(sig: str) -> LeanMinHash:
    values = np.frombuffer(base64.b64decode(sig), dtype="<u4")
    return LeanMinHash(seed=1, hashvalues=values, scheme=SCHEME)


@dataclass(frozen=True)
class Match:
    cluster_id: str
    duplicate_of: str | None


class DuplicateIndex:
    """Clusters of near-duplicate articles over a table article_id -> {sig, cluster, dup, at}."""

    def __init__(self, table: MutableMapping[str, Any], threshold: float = 0.5, max_articles: int = 50_000) -> None:
        self.table = table
        self.threshold = threshold
        self.max_articles = max_articles
        self.rebuild()

    def rebuild(self) -> None:
        """The in-memory LSH and age order from the table (on start and after a rebalance)."""
        self._lsh = MinHashLSH(threshold=self.threshold, num_perm=NUM_PERM)
        self._minhashes: dict[str, LeanMinHash] = {}
        self._ages: list[tuple[float, str]] = []  # (when stored, article_id): a heap, oldest first
        for article_id, entry in list(self.table.items()):
            self._remember(article_id, entry)
            self._ages.append((entry["at"], article_id))
        heapq.heapify(self._ages)

    def _remember(self, article_id: str, entry: dict[str, Any]) -> None:
        minhash = _minhash(entry["sig"])
        self._minhashes[article_id] = minhash
        self._lsh.insert(article_id, minhash)

    def __len__(self) -> int:
        return len(self._minhashes)

    def assign(self, article_id: str, sig: str | None) -> Match:
        """The article's cluster: the best earlier match's, else its own; the same answer every time."""
        known = self.table.get(article_id)
        if known is not None:
            return Match(known["cluster"], known["dup"])
        if sig is None:
            return Match(article_id, None)
        minhash = _minhash(sig)
        best, best_score = None, self.threshold
        for candidate in self._lsh.query(minhash):
            score = minhash.jaccard(self._minhashes[candidate])
            if score >= best_score:
                best, best_score = candidate, score
        match = Match(self.table[best]["cluster"], best) if best else Match(article_id, None)
        stored_at = time.time()
        entry = {"sig": sig, "cluster": match.cluster_id, "dup": match.duplicate_of, "at": stored_at}
        self.table[article_id] = entry
        self._remember(article_id, entry)
        heapq.heappush(self._ages, (stored_at, article_id))
        self._evict()
        return match

    def _evict(self) -> None:
        while len(self._minhashes) > self.max_articles:
            _, oldest = heapq.heappop(self._ages)
            if self._minhashes.pop(oldest, None) is not None:
                self._lsh.remove(oldest)
                self.table.pop(oldest, None)
