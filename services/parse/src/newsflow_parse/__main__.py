"""``newsflow-parse``: run the parse stage (``newsflow-parse-file`` tries parsing on files, without Kafka)."""

from __future__ import annotations

from newsflow_common.cli import parse_command_line
from newsflow_common.runtime import run_service
from newsflow_parse.service import ParseStage
from newsflow_parse.settings import ParseSettings


def main() -> None:
    description = "The parse stage: raw documents in, articles and listing links out (newsflow-parse-file: on files)."
    settings = parse_command_line("newsflow-parse", description, ParseSettings, "newsflow-parse")
    run_service("parse", settings, [ParseStage(settings)])


if __name__ == "__main__":
    main()
