"""The data_engineering pipeline end to end, through `kedro run`, in a scratch copy of the project."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pocknet.featurize.feature_files import load_features

REPO = Path(__file__).resolve().parents[2]


def kedro_project(tmp_path: Path, params: dict) -> Path:
    """A copy of the project's config with its own params.yaml; code comes from the installed package."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "pyproject.toml", project)
    shutil.copytree(REPO / "conf", project / "conf", symlinks=True)
    (project / "src").mkdir()  # Kedro wants the folder; the code is the installed package
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    return project


def run_kedro(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, KEDRO_DISABLE_TELEMETRY="true", DO_NOT_TRACK="1")
    kedro = Path(sys.executable).with_name("kedro")
    return subprocess.run([str(kedro), *args], cwd=project, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, p2rank_test):
    tmp = tmp_path_factory.mktemp("de")
    raw = tmp / "raw" / "mini"
    raw.mkdir(parents=True)
    (raw / "1a82a.pdb").symlink_to(p2rank_test / "liganated" / "1a82a.pdb")
    (raw / "1fbl.cif").symlink_to(p2rank_test / "1fbl.cif")
    (raw / "broken.pdb").write_bytes(b"\x00\x01 not a structure" * 50)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data_engineering"].update(data_root=str(tmp / "raw"), datasets=["mini", "absent"], save_every=1)
    project = kedro_project(tmp, params)
    result = run_kedro(project, "run", "--pipelines", "data_engineering")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_summary_counts_and_failures_table(finished_run):
    out = finished_run / "data" / "02_features"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["proteins"] == 2
    assert summary["failures"] == 1 and summary["missing_datasets"] == 1
    assert summary["points"] > 1000 and 0 < summary["positives"] < summary["points"]
    failures = pd.read_csv(out / "failures.csv")
    broken = failures[failures["id"] == "mini/broken.pdb"]
    assert len(broken) == 1 and "broken.pdb: binary data" in broken["error"].iloc[0]
    assert "absent" in set(failures["id"])


def test_one_feature_file_per_protein_nothing_half_written(finished_run):
    proteins = finished_run / "data" / "02_features" / "proteins" / "mini"
    assert sorted(p.name for p in proteins.iterdir()) == ["1a82a.pdb.npz", "1fbl.cif.npz"]
    assert not list((finished_run / "data").rglob("*.tmp"))
    features = load_features(proteins / "1a82a.pdb.npz")
    assert features.id == "mini/1a82a.pdb" and features.n_positives > 0
    log = pd.read_csv(finished_run / "data" / "02_features" / "featurization_log.csv")
    assert log.loc[log["id"] == "mini/1a82a.pdb", "points"].item() == features.n_points


def test_registry_lists_data_engineering():
    result = run_kedro(REPO, "registry", "list")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "- data_engineering" in result.stdout
