"""The topic registry, loaded from topics.yaml beside this file."""

from __future__ import annotations

from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict, Field

from newsflow_schemas import models

RAW = "news.raw.v1"
ARTICLES = "news.articles.v1"
ENRICHED = "news.enriched.v1"
TRENDS = "news.trends.v1"
LINKS = "news.links.v1"
ANALYSED = "news.analysed.v1"


class Topic(BaseModel):
    """One Kafka topic of the public API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    model: str = Field(description="Name of the message model in newsflow_schemas.models.")
    key: str = Field(description="Field of the model used as the Kafka key.")
    partitions: int = Field(ge=1)
    retention_ms: int
    cleanup_policy: str
    dlq: str | None = None
    description: str
    producers: tuple[str, ...] = Field(default=(), description="newsflow services and tools that write it.")
    consumers: tuple[str, ...] = Field(default=(), description="newsflow services and tools that read it.")

    @property
    def model_class(self) -> type[models.Message]:
        cls = getattr(models, self.model)
        if not (isinstance(cls, type) and issubclass(cls, models.Message)):
            raise TypeError(f"topic {self.name}: {self.model} is not a message model")
        return cls

    def kafka_config(self) -> dict[str, str]:
        """Topic-level configs for topic creation."""
        return {"cleanup.policy": self.cleanup_policy, "retention.ms": str(self.retention_ms)}


@cache
def registry() -> dict[str, Topic]:
    """All topics by name, in the order of topics.yaml."""
    text = resources.files("newsflow_schemas").joinpath("topics.yaml").read_text("utf-8")
    topics = [Topic.model_validate(entry) for entry in yaml.safe_load(text)]
    return {topic.name: topic for topic in topics}


def topic(name: str) -> Topic:
    return registry()[name]


def dlq_of(name: str) -> str:
    dlq = topic(name).dlq
    if dlq is None:
        raise KeyError(f"topic {name} has no DLQ")
    return dlq
