"""Ingest settings (prefix NEWSFLOW_)."""

from __future__ import annotations

from pathlib import Path

from newsflow_common.settings import Settings


class IngestSettings(Settings):
    http_port: int = 8001
    source_name: str = "files"
    """The source name stamped on documents read from files and folders."""
    watch_dir: Path | None = None
    """Folder watched for new files when no paths are given."""
    state_dir: Path = Path(".newsflow/ingest")
    """Where watch mode remembers what it already ingested, across restarts."""
    poll_seconds: float = 2.0
    max_document_bytes: int = 5 * 1024 * 1024
    """Larger files are refused (to the DLQ, truncated) rather than sent."""
