"""Prometheus metrics of the enrich stage, beside the common in/out/errors."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DUPLICATES = Counter("newsflow_enrich_duplicates_total", "Articles that joined an earlier story's cluster")
NER_TRUNCATED = Counter("newsflow_enrich_ner_truncated_total", "Articles NER read only a bounded prefix of")
LATE_ARTICLES = Counter(
    "newsflow_enrich_late_articles_total",
    "Articles left out of trends (TrendWindows.count said False): past the retention, or a date no window holds",
)
WINDOWS_CLOSED = Counter("newsflow_enrich_windows_closed_total", "Trend windows closed and emitted", ["window"])
NO_NER = Counter("newsflow_enrich_no_ner_total", "Articles in a language NER does not read", ["language"])
SIGNATURES = Gauge("newsflow_enrich_signatures_records", "MinHash signatures held for duplicate detection")
FUTURE_DATES = Counter(
    "newsflow_enrich_future_dates_clamped_total", "Articles dated after they were received: counted at arrival"
)
LATE_CORRECTIONS = Counter(
    "newsflow_enrich_late_corrections_total", "Late articles that changed a closed trend window: it is emitted again"
)
OUT_OF_RANGE = Counter(
    "newsflow_enrich_trend_dates_out_of_range_total", "Articles left out of trends: their windows cannot be dated"
)
