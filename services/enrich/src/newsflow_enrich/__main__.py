"""``python -m newsflow_enrich`` / ``newsflow-enrich``: run the enrich worker."""

from __future__ import annotations

from newsflow_common.streams import run_worker
from newsflow_enrich.analysis import Options
from newsflow_enrich.pool import AnalysisPool
from newsflow_enrich.service import EnrichStage
from newsflow_enrich.settings import EnrichSettings


def main() -> None:
    settings = EnrichSettings()
    options = Options(frozenset(settings.ner_languages), settings.ner_lead_chars, settings.ner_max_chars)
    pool = AnalysisPool(options, settings.workers)
    pool.start_workers()  # the models load in the workers while the faust worker joins the group
    try:
        run_worker(EnrichStage(settings, pool), settings)
    finally:
        pool.close()


if __name__ == "__main__":
    main()
