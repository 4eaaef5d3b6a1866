"""The stage base: outputs sent in order, a bad record dead-lettered, the surroundings' failures raised."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from prometheus_client import REGISTRY

from newsflow_common.dlq import Rejected
from newsflow_common.stage import Record, Stage
from newsflow_schemas import (
    ARTICLES,
    ENRICHED,
    TRENDS,
    Article,
    DeadLetter,
    EnrichedArticle,
    Message,
    TrendCount,
    dlq_of,
)

SERVICE = "test-stage"
DLQ = dlq_of(ARTICLES)
NOW = datetime(2024, 5, 7, 9, 30, tzinfo=UTC)


def make_article(**changes: object) -> Article:
    fields: dict[str, object] = {
        "trace_id": "trace-in",
        "article_id": "a-1",
        "doc_id": "d-1",
        "source": "files",
        "title": "A plane crashes in Kazakhstan",
        "body": "A passenger plane travelling from Baku to Grozny crashed near the city of Aktau.",
        "extractor": "plain-text",
        "parsed_at": NOW,
    }
    fields.update(changes)
    return Article.model_validate(fields)


class EchoStage(Stage[Article]):
    """Emits the article enriched, then a trend for its source; or raises what the test asks for."""

    service = SERVICE
    input_topic = ARTICLES

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.seen: list[Article] = []

    @property
    def input_model(self) -> type[Article]:
        return Article

    async def transform(self, message: Article) -> Sequence[tuple[str, Message]]:
        self.seen.append(message)
        if self.error is not None:
            raise self.error
        enriched = EnrichedArticle(**message.model_dump(), language="en", enriched_at=NOW)
        trend = TrendCount(
            trace_id=message.trace_id,
            trend_id=f"{message.source}-w1",
            term=message.source,
            type="SOURCE",
            window_start=NOW,
            window_end=NOW,
            count=1,
            baseline=0.0,
            score=1.0,
        )
        return [(ENRICHED, enriched), (TRENDS, trend)]


class Sent:
    """The producer callback: records (topic, message); may fail like a broker that went away."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Message]] = []
        self.error: BaseException | None = None

    async def __call__(self, topic: str, message: Message) -> None:
        if self.error is not None:
            raise self.error
        self.messages.append((topic, message))


@pytest.fixture
def stage() -> EchoStage:
    return EchoStage()


@pytest.fixture
def sent() -> Sent:
    return Sent()


def record(value: bytes | None, *, trace_id: str | None = "trace-header", key: bytes | None = b"a-1") -> Record:
    headers = [("content-type", b"application/json"), ("producer", b"parse")]
    if trace_id is not None:
        headers.append(("trace-id", trace_id.encode()))
    return Record(topic=ARTICLES, partition=3, offset=42, key=key, value=value, headers=headers)


def dead_letters(kind: str) -> float:
    labels = {"service": SERVICE, "topic": DLQ, "kind": kind}
    return REGISTRY.get_sample_value("newsflow_dead_letters_total", labels) or 0


def counter(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0


def only_dead_letter(sent: Sent) -> DeadLetter:
    assert len(sent.messages) == 1, sent.messages
    topic, letter = sent.messages[0]
    assert topic == DLQ
    assert isinstance(letter, DeadLetter)
    return letter


async def test_valid_record_outputs_are_sent_in_order(stage, sent):
    article = make_article()
    before_in = counter("newsflow_messages_in_total", {"service": SERVICE, "topic": ARTICLES})
    before_out = counter("newsflow_messages_out_total", {"service": SERVICE, "topic": ENRICHED})
    await stage.handle(record(article.model_dump_json().encode()), sent)
    assert stage.seen == [article]
    assert [topic for topic, _ in sent.messages] == [ENRICHED, TRENDS]
    enriched = sent.messages[0][1]
    assert isinstance(enriched, EnrichedArticle)
    assert enriched.article_id == "a-1"
    assert isinstance(sent.messages[1][1], TrendCount)
    assert counter("newsflow_messages_in_total", {"service": SERVICE, "topic": ARTICLES}) == before_in + 1
    assert counter("newsflow_messages_out_total", {"service": SERVICE, "topic": ENRICHED}) == before_out + 1


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"", None, b"\xff\xfe binary \x00", b"[1, 2, 3]", b'{"trace_id": "t", "title": "no body"}'],
    ids=["broken-json", "empty", "none", "binary", "json-array", "missing-fields"],
)
async def test_invalid_record_goes_to_the_dlq_as_schema(stage, sent, value):
    before = dead_letters("schema")
    before_errors = counter("newsflow_errors_total", {"service": SERVICE, "kind": "schema"})
    await stage.handle(record(value), sent)
    assert stage.seen == []
    letter = only_dead_letter(sent)
    assert letter.error_kind == "schema"
    assert letter.original == (value or b"")
    assert letter.topic == ARTICLES
    assert letter.partition == 3
    assert letter.offset == 42
    assert letter.original_key == "a-1"
    assert letter.stage == SERVICE
    assert letter.trace_id == "trace-header"
    assert letter.error_message
    assert dead_letters("schema") == before + 1
    assert counter("newsflow_errors_total", {"service": SERVICE, "kind": "schema"}) == before_errors + 1


async def test_dead_letter_keeps_the_original_bytes_through_the_wire(stage, sent):
    value = b'{"title": "caf\xc3\xa9", "extra": \x01}'
    await stage.handle(record(value), sent)
    letter = only_dead_letter(sent)
    decoded = DeadLetter.model_validate_json(letter.model_dump_json())
    assert decoded.original == value


