"""Bulk-write a batch to Elasticsearch: idempotent by _id, versioned; what is transient raises, for a retry.

A document Elasticsearch refuses for itself (mapping error, 400) is returned to the caller for the
DLQ; the rest of the batch goes on. A version older than the one indexed (409 on an external
version) is not an error: the newer one stays, and the stale one is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, AsyncElasticsearch

from newsflow_common.es import RETRYABLE_STATUS
from newsflow_common.stage import Record


@dataclass(frozen=True)
class Action:
    """One document to index (or, with no source, to delete), and the record it came from (for the DLQ)."""

    index: str
    doc_id: str
    source: dict[str, Any] | None
    record: Record
    version: int | None = None
    """External version (``external_gte``): Elasticsearch keeps the highest one."""
    position: int = 0
    """The record's position in its batch (refusals go back to it)."""


@dataclass(frozen=True)
class Refusal:
    action: Action
    status: int
    error: str


@dataclass
class Outcome:
    refused: list[Refusal] = field(default_factory=list)
    stale: int = 0
    """Versions older than the one already indexed, left out."""


class RetryItems(ApiError):
    """Some items failed transiently (429, 5xx): retried with backoff like a failed request."""

    def __init__(self, count: int, status: int) -> None:
        super().__init__(
            f"{count} bulk items failed with status {status}",
            ApiResponseMeta(status, "1.1", HttpHeaders(), 0.0, NodeConfig("http", "bulk", 0)),
            {},
        )


def _operations(actions: Sequence[Action]) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for action in actions:
        meta: dict[str, Any] = {"_index": action.index, "_id": action.doc_id}
        if action.version is not None:
            meta.update(version=action.version, version_type="external_gte")
        if action.source is None:
            operations.append({"delete": meta})
        else:
            operations += [{"index": meta}, action.source]
    return operations


def latest_versions(actions: Sequence[Action]) -> tuple[list[Action], int]:
    """One action per document: the highest version (the later record on a tie); and how many were dropped."""
    latest: dict[tuple[str, str], Action] = {}
    for action in actions:
        key = (action.index if action.version is None else "", action.doc_id)
        kept = latest.get(key)
        if kept is None or (action.version or 0) >= (kept.version or 0):
            latest[key] = action
    return list(latest.values()), len(actions) - len(latest)


async def plan_moves(client: AsyncElasticsearch, alias: str, actions: Sequence[Action]) -> tuple[list[Action], int]:
    """Versioned actions plus deletes of copies in other indices; drops actions older than such a copy.

    An article whose month changed between versions would otherwise live twice, once per index.
    The refresh makes the lookup see what the previous batch wrote (near-real-time search).
    """
    versioned = {action.doc_id: action for action in actions if action.version is not None}
    if not versioned:
        return list(actions), 0
    lenient = client.options(ignore_status=404)  # no index behind the alias yet: no copies anywhere
    await lenient.indices.refresh(index=alias)
    response = await lenient.search(
        index=alias, query={"ids": {"values": list(versioned)}}, version=True, source=False, size=2 * len(versioned)
    )
    hits = response.body.get("hits", {}).get("hits", []) if response.meta.status == 200 else []
    dropped: set[str] = set()
    deletes: list[Action] = []
    for hit in hits:
        action = versioned[hit["_id"]]
        if hit["_index"] == action.index:
            continue
        if int(hit["_version"]) > (action.version or 0):
            dropped.add(action.doc_id)  # a newer version lives in another month's index: keep it there
        else:
            deletes.append(Action(hit["_index"], action.doc_id, None, action.record, action.version, action.position))
    kept = [action for action in actions if action.doc_id not in dropped or action.version is None]
    return kept + deletes, len(dropped)


async def bulk_once(client: AsyncElasticsearch, actions: Sequence[Action]) -> Outcome:
    """One bulk request: the refused actions; raises when Elasticsearch or any item failed transiently (429,
    5xx), so the caller retries the whole request (idempotent: ``_id`` and external versions)."""
    outcome = Outcome()
    if not actions:
        return outcome
    response = await client.bulk(operations=_operations(actions), refresh=False)
    retry: list[int] = []
    for action, item in zip(actions, response["items"], strict=True):
        result = next(iter(item.values()))  # {"index": {...}} or {"delete": {...}}
        status = int(result.get("status", 500))
        if status < 300 or (action.source is None and status == 404):
            continue
        if status == 409 and action.version is not None:
            outcome.stale += 1
        elif status in RETRYABLE_STATUS:
            retry.append(status)
        else:
            outcome.refused.append(Refusal(action, status, str(result.get("error"))))
    if retry:
        raise RetryItems(len(retry), retry[0])
    return outcome
