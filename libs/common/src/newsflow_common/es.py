"""The Elasticsearch client, and which of its failures are the surroundings' (retried) or a document's."""

from __future__ import annotations

from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, AsyncElasticsearch

from newsflow_common.settings import Settings

RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


def client(settings: Settings) -> AsyncElasticsearch:
    """A client whose own retries are off: the callers retry with backoff and report health."""
    kwargs: dict[str, Any] = {"request_timeout": 30, "max_retries": 0, "retry_on_timeout": False}
    if settings.elasticsearch_api_key:
        kwargs["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username and settings.elasticsearch_password:
        kwargs["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value())
    if settings.elasticsearch_ca_certs:
        kwargs["ca_certs"] = settings.elasticsearch_ca_certs
    kwargs["verify_certs"] = settings.elasticsearch_verify_certs
    return AsyncElasticsearch(settings.elasticsearch_url, **kwargs)


def is_transient_es_error(exc: BaseException) -> bool:
    """Elasticsearch away, overloaded or slow: retry. A 4xx about the request itself: not."""
    if isinstance(exc, TransportConnectionError | ConnectionTimeout):
        return True
    return isinstance(exc, ApiError) and exc.status_code in RETRYABLE_STATUS


def refusal_reason(exc: ApiError) -> str:
    """What Elasticsearch said when it refused a request: its error type with the root causes and the failed
    shards' indices and reasons (a search's "all shards failed" alone does not say what to change)."""
    error = exc.body.get("error") if isinstance(exc.body, dict) else None
    if not isinstance(error, dict):
        return str(exc.message)
    causes = [f"{c.get('type')}: {c.get('reason')}" for c in error.get("root_cause") or [] if isinstance(c, dict)]
    shards = [
        f"{s.get('index')}: {(s.get('reason') or {}).get('reason')}"
        for s in error.get("failed_shards") or []
        if isinstance(s, dict) and isinstance(s.get("reason") or {}, dict)
    ]
    return "; ".join([f"{error.get('type')}: {error.get('reason')}", *causes, *shards])[:2000]
