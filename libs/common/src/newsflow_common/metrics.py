"""Prometheus counters every stage keeps: in, out, errors by kind, DLQ by reason."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_IN = Counter("newsflow_messages_in_total", "Messages or documents taken in", ["service", "topic"])
MESSAGES_OUT = Counter("newsflow_messages_out_total", "Messages produced or documents indexed", ["service", "topic"])
ERRORS = Counter("newsflow_errors_total", "Failures by kind, retried or dead-lettered", ["service", "kind"])
DEAD_LETTERS = Counter("newsflow_dead_letters_total", "Messages sent to a DLQ", ["service", "topic", "kind"])
RETRIES = Counter("newsflow_retries_total", "Retries of a transient failure", ["service", "operation"])
PROCESSING_SECONDS = Histogram("newsflow_processing_seconds", "Time to process one message", ["service"])
HEALTHY = Gauge("newsflow_healthy", "1 when the service is healthy, 0 when degraded", ["service"])

# The Prometheus side of the completeness ledger: one increment per input where its fate is decided.
# Sources are configured names (a feed, a folder), so the label set stays bounded.
LEDGER = Counter(
    "newsflow_ledger_total",
    "Inputs by stage, source and outcome (out, sent, seen-before, indexed, stale, refused:<kind>, dead-letter:<kind>)",
    ["stage", "source", "outcome"],
)
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag",
    "Records behind the partition's end (highwater minus position)",
    ["service", "topic", "partition"],
)
BATCH_SIZE = Histogram(
    "newsflow_batch_size",
    "Records per consumed batch",
    ["service"],
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500),
)
ES_BULK_SECONDS = Histogram(
    "newsflow_es_bulk_seconds",
    "Time until Elasticsearch acknowledged a bulk request, retries included",
    ["service"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
