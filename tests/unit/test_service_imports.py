"""What each service loads at start: memory and start-up time are paid by every replica."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("service", ["newsflow_parse", "newsflow_enrich", "newsflow_ingest"])
def test_services_that_do_not_talk_to_elasticsearch_do_not_load_its_client(service: str) -> None:
    """The Elasticsearch client costs 60 MB of memory and half a second of start-up; only index uses it."""
    probe = f"import sys, {service}.__main__; print('elasticsearch' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "False"


def test_enrich_main_process_does_not_load_the_models_nor_scipy() -> None:
    """spaCy and the models live in the workers (shared through their forkserver), not in the main process;
    nor SciPy, which datasketch's LSH index imports (57 MB): the state stage keeps its own index."""
    probe = "import sys, newsflow_enrich.__main__; print(sorted({'spacy', 'yake', 'scipy'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_enrich_workers_sign_articles_without_scipy() -> None:
    """A worker's MinHash is this project's (datasketch's values, tested in test_enrich_state): importing
    datasketch brings SciPy along, 47 MB that every enrich replica's workers would hold for nothing."""
    probe = (
        "import sys; from newsflow_enrich.dedup import signature; signature('one two three four');"
        "print(sorted({'datasketch', 'scipy'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
