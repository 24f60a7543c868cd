"""`pocknet predict` / `pocknet info` end to end with the shipped model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pocknet.predict.predictor import default_model_path
from pocknet.structure.reader import load_structure

EXE = str(Path(sys.executable).with_name("pocknet"))
P2RANK_COLUMNS = ["name", "rank", "score", "probability", "sas_points", "surf_atoms", "center_x", "center_y",
                  "center_z", "residue_ids", "surf_atom_ids"]  # fmt: skip


def pocknet(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_1a82a_top_pocket_hits_atp_and_all_formats_written(tmp_path, p2rank_test):
    result = pocknet("predict", str(p2rank_test / "liganated" / "1a82a.pdb"), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    # (plus, where outputs copy the input beside the scripts, 1a82a.pdb_structure.pdb; no lock or temp file)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name != "1a82a.pdb_structure.pdb")
    assert names == sorted(
        ["1a82a.pdb_predictions.csv", "1a82a.pdb_residues.csv", "1a82a.pdb_points.pdb", "1a82a.pdb.pml",
         "1a82a.pdb.cxc", "1a82a.pdb.json"]
    )  # fmt: skip
    table = pd.read_csv(tmp_path / "1a82a.pdb_predictions.csv")
    assert list(table.columns) == P2RANK_COLUMNS and len(table) >= 1
    top = table.iloc[0][["center_x", "center_y", "center_z"]].to_numpy(dtype=float)
    atp = next(lig for lig in load_structure(p2rank_test / "liganated" / "1a82a.pdb").ligands if lig.name == "ATP")
    assert np.linalg.norm(atp.coords - top, axis=1).min() <= 4.0  # DCA of the top-ranked pocket
    summary = json.loads((tmp_path / "1a82a.pdb.json").read_text())
    assert summary["pockets"][0]["rank"] == 1
    assert "1a82a.pdb" in result.stdout  # the summary table


def test_folder_ds_mmcif_and_chains(tmp_path, p2rank_test):
    folder = pocknet("predict", str(p2rank_test / "liganated"), "-o", str(tmp_path / "f"), "--formats", "csv",
                     "--workers", "2")  # fmt: skip
    assert folder.returncode == 0, folder.stderr
    assert len(list((tmp_path / "f").glob("*_predictions.csv"))) == 5
    ds = pocknet("predict", str(p2rank_test / "basic.ds"), "-o", str(tmp_path / "d"), "--formats", "csv,json")
    assert ds.returncode == 0, ds.stderr
    assert {p.name for p in (tmp_path / "d").glob("*.json")} == {"2W83.pdb.json", "1fbl.pdb.json"}
    cif = pocknet("predict", str(p2rank_test / "1fbl.cif"), str(p2rank_test / "1fbl.pdb"), "-o", str(tmp_path / "c"),
                  "--formats", "csv")  # fmt: skip
    assert cif.returncode == 0, cif.stderr
    a = pd.read_csv(tmp_path / "c" / "1fbl.cif_predictions.csv")
    b = pd.read_csv(tmp_path / "c" / "1fbl.pdb_predictions.csv")
    pd.testing.assert_frame_equal(a.drop(columns="surf_atom_ids"), b.drop(columns="surf_atom_ids"))
    chains = pocknet("predict", str(p2rank_test / "2W83.pdb"), "--chains", "B", "-o", str(tmp_path / "b"),
                     "--formats", "csv")  # fmt: skip
    assert chains.returncode == 0, chains.stderr
    residues = pd.read_csv(tmp_path / "b" / "2W83.pdb_residues.csv", dtype={"chain": str})
    assert set(residues["chain"]) == {"B"}


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, src: d.joinpath("empty.pdb").write_text("") and None or d / "empty.pdb", "file is empty"),
        (lambda d, src: d.joinpath("lig.pdb").write_text(
            "".join(l + "\n" for l in src.read_text().splitlines() if l.startswith("HETATM"))) and d / "lig.pdb",
         "no protein atoms"),
    ],
    ids=["unreadable", "no-protein"],
)  # fmt: skip
def test_bad_structure_is_one_line_and_nonzero(tmp_path, p2rank_test, make, message):
    bad = make(tmp_path, p2rank_test / "liganated" / "1a82a.pdb")
    result = pocknet("predict", str(bad), "-o", str(tmp_path / "out"))
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and str(bad) in errors[0]


def test_unknown_chain_and_foreign_model(tmp_path, p2rank_test):
    result = pocknet("predict", str(p2rank_test / "liganated" / "1a82a.pdb"), "--chains", "Q", "-o", str(tmp_path))
    assert result.returncode != 0 and "chain(s) Q not found" in result.stderr
    bundle = torch.load(default_model_path(), weights_only=True)
    bundle["feature_names"] = list(reversed(bundle["feature_names"]))
    foreign = tmp_path / "foreign.pt"
    torch.save(bundle, foreign)
    result = pocknet("predict", str(p2rank_test / "liganated" / "1a82a.pdb"), "--model", str(foreign),
                     "-o", str(tmp_path / "out"))  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.strip() == f"error: {foreign}: model was trained on a different feature set than this PockNet computes"


def test_batch_continues_past_failures_and_timeouts(tmp_path, p2rank_test):
    (tmp_path / "junk.pdb").write_bytes(b"\x00junk" * 100)
    good = p2rank_test / "liganated" / "1t7qa.pdb"
    result = pocknet("predict", str(tmp_path / "junk.pdb"), str(good), "-o", str(tmp_path / "out"), "--formats", "csv")
    assert result.returncode == 1
    assert (tmp_path / "out" / "1t7qa.pdb_predictions.csv").is_file()
    assert "junk.pdb: binary data" in result.stderr
    assert result.stdout.splitlines()[-1] == f"wrote 1 structure(s) to {tmp_path / 'out'}; 1 failed"
    slow = pocknet("predict", str(p2rank_test / "2W83.pdb"), str(good), "-o", str(tmp_path / "slow"),
                   "--formats", "csv", "--timeout", "0.02")  # fmt: skip
    assert slow.returncode == 1 and "timed out after 0.02 s" in slow.stderr


def test_info_shows_bundled_model():
    result = pocknet("info")
    assert result.returncode == 0, result.stderr
    assert "pocknet_default.pt" in result.stdout and "embeddings: none" in result.stdout


def test_predict_imports_only_what_it_uses(tmp_path, p2rank_test):
    """Start-up time: the parent never imports numpy or torch; a worker predicts and writes without pandas & co."""
    structure = str(p2rank_test / "liganated" / "1a82a.pdb")
    parent = (
        "import sys\n"
        f"sys.argv = ['pocknet', 'predict', {structure!r}, '-o', {str(tmp_path / 'cli')!r}]\n"
        "from pocknet.cli import main\n"
        "main()\n"
        "print('LOADED', *sorted(m for m in ('numpy', 'torch', 'scipy', 'pandas', 'gemmi') if m in sys.modules))\n"
    )
    worker = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pocknet.predict.formats import DEFAULT_FORMATS\n"
        "from pocknet.predict.jobs import PredictJob\n"
        "from pocknet.predict.predictor import Predictor\n"
        "from pocknet.predict.workers import _run_one\n"
        f"result, _ = _run_one(Predictor(), PredictJob(Path({structure!r}), '1a82a.pdb'), Path({str(tmp_path)!r}),\n"
        "                      DEFAULT_FORMATS, None, None)\n"
        "assert result.ok, result.error\n"
        "heavy = ('pandas', 'h5py', 'sklearn', 'lightning', 'matplotlib', 'kedro', 'Bio')\n"
        "print('LOADED', *sorted(m for m in heavy if m in sys.modules))\n"
    )
    for code in (parent, worker):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip().splitlines()[-1] == "LOADED", run.stdout
