"""Ingest settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr, field_validator

from newsflow_common.settings import Settings
from newsflow_ingest.ssrf import parse_allow


class IngestSettings(Settings):
    http_port: int = 8001
    source_name: str = "files"
    """The source name stamped on documents read from files and folders."""
    watch_dir: Path | None = None
    """Folder watched for new files when no paths are given."""
    state_dir: Path = Path(".newsflow/ingest")
    """Where the service remembers what it already ingested (a sqlite file), across restarts."""
    poll_seconds: float = 2.0
    """How often a forced-polling watch looks (NEWSFLOW_WATCH_FORCE_POLLING)."""
    watch_force_polling: bool | None = None
    """Poll the folder instead of using inotify (bind mounts, network file systems); None: watchfiles decides."""
    max_document_bytes: int = 5 * 1024 * 1024
    """Larger files, records and fetched pages are refused (to the DLQ, truncated) rather than sent."""

    feeds_file: Path | None = None
    """YAML list of feeds and sitemaps to poll (deploy/feeds.example.yaml)."""
    sitemap_max_age_days: float = 7.0
    """Sitemap entries modified longer ago are left alone."""
    links_enabled: bool = False
    """Consume news.links.v1 and fetch each link."""

    api_enabled: bool = False
    """Serve the push API (POST /v1/documents)."""
    api_host: str = "0.0.0.0"
    api_port: int = 8081
    api_token: SecretStr | None = None
    """Bearer token the push API requires; the service refuses to start the API without one..."""
    api_auth_disabled: bool = False
    """...unless this is set, for local use only."""
    api_max_request_bytes: int = 16 * 1024 * 1024
    """Largest request body the API reads (a batch); each document is still held to max_document_bytes."""
    api_send_timeout_seconds: float = 15.0
    """How long a push waits for Kafka's ack before answering 503."""

    user_agent: str = "newsflow-ingest/0.1 (+https://github.com/newsflow/newsflow)"
    fetch_allow: str = ""
    """Comma-separated ADDRESS:PORT or NETWORK:PORT reachable although private: 127.0.0.1:8080, 10.0.0.0/8:443."""
    fetch_timeout_seconds: float = 20.0
    fetch_max_redirects: int = 5
    fetch_attempts: int = 3
    """Tries of a page that times out or answers 5xx/429 before it counts as unfetchable."""
    host_concurrency: int = 2
    """Requests in flight per host."""
    host_delay_seconds: float = 1.0
    """Politeness: pause between two requests to one host."""
    respect_robots: bool = True

    @field_validator("fetch_allow")
    @classmethod
    def _allow_has_ports(cls, value: str) -> str:
        """A wrong allow-list stops the start, with the way to write it, rather than a first fetch."""
        parse_allow(value)
        return value
