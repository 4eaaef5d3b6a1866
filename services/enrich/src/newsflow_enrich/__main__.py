"""``python -m newsflow_enrich`` / ``newsflow-enrich``: run the enrich stages (analysis, then state)."""

from __future__ import annotations

from newsflow_common.cli import parse_command_line
from newsflow_common.runtime import run_service
from newsflow_enrich.service import AnalyseStage, StateStage
from newsflow_enrich.settings import EnrichSettings


def main() -> None:
    description = "The enrich stages: articles in; language, entities, keywords, clusters and trends out."
    settings = parse_command_line("newsflow-enrich", description, EnrichSettings, "newsflow-enrich")
    run_service("enrich", settings, [AnalyseStage(settings), StateStage(settings)])


if __name__ == "__main__":
    main()
