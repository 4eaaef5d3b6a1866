"""``python -m newsflow_parse`` / ``newsflow-parse``: run the parse worker."""

from __future__ import annotations

from newsflow_common.streams import run_worker
from newsflow_parse.service import ParseStage
from newsflow_parse.settings import ParseSettings


def main() -> None:
    run_worker(ParseStage(), ParseSettings())


if __name__ == "__main__":
    main()
