"""newsflow-ingest: the one door through which raw news enters.

  newsflow-ingest PATH...                        send files and folders once
  newsflow-ingest --watch DIR                    keep watching a folder
  newsflow-ingest --feeds feeds.yaml --api --links --watch DIR
                                                 one long-running service over any mix of sources

Files: .txt .html .htm .json .jsonl .warc .warc.gz, and .gz of any of them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from pydantic import ValidationError

from newsflow_common.cli import command_parser
from newsflow_common.logs import configure_logging
from newsflow_common.metrics import SOURCE_LABELS
from newsflow_ingest.service import ConfigError, Sources, run_once, run_service
from newsflow_ingest.settings import IngestSettings
from newsflow_ingest.sources import load_sources


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = command_parser("newsflow-ingest", __doc__ or "", IngestSettings, "newsflow-ingest")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders to ingest once")
    parser.add_argument("--watch", type=Path, metavar="DIR", help="folder to watch for new files (NEWSFLOW_WATCH_DIR)")
    parser.add_argument(
        "--feeds", type=Path, metavar="FILE", help="YAML file of feeds and sitemaps to poll (NEWSFLOW_FEEDS_FILE)"
    )
    parser.add_argument("--api", action="store_true", help="serve the push API (NEWSFLOW_API_ENABLED)")
    parser.add_argument(
        "--links", action="store_true", help="fetch the links of news.links.v1 (NEWSFLOW_LINKS_ENABLED)"
    )
    parser.add_argument(
        "--source", metavar="NAME", help="source name stamped on documents from files (NEWSFLOW_SOURCE_NAME)"
    )
    return parser.parse_args(argv)


def allow_configured_sources(feeds_file: Path | None) -> None:
    """The feeds' and sitemaps' names are configured: metrics may carry them as label values."""
    if feeds_file is None:
        return
    try:
        config = load_sources(feeds_file)
    except (ValidationError, OSError, ValueError):
        return  # the service says what is wrong with the file when it starts
    SOURCE_LABELS.allow(*(source.name for source in [*config.feeds, *config.sitemaps]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = IngestSettings()
    if args.source:
        settings.source_name = args.source
    configure_logging("ingest", settings.log_level)
    allow_configured_sources(args.feeds or settings.feeds_file)
    if args.paths:
        counts = asyncio.run(run_once(settings, args.paths))
        refused = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.refused.items())) or "none"
        print(f"sent {counts.sent} documents to news.raw.v1; refused {refused}", file=sys.stderr)
        return 0
    sources = Sources(
        watch=args.watch or settings.watch_dir,
        feeds_file=args.feeds or settings.feeds_file,
        api=args.api or settings.api_enabled,
        links=args.links or settings.links_enabled,
    )
    if not sources.any:
        print("newsflow-ingest: give paths to ingest, or --watch DIR, --feeds FILE, --api, --links", file=sys.stderr)
        return 2
    try:
        asyncio.run(run_service(settings, sources))
    except (ConfigError, ValidationError, OSError) as exc:
        print(f"newsflow-ingest: cannot start: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
