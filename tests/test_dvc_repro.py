"""`dvc repro h5_assembly` on a clean copy of the project, with `esm: none` and with a tiny ESM2.

Slow-ish (about a minute): it runs data_engineering on p2rank-test, then embedding and
h5_assembly twice. It also checks that data_engineering reproduces the committed dvc.lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from pocknet.embeddings import EmbeddingConfig, EsmEmbedder
from pocknet.feature_files import load_features
from pocknet.h5store import H5Reader, validate
from pocknet.neighbours import nearest_residues
from pocknet.residue_chains import protein_residue_embeddings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path) -> str:
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
    )  # fmt: skip
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory, p2rank_test) -> Path:
    """The project's files as git would check them out (tracked + new, not ignored), nothing else."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    root = tmp_path_factory.mktemp("clone") / "pocknet"
    for rel in filter(None, listed):
        src, dst = REPO / rel, root / rel
        if not (src.exists() or src.is_symlink()):
            continue  # deleted in the work tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)
    (root / "data" / "01_raw" / "p2rank-test").symlink_to(p2rank_test)
    # CI-sized study: p2rank-test instead of CHEN11 + BU48, a short training run
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data_engineering"]["datasets"] = ["p2rank-test"]
    params["training"].update(max_epochs=2, batch_size=4096)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    stages = yaml.safe_load((root / "dvc.yaml").read_text())
    stages["stages"]["data_engineering"]["deps"][:2] = ["${data_engineering.data_root}/p2rank-test"]
    (root / "dvc.yaml").write_text(yaml.safe_dump(stages, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "copy"], root)
    return root


def test_repro_with_esm_none(clean_copy):
    _run(["dvc", "repro", "h5_assembly"], clean_copy)
    summary = json.loads((clean_copy / "data" / "04_h5" / "summary.json").read_text())
    assert summary["embedding_model"] == "none" and summary["embedding_dim"] == 0
    assert summary["proteins"] == 19 and summary["train"]["positives"] > 0 and summary["val"]["proteins"] > 0
    validate(clean_copy / "data" / "04_h5" / "training_set.h5")


def test_repro_swa_trains_checkpoints_and_averages(clean_copy):
    _run(["dvc", "repro", "swa"], clean_copy)
    models = clean_copy / "data" / "05_models"
    assert sorted(p.name for p in (models / "checkpoints").glob("*.ckpt")) == ["epoch=000.ckpt", "epoch=001.ckpt"]
    metrics = json.loads((models / "swa_metrics.json").read_text())
    assert metrics["epochs"] and metrics["bn_samples"] > 0 and 0.0 <= metrics["threshold"] <= 1.0
    assert (models / "swa_model.pt").is_file() and (models / "model.pt").is_file()


def test_repro_with_tiny_esm2(clean_copy):
    model = clean_copy / "data" / "00_models" / "esm2_t2_tiny.pt"
    _run(["pocknet", "esm", "tiny", str(model)], clean_copy)
    params_path = clean_copy / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["embedding"]["model"] = "data/00_models/esm2_t2_tiny.pt"
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    out = _run(["dvc", "repro", "h5_assembly"], clean_copy)
    assert "Stage 'data_engineering' didn't change, skipping" in out
    h5 = clean_copy / "data" / "04_h5" / "training_set.h5"
    validate(h5)
    with H5Reader(h5) as reader:
        assert reader.attrs["embedding_model"] == "esm2_t2_tiny" and reader.embedding_dim == 32
        batch = reader.batch([0, reader.n_points // 2, reader.n_points - 1])
        assert batch["neighbour_embedding"].shape == (3, reader.k, 32)
    _check_embedding_rows(clean_copy, h5, model)
    cached = list((clean_copy / "data" / "03_embeddings" / "cache" / "esm2_t2_tiny").rglob("*.npy"))
    assert len(cached) > 0
    # a second repro has nothing to do
    assert "didn't change" in _run(["dvc", "repro", "h5_assembly"], clean_copy)


def _check_embedding_rows(root: Path, h5: Path, model: Path) -> None:
    """Random points: the rows reached through `residue` and `neighbours` hold the ESM2 vectors
    of exactly those residues (the original PockNet's neighbour indices pointed at wrong rows)."""
    embedder = EsmEmbedder(EmbeddingConfig(model=str(model)))
    rng = np.random.default_rng(0)
    with H5Reader(h5) as reader:
        table = reader.proteins()
        for p in rng.choice(reader.n_proteins, size=3, replace=False):
            features = load_features(root / "data" / "02_features" / "proteins" / f"{table['id'][p]}.npz")
            per_residue = protein_residue_embeddings(features, lambda seq: embedder.embed([seq])[0])
            start, stop = table["point_offset"][p], table["point_offset"][p + 1]
            rows = np.sort(rng.choice(np.arange(start, stop), size=20, replace=False))
            batch = reader.batch(rows)
            local = rows - start
            np.testing.assert_allclose(batch["centre_embedding"], per_residue[features.point_residue[local]], atol=2e-2, rtol=1e-2)
            neighbours, _ = nearest_residues(features, reader.k, reader.attrs["neighbour_distance"])
            np.testing.assert_array_equal(batch["neighbours"] - table["residue_offset"][p], neighbours[local])
            np.testing.assert_allclose(batch["neighbour_embedding"], per_residue[neighbours[local]], atol=2e-2, rtol=1e-2)
