"""Dead letters: what a stage could not process, with the original bytes and the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from newsflow_schemas import DeadLetter

MAX_ORIGINAL_BYTES = 4 * 1024 * 1024
"""A dead letter keeps at most this much of the original: base64 of it must fit one Kafka message."""


class Rejected(Exception):
    """A message that cannot be processed for a reason of its own; it goes to the DLQ."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def dead_letter(
    *,
    original: bytes,
    stage: str,
    kind: str,
    error: str,
    trace_id: str,
    key: bytes | None = None,
    topic: str | None = None,
    partition: int | None = None,
    offset: int | None = None,
    source: str | None = None,
) -> DeadLetter:
    truncated = len(original) > MAX_ORIGINAL_BYTES
    return DeadLetter(
        trace_id=trace_id,
        original=original[:MAX_ORIGINAL_BYTES],
        original_size=len(original) if truncated else None,
        original_key=key.decode("utf-8", "replace") if key is not None else None,
        topic=topic,
        partition=partition,
        offset=offset,
        source=source,
        stage=stage,
        error_kind=kind,
        error_message=error[:2000],
        failed_at=datetime.now(UTC),
    )
