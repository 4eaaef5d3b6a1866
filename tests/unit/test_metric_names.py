"""Metric names say their unit (Prometheus naming): a reader of a dashboard never guesses what a number counts."""

from __future__ import annotations

from prometheus_client import REGISTRY

import newsflow_common.metrics  # noqa: F401  (each import registers its metrics)
import newsflow_enrich.metrics  # noqa: F401
import newsflow_index.metrics  # noqa: F401
import newsflow_ingest.metrics  # noqa: F401
import newsflow_parse.metrics  # noqa: F401

UNITS = ("_total", "_seconds", "_records", "_bytes", "_ratio", "_info")


def test_every_newsflow_metric_name_ends_in_its_unit() -> None:
    names = {  # prometheus_client names a counter without its _total; its samples carry it
        metric.name + ("_total" if metric.type == "counter" else "")
        for metric in REGISTRY.collect()
        if metric.name.startswith("newsflow_")
    }
    assert names
    unitless = {name for name in names if not name.endswith(UNITS) and name != "newsflow_healthy"}
    assert unitless == set()
