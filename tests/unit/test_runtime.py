"""The runtime's policies, written once for every stage: outputs, dead letters of any kind, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import ClassVar

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from newsflow_common.dlq import Rejected
from newsflow_common.health import Health
from newsflow_common.pool import WorkerDied
from newsflow_common.runtime import Runtime, Sink
from newsflow_common.settings import Settings
from newsflow_common.stage import Outputs, Record, Result, Stage
from newsflow_schemas import ARTICLES, ENRICHED, Article, DeadLetter, EnrichedArticle, Message, dlq_of
from tests.unit.runtime_harness import RecordingProducer, run_batch

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
    """Emits the article enriched; or raises what the test asks for (per article id)."""

    name = "test-runtime"
    inputs: ClassVar[Mapping[str, type[Message]]] = {ARTICLES: Article}

    def __init__(self) -> None:
        self.errors: dict[str, list[BaseException]] = {}

    async def transform_one(self, message: Article) -> Outputs:
        errors = self.errors.get(message.article_id)
        if errors:
            raise errors.pop(0)
        return [(ENRICHED, EnrichedArticle(**message.model_dump(), language="en", enriched_at=NOW))]


def record(value: bytes | None, offset: int = 42, headers: list[tuple[str, bytes]] | None = None) -> Record:
    headers = [("trace-id", b"trace-header")] if headers is None else headers
    return Record(topic=ARTICLES, partition=3, offset=offset, key=b"a-1", value=value, headers=headers)


def letters(producer: RecordingProducer) -> list[DeadLetter]:
    return [m for topic, m in producer.messages() if topic == DLQ and isinstance(m, DeadLetter)]


def dead_letters(kind: str) -> float:
    labels = {"service": EchoStage.name, "topic": DLQ, "kind": kind}
    return REGISTRY.get_sample_value("newsflow_dead_letters_total", labels) or 0


async def test_valid_records_give_their_outputs_in_record_order() -> None:
    records = [record(make_article(article_id=f"a-{i}").model_dump_json().encode(), i) for i in range(3)]
    sent = (await run_batch(EchoStage(), records)).messages()
    assert [(topic, getattr(m, "article_id", None)) for topic, m in sent] == [(ENRICHED, f"a-{i}") for i in range(3)]


@pytest.mark.parametrize("value", [b"{not json", b'{"title": "wrong schema"}', None, b"\xff\xfe\x00", b"[]", b"null"])
async def test_a_record_that_does_not_decode_goes_to_the_dlq_as_schema(value: bytes | None) -> None:
    [letter] = letters(await run_batch(EchoStage(), [record(value)]))
    assert letter.error_kind == "schema"
    assert letter.original == (value or b"")
    assert (letter.topic, letter.partition, letter.offset) == (ARTICLES, 3, 42)
    assert letter.trace_id == "trace-header"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (Rejected("too-short", "body has 3 words"), "too-short"),
        (ZeroDivisionError("division by zero"), "unexpected:ZeroDivisionError"),
        (OverflowError("date value out of range"), "unexpected:OverflowError"),
        (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), "unexpected:UnicodeEncodeError"),
        (OSError("a file of the record's own"), "unexpected:OSError"),
        (KeyError("x"), "unexpected:KeyError"),
    ],
)
async def test_anything_a_transform_raises_sends_that_record_to_the_dlq_and_the_batch_goes_on(
    error: BaseException, kind: str
) -> None:
    stage = EchoStage()
    stage.errors["a-bad"] = [error]
    good, bad = make_article(), make_article(article_id="a-bad")
    before = dead_letters(kind)
    producer = await run_batch(
        stage, [record(bad.model_dump_json().encode(), 1), record(good.model_dump_json().encode(), 2)]
    )
    [letter] = letters(producer)
    assert letter.error_kind == kind
    assert str(error) in letter.error_message or type(error).__name__ in letter.error_message
    assert [m.article_id for t, m in producer.messages() if t == ENRICHED] == ["a-1"]  # type: ignore[attr-defined]
    assert dead_letters(kind) == before + 1


async def test_an_unexpected_error_keeps_a_short_traceback_in_the_dead_letter() -> None:
    stage = EchoStage()
    stage.errors["a-1"] = [ZeroDivisionError("division by zero")]
    [letter] = letters(await run_batch(stage, [record(make_article().model_dump_json().encode())]))
    assert "Traceback" in letter.error_message or "File " in letter.error_message
    assert len(letter.error_message) <= 2000


async def test_a_record_whose_worker_dies_once_is_tried_again_and_goes_through() -> None:
    stage = EchoStage()
    stage.errors["a-1"] = [WorkerDied("exit code -9")]
    producer = await run_batch(stage, [record(make_article().model_dump_json().encode())])
    assert [t for t, _ in producer.messages()] == [ENRICHED]


async def test_a_record_that_kills_its_worker_twice_goes_to_the_dlq_as_worker_died() -> None:
    stage = EchoStage()
    stage.errors["a-1"] = [WorkerDied("exit code -9"), WorkerDied("exit code -9")]
    [letter] = letters(await run_batch(stage, [record(make_article().model_dump_json().encode())]))
    assert letter.error_kind == "worker-died"


@pytest.mark.parametrize("error", [KafkaConnectionError("broker away"), KafkaTimeoutError()])
async def test_a_broker_away_while_producing_is_retried_never_dead_lettered(error: BaseException) -> None:
    producer = RecordingProducer()
    producer.failures = [error, error]
    await asyncio.wait_for(run_batch(EchoStage(), [record(make_article().model_dump_json().encode())], producer), 30)
    assert [t for t, _ in producer.messages()] == [ENRICHED]


async def test_an_output_failing_for_no_reason_of_the_surroundings_dead_letters_its_record() -> None:
    producer = RecordingProducer()
    producer.failures = [RuntimeError("not a broker failure")] * 2  # with the batch, then alone
    [letter] = letters(await run_batch(EchoStage(), [record(make_article().model_dump_json().encode())], producer))
    assert letter.error_kind == "unexpected:RuntimeError"


def test_a_huge_message_is_dead_lettered_with_its_beginning_and_its_size() -> None:
    from newsflow_common.dlq import MAX_ORIGINAL_BYTES, dead_letter

    huge = b"x" * (MAX_ORIGINAL_BYTES + 10)
    letter = dead_letter(original=huge, stage="parse", kind="schema", error="not JSON", trace_id="t")
    assert letter.original == huge[:MAX_ORIGINAL_BYTES]
    assert letter.original_size == len(huge)
    assert len(letter.model_dump_json()) < 10 * 1024 * 1024  # fits the largest message we produce


def test_a_record_is_made_from_an_aiokafka_message() -> None:
    message = SimpleNamespace(
        topic=ARTICLES, partition=1, offset=7, key=b"k", value=b"v", headers=(("trace-id", b"t"),)
    )
    assert Record.of(message) == Record(ARTICLES, 1, 7, b"k", b"v", [("trace-id", b"t")])
    assert Record.of(SimpleNamespace(**{**vars(message), "headers": None})).headers == []


# Generated poison: whatever a record holds, it ends as outputs or a dead letter, and the batch goes on.

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
EXTREME = st.fixed_dictionaries(
    {
        "trace_id": st.text(max_size=700),
        "article_id": st.text(max_size=700),
        "doc_id": st.text(max_size=50),
        "source": st.text(max_size=50),
        "title": st.text(),
        "body": st.text(),
        "extractor": st.text(max_size=20),
        "parsed_at": st.sampled_from(
            ["0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00", "2024-01-01T00:00:00Z", "not a date", 0]
        ),
    }
)
VALUES = (
    st.binary(max_size=200)
    | JSONISH.map(lambda v: __import__("json").dumps(v).encode())
    | EXTREME.map(lambda v: __import__("json").dumps(v).encode("utf-8", "surrogatepass"))
)
HEADERS = st.lists(st.tuples(st.text(max_size=10), st.binary(max_size=20)), max_size=3)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES, min_size=1, max_size=4), headers=HEADERS)
def test_generated_poison_ends_as_outputs_or_a_dead_letter(
    values: Sequence[bytes], headers: list[tuple[str, bytes]]
) -> None:
    good = make_article(article_id="good").model_dump_json().encode()
    records = [record(v, i, headers) for i, v in enumerate([*values, good])]
    producer = asyncio.run(run_batch(EchoStage(), records))
    sent = producer.messages()
    assert len(sent) == len(records)  # one outcome per record, none lost, none doubled
    assert sent[-1][0] == ENRICHED or any(t == ENRICHED and getattr(m, "article_id", "") == "good" for t, m in sent)


class PickySink(Sink):
    """Writes through the default Kafka sink, but raises (a bug, not the surroundings) on one article."""

    async def write(self, outputs, records, producer, service):  # type: ignore[no-untyped-def]
        if any(getattr(message, "article_id", "") == "a-bad" for outs in outputs for _, message in outs):
            raise ValueError("the sink cannot take this one")
        return await super().write(outputs, records, producer, service)


async def test_a_record_whose_output_the_sink_cannot_write_is_dead_lettered_and_the_rest_written() -> None:
    good, bad = make_article(article_id="a-good"), make_article(article_id="a-bad")
    records = [record(bad.model_dump_json().encode(), 1), record(good.model_dump_json().encode(), 2)]
    producer = await run_batch(EchoStage(), records, sink=PickySink())
    [letter] = letters(producer)
    assert (letter.error_kind, letter.offset) == ("unexpected:ValueError", 1)
    assert [m.article_id for t, m in producer.messages() if t == ENRICHED] == ["a-good"]  # type: ignore[attr-defined]


async def test_index_dead_letters_an_article_no_monthly_index_can_hold() -> None:
    from newsflow_index.service import IndexStage
    from newsflow_index.settings import IndexSettings

    year_one = EnrichedArticle(
        **make_article(published_at="0001-01-01T00:30:00+01:00").model_dump(), language="en", enriched_at=NOW
    )
    value = year_one.model_dump_json().encode()
    producer = await run_batch(IndexStage(IndexSettings()), [Record(ENRICHED, 0, 5, b"a-1", value)])
    [(topic, letter)] = producer.messages()
    assert topic == dlq_of(ENRICHED)
    assert isinstance(letter, DeadLetter)
    assert letter.error_kind == "unexpected:OverflowError"


class QuietConsumer:
    """aiokafka's consumer as the runtime uses it around a batch: positions, highwaters, pause and resume."""

    def __init__(self, positions: dict[TopicPartition, int], highwaters: dict[TopicPartition, int | None]) -> None:
        self.positions, self.highwaters = positions, highwaters
        self.paused_while_processing: set[TopicPartition] = set()
        self._paused: set[TopicPartition] = set()

    def assignment(self) -> set[TopicPartition]:
        return set(self.positions)

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def highwater(self, tp: TopicPartition) -> int | None:
        return self.highwaters[tp]

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused.difference_update(partitions)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    async def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        pass


