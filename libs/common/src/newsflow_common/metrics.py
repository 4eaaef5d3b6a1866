"""Prometheus counters every stage keeps: in, out, errors by kind, DLQ by reason."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

OTHER = "other"


class SourceLabels:
    """The source names a metric may carry as a label value: the configured ones; any other counts as 'other'.

    A source name comes with every pushed document; each new label value would add series for good (300
    names once added 1,200). Configured: NEWSFLOW_METRIC_SOURCES (comma-separated, read by every service),
    and whatever a service knows from its own configuration (ingest: its files source, 'api', the feeds).
    """

    def __init__(self) -> None:
        self._names = {"unknown"}  # what a stage counts for a record that names no source
        self.allow(*os.environ.get("NEWSFLOW_METRIC_SOURCES", "").split(","))

    def allow(self, *names: str) -> None:
        self._names.update(name.strip() for name in names if name.strip())

    def __call__(self, name: str) -> str:
        return name if name in self._names else OTHER


SOURCE_LABELS = SourceLabels()


class SourceBoundedCounter:
    """A Counter whose ``source`` label only takes configured names (SOURCE_LABELS); used like a Counter."""

    def __init__(self, name: str, documentation: str, labelnames: list[str]) -> None:
        self.metric = Counter(name, documentation, labelnames)
        self._position = labelnames.index("source")

    def labels(self, *values: str) -> Any:
        bounded = list(values)
        bounded[self._position] = SOURCE_LABELS(bounded[self._position])
        return self.metric.labels(*bounded)


MESSAGES_IN = Counter("newsflow_messages_in_total", "Messages or documents taken in", ["service", "topic"])
MESSAGES_OUT = Counter("newsflow_messages_out_total", "Messages produced or documents indexed", ["service", "topic"])
ERRORS = Counter("newsflow_errors_total", "Failures by kind, retried or dead-lettered", ["service", "kind"])
DEAD_LETTERS = Counter("newsflow_dead_letters_total", "Messages sent to a DLQ", ["service", "topic", "kind"])
RETRIES = Counter("newsflow_retries_total", "Retries of a transient failure", ["service", "operation"])
PROCESSING_SECONDS = Histogram(
    "newsflow_record_processing_seconds",
    "Time to process one record, in every stage: its batch's time (transforms, outputs and acks, dead letters, "
    "state) divided by the batch's records",
    ["service"],
)
HEALTHY = Gauge("newsflow_healthy", "1 when the service is healthy, 0 when degraded", ["service"])

# The Prometheus side of the completeness ledger: one increment per input where its fate is decided.
# Sources are bounded to configured names (a feed, a folder), so the label set stays bounded.
LEDGER = SourceBoundedCounter(
    "newsflow_ledger_total",
    "Inputs by stage, source (configured names, else 'other') and outcome "
    "(out, sent, seen-before, indexed, stale, refused:<kind>, dead-letter:<kind>)",
    ["stage", "source", "outcome"],
)
CONSUMER_LAG = Gauge(
    "newsflow_consumer_lag_records",
    "Records behind the partition's end after the last commit (highwater minus committed offset)",
    ["service", "topic", "partition"],
)
BATCH_SIZE = Histogram(
    "newsflow_batch_records",
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