async def test_dead_letter_without_a_key(stage, sent):
    await stage.handle(record(b"{", key=None), sent)
    letter = only_dead_letter(sent)
    assert letter.original_key is None
    assert letter.key() == letter.trace_id


async def test_missing_trace_header_gets_a_trace_id_stable_across_reads(stage, sent):
    rec = record(b"{not json", trace_id=None)
    assert rec.trace_id
    assert rec.trace_id == rec.trace_id
    await stage.handle(rec, sent)
    await stage.handle(rec, sent)
    letters = [letter for _, letter in sent.messages]
    assert len(letters) == 2
    assert letters[0].trace_id == letters[1].trace_id == rec.trace_id


async def test_rejected_by_transform_goes_to_the_dlq_with_its_kind(stage, sent):
    stage.error = Rejected("too-short", "body has 3 words")
    before = dead_letters("too-short")
    value = make_article().model_dump_json().encode()
    await stage.handle(record(value), sent)
    letter = only_dead_letter(sent)
    assert letter.error_kind == "too-short"
    assert "3 words" in letter.error_message
    assert letter.original == value
    assert letter.trace_id == "trace-header"
    assert dead_letters("too-short") == before + 1


async def test_unexpected_exception_in_transform_is_dead_lettered_not_raised(stage, sent):
    stage.error = ZeroDivisionError("division by zero")
    before = dead_letters("unexpected")
    value = make_article().model_dump_json().encode()
    await stage.handle(record(value), sent)  # does not raise
    letter = only_dead_letter(sent)
    assert letter.error_kind == "unexpected"
    assert "ZeroDivisionError" in letter.error_message
    assert letter.original == value
    assert dead_letters("unexpected") == before + 1


@pytest.mark.parametrize("error", [ConnectionError("broker away"), TimeoutError(), RuntimeError("produce failed")])
async def test_failure_of_send_propagates_and_is_never_dead_lettered(stage, sent, error):
    sent.error = error
    before = {kind: dead_letters(kind) for kind in ("schema", "unexpected")}
    with pytest.raises(type(error)):
        await stage.handle(record(make_article().model_dump_json().encode()), sent)
    assert sent.messages == []
    assert {kind: dead_letters(kind) for kind in before} == before


async def test_failure_of_send_for_a_dead_letter_propagates(stage, sent):
    sent.error = ConnectionError("broker away")
    with pytest.raises(ConnectionError):
        await stage.handle(record(b"{not json"), sent)


async def test_failure_of_send_after_first_output_propagates(stage):
    calls: list[str] = []

    async def flaky(topic: str, message: Message) -> None:
        calls.append(topic)
        if topic == TRENDS:
            raise ConnectionError("broker away")

    with pytest.raises(ConnectionError):
        await stage.handle(record(make_article().model_dump_json().encode()), flaky)
    assert calls == [ENRICHED, TRENDS]


def test_a_huge_message_is_dead_lettered_with_its_beginning_and_its_size():
    from newsflow_common.dlq import MAX_ORIGINAL_BYTES, dead_letter

    huge = b"x" * (MAX_ORIGINAL_BYTES + 10)
    letter = dead_letter(original=huge, stage="parse", kind="schema", error="not JSON", trace_id="t")
    assert letter.original == huge[:MAX_ORIGINAL_BYTES]
    assert letter.original_size == len(huge)
    assert len(letter.model_dump_json()) < 10 * 1024 * 1024  # fits the largest message we produce
    small = dead_letter(original=b"abc", stage="parse", kind="schema", error="e", trace_id="t")
    assert small.original == b"abc"
    assert small.original_size is None


class SlowFirstStage(EchoStage):
    """The first article's transform finishes last: only overlapping transforms finish in this test's time."""

    def __init__(self) -> None:
        super().__init__()
        self.second_started = asyncio.Event()

    async def transform(self, message: Article) -> Sequence[tuple[str, Message]]:
        if message.article_id == "a-1":
            await asyncio.wait_for(self.second_started.wait(), timeout=10)  # fails unless the second runs meanwhile
        else:
            self.second_started.set()
        if message.article_id == "a-bad":
            raise Rejected("empty", "nothing to read")
        return await super().transform(message)


async def test_handle_many_overlaps_transforms_and_sends_in_record_order(sent):
    stage = SlowFirstStage()
    first, second = make_article(article_id="a-1"), make_article(article_id="a-2", trace_id="t-2")
    bad = make_article(article_id="a-bad", trace_id="t-3")
    records = [record(article.model_dump_json().encode()) for article in (first, second, bad)]

    await stage.handle_many(records, sent)

    ids = [getattr(message, "article_id", None) for topic, message in sent.messages if topic == ENRICHED]
    assert ids == ["a-1", "a-2"]  # in record order, though a-2 was ready first
    assert [topic for topic, _ in sent.messages] == [ENRICHED, TRENDS, ENRICHED, TRENDS, DLQ]
    letter = sent.messages[-1][1]
    assert isinstance(letter, DeadLetter)
    assert letter.error_kind == "empty"


def test_a_record_is_made_alike_from_aiokafka_and_faust_messages() -> None:
    aiokafka_message = SimpleNamespace(
        topic=ARTICLES, partition=1, offset=7, key=b"k", value=b"v", headers=(("trace-id", b"t-1"),)
    )
    faust_message = SimpleNamespace(
        topic=ARTICLES, partition=1, offset=7, key=b"k", value=b"v", headers={"trace-id": b"t-1"}
    )
    expected = Record(ARTICLES, 1, 7, b"k", b"v", [("trace-id", b"t-1")])
    assert Record.of(aiokafka_message) == expected
    assert Record.of(faust_message) == expected
    assert Record.of(SimpleNamespace(**{**vars(aiokafka_message), "headers": None})).headers == []
