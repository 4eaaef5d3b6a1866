"""Near-duplicates: MinHash signatures over body shingles, a banded LSH index, and the clusters they form.

The signature of an article is computed where it is analysed (a worker: :func:`signature`, datasketch's
MinHash values); the state stage keeps the signatures in a table (the enrich state store's, backed by a changelog
topic; a dict in tests), bounded by count, and finds candidates in an in-memory LSH index rebuilt from the
table on start, so a restart forgets nothing within the bound. Every update is keyed by the article's id,
so processing an article again changes nothing.

Neither the MinHash nor the index is datasketch's own, though their values and bands are (tested against
it): importing datasketch imports SciPy for its LSH index's choice of bands, 57 MB in the main process and
47 MB in the workers' forkserver, measured. :func:`signature` is its "affine32" MinHash, :func:`bands_for`
its choice of bands, :class:`BandIndex` its index.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import re
import time
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

NUM_PERM = 128
SHINGLE_WORDS = 3
MAX_WORDS = 20_000
"""Shingles come from the first words only: enough to recognise a story, bounded for 2 MB bodies."""
SHINGLES_PER_UPDATE = 1_000
"""A chunk's shingles are hashed with every permutation at once (4 bytes × 128 each, and temporaries):
20,000 shingles at a time made a worker 60 MB larger for a moment."""
SCHEME = "affine32"
"""datasketch 2's hashing: 32-bit values, stored as they are."""
SEED = 1
"""datasketch's default seed: the permutations, hence the signatures, are those of its MinHash(seed=1)."""
_WORD = re.compile(r"\w+")


def shingles(body: str) -> list[bytes]:
    words = _WORD.findall(body.lower())[:MAX_WORDS]
    if len(words) < SHINGLE_WORDS:
        return [" ".join(words).encode()] if words else []
    return [" ".join(words[i : i + SHINGLE_WORDS]).encode() for i in range(len(words) - SHINGLE_WORDS + 1)]


@cache
def _permutations() -> tuple[np.ndarray[Any, np.dtype[np.uint32]], np.ndarray[Any, np.dtype[np.uint32]]]:
    """The affine maps h -> a*h + b (mod 2^32, `a` odd: a bijection), drawn as datasketch draws them."""
    generator = np.random.RandomState(SEED)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _sha1_32(shingle: bytes) -> int:
    return int.from_bytes(hashlib.sha1(shingle).digest()[:4], "little")


def _fmix32(h: np.ndarray[Any, np.dtype[np.uint32]]) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """MurmurHash3's finalizer, the pre-mix datasketch applies once to each input hash."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(body: str) -> str | None:
    """The body's MinHash as text (128 32-bit values, base64), None when it has no words. Runs in a worker."""
    found = shingles(body)
    if not found:
        return None
    a, b = _permutations()
    values = np.full(NUM_PERM, np.iinfo(np.uint32).max, dtype=np.uint32)
    for start in range(0, len(found), SHINGLES_PER_UPDATE):
        hashed = _fmix32(np.array([_sha1_32(s) for s in found[start : start + SHINGLES_PER_UPDATE]], np.uint32))
        values = np.minimum(values, (hashed[:, None] * a + b).min(axis=0))
    return base64.b64encode(values.astype("<u4").tobytes()).decode()


def hash_values(sig: str) -> np.ndarray[Any, np.dtype[np.uint32]]:
    return np.frombuffer(base64.b64decode(sig), dtype="<u4")


def similarity(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float:
    """The estimated Jaccard similarity of two signatures: the share of equal values."""
    return float(np.count_nonzero(a == b)) / len(a)


@cache
def bands_for(threshold: float, num_perm: int = NUM_PERM) -> tuple[int, int]:
    """(bands, rows per band) minimising false positives below ``threshold`` plus false negatives above it,
    the areas under the LSH's S-curve, equally weighted — the choice datasketch's MinHashLSH makes."""
    below, above = np.linspace(0.0, threshold, 401), np.linspace(threshold, 1.0, 401)
    best, choice = float("inf"), (1, 1)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positives = float(np.trapezoid(1 - (1 - below**rows) ** bands, below))
            false_negatives = float(np.trapezoid((1 - above**rows) ** bands, above))
            if false_positives + false_negatives < best:
                best, choice = false_positives + false_negatives, (bands, rows)
    return choice


class BandIndex:
    """LSH over MinHash signatures: two signatures are candidates when they agree on a whole band."""

    def __init__(self, threshold: float, num_perm: int = NUM_PERM) -> None:
        self.bands, self.rows = bands_for(threshold, num_perm)
        self._buckets: list[dict[bytes, set[str]]] = [{} for _ in range(self.bands)]

    def _keys(self, values: np.ndarray[Any, Any]) -> list[bytes]:
        return [values[b * self.rows : (b + 1) * self.rows].tobytes() for b in range(self.bands)]

    def insert(self, key: str, values: np.ndarray[Any, Any]) -> None:
        for bucket, band in zip(self._buckets, self._keys(values), strict=True):
            bucket.setdefault(band, set()).add(key)

    def remove(self, key: str, values: np.ndarray[Any, Any]) -> None:
        for bucket, band in zip(self._buckets, self._keys(values), strict=True):
            keys = bucket.get(band)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del bucket[band]

    def query(self, values: np.ndarray[Any, Any]) -> set[str]:
        found: set[str] = set()
        for bucket, band in zip(self._buckets, self._keys(values), strict=True):
            found |= bucket.get(band, set())
        return found


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
        self._lsh = BandIndex(self.threshold)
        self._minhashes: dict[str, np.ndarray[Any, Any]] = {}
        self._ages: list[tuple[float, str]] = []  # (when stored, article_id): a heap, oldest first
        for article_id, entry in list(self.table.items()):
            self._remember(article_id, entry)
            self._ages.append((entry["at"], article_id))
        heapq.heapify(self._ages)

    def _remember(self, article_id: str, entry: dict[str, Any]) -> None:
        values = hash_values(entry["sig"])
        self._minhashes[article_id] = values
        self._lsh.insert(article_id, values)

    def __len__(self) -> int:
        return len(self._minhashes)

    def assign(self, article_id: str, sig: str | None) -> Match:
        """The article's cluster: the best earlier match's, else its own; the same answer every time."""
        known = self.table.get(article_id)
        if known is not None:
            return Match(known["cluster"], known["dup"])
        if sig is None:
            return Match(article_id, None)
        values = hash_values(sig)
        best, best_score = None, self.threshold
        for candidate in sorted(self._lsh.query(values)):  # sorted: the same answer whatever the set order
            score = similarity(values, self._minhashes[candidate])
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
            values = self._minhashes.pop(oldest, None)
            if values is not None:
                self._lsh.remove(oldest, values)
                self.table.pop(oldest, None)
