"""The Prometheus side of the ledger: newsflow_ledger_total counts each input's fate where it is decided."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from prometheus_client import REGISTRY

from newsflow_common.dlq import Rejected
from newsflow_common.metrics import SOURCE_LABELS
from newsflow_common.stage import SOURCE_NAME_HEADER, Record, Stage
from newsflow_index.service import IndexStage
from newsflow_index.settings import IndexSettings
from newsflow_ingest.ingestor import Ingestor
from newsflow_ingest.settings import IngestSettings
from newsflow_schemas import ARTICLES, ENRICHED, RAW, TRENDS, Article, Message, dlq_of, encode, header
from tests.unit.runtime_harness import run_batch


def ledger(stage: str, source: str, outcome: str) -> float:
    labels = {"stage": stage, "source": source, "outcome": outcome}
    return REGISTRY.get_sample_value("newsflow_ledger_total", labels) or 0


class PickyStage(Stage[Article]):
    """Passes articles on, but refuses those whose title says so."""

    name = "ledger-test"
    inputs: ClassVar[Mapping[str, type[Message]]] = {ARTICLES: Article}

    async def transform_one(self, message: Article) -> Sequence[tuple[str, Message]]:
        if "refuse" in message.title:
            raise Rejected("too-dull", "the title says so")
        return [(ENRICHED, message)]


def article(source: str, title: str) -> Article:
    return Article(
        trace_id="t",
        article_id=f"a-{uuid.uuid4().hex[:6]}",
        doc_id="d",
        source=source,
        title=title,
        body="Body",
        extractor="plain-text",
        parsed_at=datetime.now(UTC),
    )


async def test_a_stage_counts_outputs_and_dead_letters_by_source() -> None:
    source = f"s-{uuid.uuid4().hex[:6]}"
    SOURCE_LABELS.allow(source)  # a configured name: metrics carry it (any other counts as "other")
    stage = PickyStage()
    values = [encode(article(source, "fine")), encode(article(source, "refuse me")), b"{}"]
    producer = await run_batch(stage, [Record(ARTICLES, 0, offset, b"k", value) for offset, value in enumerate(values)])
    assert ledger(stage.name, source, "out") == 1
    assert ledger(stage.name, source, "dead-letter:too-dull") == 1
    assert ledger(stage.name, "unknown", "dead-letter:schema") >= 1  # no source in a message that did not decode
    assert sorted(topic for topic, _ in producer.sent) == sorted([ENRICHED, dlq_of(ARTICLES), dlq_of(ARTICLES)])


class HeaderProducer:
    """Keeps what ingest produced, headers included (the integration tests use real Kafka)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, bytes]]]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: Any) -> None:
        self.sent.append((topic, headers))


async def test_ingest_counts_sent_and_refused_and_names_the_source_of_a_refusal(tmp_path: Path) -> None:
    source = f"s-{uuid.uuid4().hex[:6]}"
    (tmp_path / "story.txt").write_text("A headline\n\nA body of a story about a port.")
    (tmp_path / "empty.html").write_bytes(b"")
    producer = HeaderProducer()
    ingestor = Ingestor(IngestSettings(source_name=source), producer)  # type: ignore[arg-type]
    await ingestor.ingest_all([tmp_path])
    assert ledger("ingest", source, "sent") == 1
    assert ledger("ingest", source, "refused:empty") == 1
    refusal_headers = [headers for topic, headers in producer.sent if topic == dlq_of(RAW)]
    assert [header(headers, SOURCE_NAME_HEADER) for headers in refusal_headers] == [source]


def test_index_counts_articles_only() -> None:
    stage = IndexStage(IndexSettings())
    assert stage.ledger_outcome(Record(ENRICHED, 0, 0, None, b"{}")) == "indexed"
    assert stage.ledger_outcome(Record(TRENDS, 0, 0, None, b"{}")) is None  # trends are not stories
