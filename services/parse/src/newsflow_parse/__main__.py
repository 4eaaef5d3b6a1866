"""``newsflow-parse``: run the parse stage; ``newsflow-parse extract FILE|-``: extract from files or stdin."""

from __future__ import annotations

import sys

from newsflow_common.runtime import run_service
from newsflow_parse.service import ParseStage
from newsflow_parse.settings import ParseSettings


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "extract":
        from newsflow_parse.cli import main as extract_main  # the CLI needs no Kafka

        sys.exit(extract_main(sys.argv[2:]))
    settings = ParseSettings()
    run_service("parse", settings, [ParseStage(settings)])


if __name__ == "__main__":
    main()
