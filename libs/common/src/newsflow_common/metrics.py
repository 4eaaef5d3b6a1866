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
