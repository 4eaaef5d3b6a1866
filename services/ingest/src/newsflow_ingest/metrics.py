"""Ingest's own Prometheus counters, beside newsflow_common.metrics (in, out, errors, dead letters)."""

from __future__ import annotations

from prometheus_client import Counter

from newsflow_common.metrics import SourceBoundedCounter

REFUSED = SourceBoundedCounter(
    "newsflow_ingest_refused_total",
    "Documents, feeds and URLs refused, by source (configured names, else 'other') and reason",
    ["source", "reason"],
)
SKIPPED = SourceBoundedCounter(
    "newsflow_ingest_skipped_total",
    "Seen before with the same content: not sent again, by source (configured names, else 'other') and reason",
    ["source", "reason"],
)
FETCHES = Counter("newsflow_ingest_fetches_total", "HTTP fetches of feeds, sitemaps and pages", ["what", "outcome"])
API_REQUESTS = Counter("newsflow_ingest_api_requests_total", "Push API requests by HTTP status", ["status"])
