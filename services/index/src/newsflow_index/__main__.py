"""``python -m newsflow_index`` / ``newsflow-index``: run the index service."""

from newsflow_index.service import main

if __name__ == "__main__":
    main()