class WatchingStage(EchoStage):
    """Notes which partitions were paused while its batch was being transformed."""

    consumer: QuietConsumer

    async def transform(self, messages: Sequence[Article]) -> Sequence[Result]:
        self.consumer.paused_while_processing = self.consumer.paused()
        return await super().transform(messages)


async def test_while_a_batch_is_processed_only_partitions_with_records_left_to_fetch_stay_open() -> None:
    """A caught-up partition is not fetched again and again while the batch is worked on (the local stand-in
    answers an empty fetch at once: it cost a core's worth of fetch requests); one with records behind its
    position is, so the next batch is ready."""
    behind, caught_up, unknown = (TopicPartition(ARTICLES, p) for p in range(3))
    consumer = QuietConsumer({behind: 43, caught_up: 10, unknown: 0}, {behind: 500, caught_up: 10, unknown: None})
    stage = WatchingStage()
    stage.consumer = consumer
    runtime = Runtime(stage, Settings(), Health(stage.name), RecordingProducer())  # type: ignore[arg-type]
    runtime.consumer = consumer  # type: ignore[assignment]
    value = make_article().model_dump_json().encode()
    message = SimpleNamespace(topic=ARTICLES, partition=0, offset=42, key=b"a-1", value=value, headers=[])
    await runtime.handle({behind: [message]})
    assert consumer.paused_while_processing == {caught_up}
    assert consumer.paused() == set(), "every partition is open again for the next poll"


async def test_a_partition_paused_before_a_batch_stays_paused_after_it() -> None:
    """Reading past an unreadable record pauses every other partition and handles one partition's records at
    a time: the batch must not open the others behind its back."""
    mine, others = TopicPartition(ARTICLES, 0), TopicPartition(ARTICLES, 1)
    consumer = QuietConsumer({mine: 43, others: 0}, {mine: 500, others: 900})
    consumer.pause(others)
    stage = WatchingStage()
    stage.consumer = consumer
    runtime = Runtime(stage, Settings(), Health(stage.name), RecordingProducer())  # type: ignore[arg-type]
    runtime.consumer = consumer  # type: ignore[assignment]
    value = make_article().model_dump_json().encode()
    await runtime.handle(
        {mine: [SimpleNamespace(topic=ARTICLES, partition=0, offset=42, key=b"a-1", value=value, headers=[])]}
    )
    assert consumer.paused() == {others}
