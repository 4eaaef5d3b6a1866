"""What the index service counts beyond the common in/out/errors."""

from __future__ import annotations

from prometheus_client import Counter

STALE_VERSIONS = Counter(
    "newsflow_index_stale_versions_total",
    "Article versions older than the one already indexed, left out (replays, re-deliveries)",
    ["service"],
)
