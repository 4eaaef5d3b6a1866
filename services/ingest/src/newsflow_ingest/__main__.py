"""``newsflow-ingest PATH...`` sends files and folders once; ``--watch DIR`` keeps watching a folder."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from newsflow_common.logs import configure_logging
from newsflow_ingest.service import run_once, run_watch
from newsflow_ingest.settings import IngestSettings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsflow-ingest", description=__doc__)
    parser.add_argument("paths", nargs="*", type=Path, help="files (.txt, .html, .htm) or folders to ingest once")
    parser.add_argument("--watch", type=Path, help="folder to watch for new files (default: NEWSFLOW_WATCH_DIR)")
    parser.add_argument("--source", help="source name stamped on the documents (default: NEWSFLOW_SOURCE_NAME)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = IngestSettings()
    if args.source:
        settings.source_name = args.source
    configure_logging("ingest", settings.log_level)
    watch = args.watch or settings.watch_dir
    if args.paths:
        counts = asyncio.run(run_once(settings, args.paths))
        refused = ", ".join(f"{kind}: {n}" for kind, n in sorted(counts.refused.items())) or "none"
        print(f"sent {counts.sent} documents to news.raw.v1; refused {refused}", file=sys.stderr)
        return 0
    if watch:
        asyncio.run(run_watch(settings, watch))
        return 0
    print("newsflow-ingest: give paths to ingest, or --watch DIR", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
