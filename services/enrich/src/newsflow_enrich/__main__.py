"""``python -m newsflow_enrich`` / ``newsflow-enrich``: run the enrich worker."""

from __future__ import annotations

from newsflow_common.streams import run_worker
from newsflow_enrich.entities import nlp
from newsflow_enrich.service import EnrichStage
from newsflow_enrich.settings import EnrichSettings


def main() -> None:
    nlp()  # load the model before joining the group, not on the first message
    run_worker(EnrichStage(), EnrichSettings())


if __name__ == "__main__":
    main()
