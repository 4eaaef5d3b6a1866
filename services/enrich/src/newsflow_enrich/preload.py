"""Imported by the forkserver that forks enrich's workers, before the first fork (``WorkerPool(preload=...)``).

The models of the languages NER reads are loaded here once: every worker forked afterwards shares their
memory copy-on-write instead of loading its own (docs/decisions/014-shared-models.md).
"""

import gc

import newsflow_enrich.__main__  # noqa: F401  multiprocessing runs the service's main script again in each worker: imported here, its modules are shared, not made anew (60 MB a worker)
from newsflow_enrich import entities
from newsflow_enrich.jobs import load_models
from newsflow_enrich.settings import EnrichSettings

for language in sorted(set(EnrichSettings().ner_languages) & set(entities.MODELS)):
    entities.nlp(language)
load_models()
gc.collect()
gc.freeze()  # the garbage collector never writes to these objects again: their pages stay shared
