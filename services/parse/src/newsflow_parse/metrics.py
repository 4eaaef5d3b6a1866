"""Parse's own counters, beside the common in/out/errors: how articles were extracted, how many listings."""

from __future__ import annotations

from prometheus_client import Counter

ARTICLES_BY_EXTRACTOR = Counter(
    "newsflow_parse_articles_total",
    "Articles extracted, by extractor (a rise of 'readability' or 'feed' says why)",
    ["extractor"],
)
LISTING_PAGES = Counter(
    "newsflow_parse_listing_pages_total", "Pages recognised as listings; their links went to ingest"
)
