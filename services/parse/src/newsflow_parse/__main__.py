"""``newsflow-parse``: run the parse stage; ``newsflow-parse extract FILE|-``: extract from files or stdin."""

from __future__ import annotations

import sys

from newsflow_common.cli import parse_command_line
from newsflow_common.runtime import run_service
from newsflow_parse.service import ParseStage
from newsflow_parse.settings import ParseSettings


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "extract":
        from newsflow_parse.cli import main as extract_main  # the CLI needs no Kafka

        sys.exit(extract_main(sys.argv[2:]))
    description = (
        "The parse stage: raw documents in, articles and listing links out. `extract FILE|-` runs it on files."
    )
    settings = parse_command_line("newsflow-parse", description, ParseSettings, "newsflow-parse")
    run_service("parse", settings, [ParseStage(settings)])


if __name__ == "__main__":
    main()
