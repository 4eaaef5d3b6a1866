"""The feeds file: which feeds and sitemaps to poll, how often, with which section and language.

feeds:
  - {name: example-world, url: "https://example.com/world/rss.xml", interval: 600, section: World, language: en}
sitemaps:
  - {name: example-news, url: "https://example.com/news-sitemap.xml", interval: 1800}
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class PolledSource(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[\w.-]{1,64}$", description="The source name stamped on its documents.")
    url: str = Field(pattern=r"^https?://\S+$")
    interval: float = Field(default=900.0, ge=1.0, description="Seconds between two polls.")
    section: str | None = None
    language: str | None = Field(default=None, min_length=2, max_length=8)


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    feeds: list[PolledSource] = Field(default_factory=list)
    sitemaps: list[PolledSource] = Field(default_factory=list)


def load_sources(path: Path) -> SourcesFile:
    """Read and validate the feeds file; raises pydantic.ValidationError or OSError with the reason."""
    return SourcesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
