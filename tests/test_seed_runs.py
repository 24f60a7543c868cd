"""Saved runs: a seed sweep kept in git over several sittings (pocknet.evaluate.seed_runs)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pocknet.cli import cli
from pocknet.errors import PockNetError
from pocknet.evaluate.seed_runs import MODEL_FILE, metrics_paths, runs_table, save_run
from pocknet.evaluate.seeds import seed_report

FINAL, REPORT = "data/05_models/final_metrics.json", "data/07_reporting/metrics.json"
DVC_YAML = {
    "stages": {
        "training": {"cmd": "train", "outs": ["data/05_models/model.pt"]},
        "finalize": {"cmd": "finalize", "metrics": [{FINAL: {"cache": False}}]},
        "reporting": {"cmd": "report", "metrics": [{REPORT: {"cache": False}}]},
    }
}


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _workspace(root: Path, seed: int, dca: float, code: str = "v1") -> Path:
    """A finished run: dvc.yaml, params.yaml, a dvc.lock matching its outputs, metrics and a model."""
    files = {
        FINAL: json.dumps({"val_pr_auc": 0.4 + dca / 10, "pocket_seed_threshold": 0.98}).encode(),
        REPORT: json.dumps({"coach420": {"dca_top_n": dca}}).encode(),
        MODEL_FILE: f"model {seed}".encode(),
        "data/05_models/model.pt": f"trained {seed}".encode(),
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML))
    params = {"training": {"seed": seed, "lr": 0.001}, "pockets": {"seed_threshold": "validation"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))

    def out(name):
        return {"path": name, "hash": "md5", "md5": _md5(files[name])}

    code_dep = {"path": "src/pocknet/train", "hash": "md5", "md5": _md5(code.encode())}
    lock = {"schema": "2.0", "stages": {
        "training": {"cmd": "train", "deps": [code_dep], "params": {"params.yaml": {"training": params["training"]}},
                     "outs": [out("data/05_models/model.pt")]},
        "finalize": {"cmd": "finalize", "deps": [out("data/05_models/model.pt")],  # written upstream: may differ
                     "params": {"params.yaml": {"pockets": params["pockets"]}}, "outs": [out(FINAL), out(MODEL_FILE)]},
        "reporting": {"cmd": "report", "deps": [out(MODEL_FILE)], "outs": [out(REPORT)]},
    }}  # fmt: skip
    (root / "dvc.lock").write_text(yaml.safe_dump(lock))
    return root


def test_metrics_paths_come_from_dvc_yaml(tmp_path):
    assert metrics_paths(_workspace(tmp_path, 1, 0.7)) == [FINAL, REPORT]


def test_saved_runs_differing_only_in_the_seed_make_the_seed_table(tmp_path):
    runs = tmp_path / "runs"
    for seed, dca in ((13, 0.70), (14, 0.72), (15, 0.68)):
        saved = save_run(_workspace(tmp_path / f"ws{seed}", seed, dca), runs / f"seed-{seed}")
        assert (saved / MODEL_FILE).read_bytes() == f"model {seed}".encode()
        assert not any(p.name.startswith(".") for p in runs.iterdir())  # no staging folder left
    table = runs_table(sorted(runs.iterdir()))
    assert table["name"].tolist() == ["seed-13", "seed-14", "seed-15"]
    assert table["training.seed"].tolist() == [13, 14, 15]
    assert table[f"{REPORT}:coach420.dca_top_n"].tolist() == [0.70, 0.72, 0.68]
    summary = seed_report(table).set_index("metric")
    row = summary.loc[f"{REPORT}:coach420.dca_top_n"]
    assert row["n"] == 3 and row["mean"] == pytest.approx(0.70)
    assert "training.lr" not in summary.index  # a param, not a metric

    # the same through the CLI, given the folder of runs
    out = tmp_path / "report"
    result = CliRunner().invoke(cli, ["report", "seeds", "--runs", str(runs), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "coach420.dca_top_n" in (out / "seeds.md").read_text()


def test_a_run_with_other_code_or_settings_or_a_repeated_seed_is_refused(tmp_path):
    runs = tmp_path / "runs"
    save_run(_workspace(tmp_path / "a", 13, 0.7), runs / "a")
    save_run(_workspace(tmp_path / "b", 14, 0.7, code="v2"), runs / "b")
    with pytest.raises(PockNetError, match="differ in more than training.seed: training: src/pocknet/train"):
        runs_table([runs / "a", runs / "b"])
    save_run(_workspace(tmp_path / "c", 13, 0.75), runs / "c")
    with pytest.raises(PockNetError, match="share a training.seed"):
        runs_table([runs / "a", runs / "c"])
    other = _workspace(tmp_path / "d", 15, 0.7)
    lock = yaml.safe_load((other / "dvc.lock").read_text())
    lock["stages"]["training"]["params"]["params.yaml"]["training"]["lr"] = 0.01
    (other / "dvc.lock").write_text(yaml.safe_dump(lock))
    with pytest.raises(PockNetError, match="training.lr"):
        runs_table([runs / "a", save_run(other, runs / "d")])
    with pytest.raises(PockNetError, match="not a saved run"):
        runs_table([tmp_path / "a" / "data"])


def test_a_workspace_that_is_not_its_lock_is_not_saved(tmp_path):
    workspace = _workspace(tmp_path / "ws", 13, 0.7)
    (workspace / REPORT).write_text(json.dumps({"coach420": {"dca_top_n": 0.99}}))  # edited after the run
    with pytest.raises(PockNetError, match="differs from dvc.lock"):
        save_run(workspace, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()
    _workspace(workspace, 13, 0.7)
    save_run(workspace, tmp_path / "saved")
    with pytest.raises(PockNetError, match="never overwritten"):
        save_run(workspace, tmp_path / "saved")
