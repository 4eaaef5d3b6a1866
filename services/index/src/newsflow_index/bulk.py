"""Bulk-write a batch to Elasticsearch: idempotent by _id, retrying what is transient.

A document Elasticsearch refuses for itself (mapping error, 400) is returned
to the caller for the DLQ; the rest of the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch

from newsflow_common.retry import retry_forever
from newsflow_common.stage import Record
from newsflow_index.es import RETRYABLE_STATUS, is_transient_es_error


@dataclass(frozen=True)
class Action:
    """One document to index, and the record it came from (for the DLQ)."""

    index: str
    doc_id: str
    source: dict[str, Any]
    record: Record


@dataclass(frozen=True)
class Refusal:
    action: Action
    status: int
    error: str


class RetryItems(Exception):
    """Some items failed transiently (429, 5xx): retried with backoff like a failed request."""

    def __init__(self, count: int, status: int) -> None:
        super().__init__(f"{count} bulk items failed with status {status}")
        self.status_code = status


def _operations(actions: Sequence[Action]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for action in actions:
        operations += [{"index": {"_index": action.index, "_id": action.doc_id}}, action.source]
    return operations


async def bulk_index(
    client: AsyncElasticsearch,
    actions: Sequence[Action],
    *,
    service: str,
    on_failure: Callable[[BaseException], None] | None = None,
) -> list[Refusal]:
    """Index every action; returns the refused ones. Returns only when nothing transient is left."""
    pending = list(actions)
    refused: list[Refusal] = []

    async def attempt() -> None:
        nonlocal pending
        response = await client.bulk(operations=_operations(pending), refresh=False)
        retry: list[Action] = []
        statuses = []
        for action, item in zip(pending, response["items"], strict=True):
            result = item["index"]
            status = int(result.get("status", 500))
            if status < 300:
                continue
            if status in RETRYABLE_STATUS:
                retry.append(action)
                statuses.append(status)
            else:
                refused.append(Refusal(action, status, str(result.get("error"))))
        pending = retry
        if retry:
            raise RetryItems(len(retry), statuses[0])

    if pending:
        await retry_forever(
            attempt, transient=_transient, service=service, name="elasticsearch bulk", on_failure=on_failure
        )
    return refused


def _transient(exc: BaseException) -> bool:
    return isinstance(exc, RetryItems) or is_transient_es_error(exc)
