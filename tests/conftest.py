"""Shared test helpers: where the repository and the read-only datasets are."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "samples" / "listing-page-asia.txt"


def shared_dataset(*parts: str) -> Path:
    """A path under ../shared/datasets, or skip: a user's clone does not have it."""
    path = SHARED.joinpath("datasets", *parts)
    if not path.exists():
        pytest.skip(f"dataset {path} is absent (it lives beside the repository, in ../shared)")
    return path
