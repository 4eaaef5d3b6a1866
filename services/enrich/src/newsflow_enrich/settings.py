"""Enrich settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from pydantic import Field

from newsflow_common.settings import Settings


class EnrichSettings(Settings):
    http_port: int = 8003

    batch_size: int = 32
    """Articles taken from the stream at once, at most (what has arrived: a batch never waits to fill)."""
    ner_languages: list[str] = Field(default_factory=lambda: ["en", "fr"])
    """Languages NER reads, among those with a model (en, fr); other articles get language, keywords, facts,
    clusters and trends."""
    ner_lead_chars: int = 1000
    """NER reads at least this much of every article in full; past it, only sentences with new words."""
    ner_max_chars: int = 100_000
    """NER never reads further; longer articles are flagged ner_truncated."""

    dedup_threshold: float = 0.5
    """Estimated Jaccard similarity of body shingles from which an article is a near-duplicate."""
    dedup_max_articles: int = 50_000
    """Signatures kept for duplicate detection (the oldest go first)."""

    trend_windows: str = "3600:900,86400:86400"
    """Window size:step in seconds, comma-separated: 1 hour hopping by 15 minutes, and 1 day."""
    trend_grace_seconds: int = 900
    """How long after its end (in article time) a window waits for late articles."""
    trend_baseline_windows: int = 24
    """Earlier windows of the same size a term's baseline is the mean of."""
    trend_min_stories: int = 2
    """A closed window emits the terms named by at least this many stories (all counts go into the history)."""
    trend_retention_seconds: int = 86400
    """How long (in article time) a closed window's panes are kept after a late article last changed it: late
    articles and backfills within it correct the window; after it the panes are dropped and later articles for
    them are left out (counted in newsflow_enrich_late_articles_total)."""
