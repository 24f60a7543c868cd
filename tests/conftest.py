"""Shared fixtures: the structure datasets live outside the repo (../shared/datasets)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATASETS = Path(os.environ.get("POCKNET_DATASETS", REPO.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def datasets() -> Path:
    """Root of the shared datasets; every data test needs it, so its absence is an error."""
    if not (DATASETS / "p2rank-test").is_dir():
        pytest.fail(f"datasets not found at {DATASETS}; set POCKNET_DATASETS")
    return DATASETS


@pytest.fixture(scope="session")
def p2rank_test(datasets: Path) -> Path:
    return datasets / "p2rank-test"


@pytest.fixture(scope="session")
def structure_1a82a(p2rank_test: Path):
    from pocknet.structure.reader import load_structure

    return load_structure(p2rank_test / "liganated" / "1a82a.pdb")


@pytest.fixture(scope="session")
def features_1a82a(p2rank_test: Path):
    from pocknet.featurize.features import FeaturizeConfig, featurize_file

    return featurize_file(p2rank_test / "liganated" / "1a82a.pdb", FeaturizeConfig())
