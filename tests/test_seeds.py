"""Seed sweeps: t-intervals, summaries, and parsing a real `dvc exp show --json`."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pocknet.errors import ConfigError, PockNetError
from pocknet.evaluate.experiments import experiments_from_dvc_json
from pocknet.evaluate.seeds import (
    SUMMARY_COLUMNS,
    run_seed_report,
    seed_report,
    summarize_seeds,
    t_interval,
    write_seed_report,
)

BIN = Path(sys.executable).parent

# --------------------------------------------------------------------------------------
# t_interval / summarize_seeds
# --------------------------------------------------------------------------------------


def test_t_interval_matches_hand_computation():
    # mean 2.5, s = sqrt(5/3) = 1.2910, t(0.975, 3) = 3.1824 → 3.1824 * 1.2910 / 2 = 2.0543
    mean, half = t_interval([1, 2, 3, 4])
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(2.0543, abs=1e-4)


def test_t_interval_other_confidence_and_nans():
    mean, half = t_interval([1.0, np.nan, 2.0, 3.0, 4.0], confidence=0.90)
    assert mean == pytest.approx(2.5)
    assert half == pytest.approx(2.3534 * math.sqrt(5 / 3) / 2, abs=1e-4)  # t(0.95, 3) = 2.3534


def test_t_interval_degenerate():
    mean, half = t_interval([0.7])
    assert mean == 0.7 and math.isnan(half)
    assert all(math.isnan(v) for v in t_interval([np.nan]))
    assert all(math.isnan(v) for v in t_interval([]))
    assert t_interval([0.5, 0.5, 0.5]) == (0.5, 0.0)
    with pytest.raises(ConfigError):
        t_interval([1, 2], confidence=95)


def test_summarize_seeds_columns_and_values():
    frame = pd.DataFrame(
        {
            "seed": [13, 21, 34, 55],
            "name": ["a", "b", "c", "d"],  # non-numeric: ignored
            "dca_top_n": [1.0, 2.0, 3.0, 4.0],
            "pr_auc": [0.4, np.nan, 0.5, 0.6],
        }
    )
    summary = summarize_seeds(frame)
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert summary["metric"].tolist() == ["dca_top_n", "pr_auc"]
    row = summary.set_index("metric").loc["dca_top_n"]
    assert row["n"] == 4 and row["mean"] == pytest.approx(2.5)
    assert row["ci95_half_width"] == pytest.approx(2.0543, abs=1e-4)
    assert row["ci95_low"] == pytest.approx(2.5 - 2.0543, abs=1e-4)
    assert row["ci95_high"] == pytest.approx(2.5 + 2.0543, abs=1e-4)
    assert (row["min"], row["max"]) == (1.0, 4.0)
    assert summary.set_index("metric").loc["pr_auc", "n"] == 3
    with pytest.raises(ConfigError, match="seed column"):
        summarize_seeds(frame, seed_column="training.seed")


# --------------------------------------------------------------------------------------
# dvc exp show --json parsing (hand-written copy of the DVC 3.x layout)
# --------------------------------------------------------------------------------------


def _rev(rev: str, name: str | None, seed: int, metric: float | None) -> dict:
    metrics = (
        {"data/07_reporting/metrics.json": {"data": {"coach420": {"dca_top_n": metric}}}}
        if metric is not None
        else {"data/07_reporting/metrics.json": {"error": {"type": "FileNotFoundError", "msg": "x"}}}
    )
    return {
        "rev": rev,
        "name": name,
        "data": {
            "rev": rev,
            "timestamp": None,
            "params": {
                "params.yaml": {"data": {"training": {"seed": seed, "lr": 0.01}, "datasets": ["a", "b"]}},
                "conf/extra.yaml": {"data": {"k": 1}},
            },
            "metrics": metrics,
            "deps": {},
            "outs": {},
            "meta": {},
        },
        "error": None,
        "experiments": None,
    }


SYNTHETIC = [
    {**_rev("workspace", None, 21, 0.7), "rev": "workspace"},
    {
        **_rev("aaa", "main", 1, None),
        "experiments": [
            {"revs": [_rev("e1", "exp-one", 13, 0.6)], "executor": None, "name": "exp-one"},
            {"revs": [_rev("e2", "exp-two", 21, 0.7)], "executor": {"state": "success"}, "name": "exp-two"},
            {"revs": [_rev("e3", "exp-q", 34, None)], "executor": {"state": "queued"}, "name": "exp-q"},
            {"revs": [_rev("e4", "exp-f", 55, 0.1)], "executor": {"state": "failed"}, "name": "exp-f"},
        ],
    },
]


def test_experiments_from_dvc_json_flattening_rule():
    frame = experiments_from_dvc_json(SYNTHETIC)
    assert frame["name"].tolist() == ["exp-one", "exp-two"]  # no workspace/baseline/queued/failed
    assert frame["rev"].tolist() == ["e1", "e2"]
    assert frame["baseline"].tolist() == ["main", "main"]
    assert frame["training.seed"].tolist() == [13, 21]
    assert frame["conf/extra.yaml:k"].tolist() == [1, 1]
    assert frame["datasets"].tolist() == ['["a", "b"]', '["a", "b"]']
    metric = "data/07_reporting/metrics.json:coach420.dca_top_n"
    assert frame[metric].tolist() == [0.6, 0.7]
    assert frame.attrs["metric_columns"] == [metric]
    assert "training.seed" in frame.attrs["param_columns"]


def test_experiments_from_dvc_json_without_experiments():
    frame = experiments_from_dvc_json([SYNTHETIC[0], {**SYNTHETIC[1], "experiments": None}])
    assert frame.empty and list(frame.columns)[:2] == ["name", "rev"]


def test_seed_report_and_files(tmp_path):
    summary = seed_report(experiments_from_dvc_json(SYNTHETIC))
    assert summary["metric"].tolist() == ["data/07_reporting/metrics.json:coach420.dca_top_n"]
    assert summary.loc[0, "mean"] == pytest.approx(0.65)
    md, csv = write_seed_report(summary, tmp_path / "out")
    assert (md.name, csv.name) == ("seeds.md", "seeds.csv")
    text = md.read_text(encoding="utf-8")
    assert "±" in text and "| data/07_reporting/metrics.json:coach420.dca_top_n | 2 | 0.65 ± " in text
    back = pd.read_csv(csv)
    assert list(back.columns) == SUMMARY_COLUMNS
    assert back.loc[0, "ci95_half_width"] == pytest.approx(summary.loc[0, "ci95_half_width"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["seeds.csv", "seeds.md"]  # no temp files


def test_seed_report_errors():
    unreadable = [{**SYNTHETIC[1], "experiments": [{"revs": [_rev("e", "x", 3, None)], "executor": None}]}]
    with pytest.raises(ConfigError, match="data/07_reporting/metrics.json: x"):
        seed_report(experiments_from_dvc_json(unreadable))
    frame = experiments_from_dvc_json(SYNTHETIC)
    with pytest.raises(ConfigError, match="seed parameter"):
        seed_report(frame, seed_param="model.seed")
    with pytest.raises(ConfigError, match="not found"):
        seed_report(frame, metrics=["nope"])


def test_seed_report_single_seed_has_nan_half_width(tmp_path):
    frame = pd.DataFrame({"training.seed": [7], "m.json:auc": [0.9]})  # hand-built: ':' rule
    summary = seed_report(frame)
    assert summary.loc[0, "n"] == 1 and math.isnan(summary.loc[0, "ci95_half_width"])
    md, _ = write_seed_report(summary, tmp_path)
    assert "0.9 ± n/a" in md.read_text(encoding="utf-8")


# --------------------------------------------------------------------------------------
# A real DVC repository with two experiments
# --------------------------------------------------------------------------------------

_STAGE = """\
stages:
  train:
    cmd: >-
      python -c "import json, yaml;
      seed = yaml.safe_load(open('params.yaml'))['training']['seed'];
      json.dump({'coach420': {'dca_top_n': seed / 100}, 'auc': 0.5 + seed / 1000},
      open('metrics.json', 'w'))"
    params:
      - training.seed
    metrics:
      - metrics.json:
          cache: false
"""


def _env() -> dict[str, str]:
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
    )  # fmt: skip


def _run(cmd: list[str], cwd: Path) -> str:
    result = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"{cmd}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
    return result.stdout


def _dvc(*args: str) -> list[str]:
    return [sys.executable, "-m", "dvc", *args]


def _init_repo(root: Path) -> Path:
    root.mkdir()
    _run(["git", "init", "-q"], root)
    _run(_dvc("init", "-q"), root)
    (root / "params.yaml").write_text("training:\n  seed: 1\n  lr: 0.01\n")
    (root / "dvc.yaml").write_text(_STAGE)
    # metrics.json stays git-tracked (cache: false): an experiment commit that ignored it
    # would list the metric as FileNotFoundError
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "init"], root)
    return root


@pytest.fixture(scope="module")
def sweep_repo(tmp_path_factory) -> Path:
    root = _init_repo(tmp_path_factory.mktemp("dvc") / "repo")
    for seed in (13, 21):
        _run(_dvc("exp", "run", "-q", "-S", f"training.seed={seed}"), root)
    return root


@pytest.mark.slow
def test_experiments_from_real_dvc_exp_show(sweep_repo):
    data = json.loads(_run(_dvc("exp", "show", "--json"), sweep_repo))
    assert isinstance(data, list) and data[0]["rev"] == "workspace"
    frame = experiments_from_dvc_json(data)
    assert len(frame) == 2
    assert sorted(frame["training.seed"].tolist()) == [13, 21]
    assert frame["rev"].str.fullmatch(r"[0-9a-f]{40}").all()
    assert frame["name"].notna().all()
    by_seed = frame.set_index("training.seed")
    assert by_seed.loc[13, "metrics.json:coach420.dca_top_n"] == pytest.approx(0.13)
    assert by_seed.loc[21, "metrics.json:auc"] == pytest.approx(0.521)
    assert frame.attrs["metric_columns"] == ["metrics.json:coach420.dca_top_n", "metrics.json:auc"]
    summary = seed_report(frame)
    assert summary.set_index("metric").loc["metrics.json:coach420.dca_top_n", "mean"] == pytest.approx(0.17)


@pytest.mark.slow
def test_parsed_numbers_equal_dvc_api_exp_show(sweep_repo):
    """DVC's own API (a display table: bare names, no metric/param split) has the same numbers."""
    import dvc.api

    frame = experiments_from_dvc_json(json.loads(_run(_dvc("exp", "show", "--json"), sweep_repo)))
    api = {r["Experiment"]: r for r in dvc.api.exp_show(str(sweep_repo)) if r["typ"] != "baseline"}
    assert sorted(api) == sorted(frame["name"])
    for row in frame.to_dict("records"):
        other = api[row["name"]]
        assert row["rev"].startswith(other["rev"]) and other["training.seed"] == row["training.seed"]
        for column in frame.attrs["metric_columns"]:
            bare = column.split(":", 1)[1]
            assert other.get(bare, other.get(column)) == row[column]  # exact: neither side rounds


@pytest.mark.slow
def test_run_seed_report(sweep_repo, tmp_path):
    md, csv = run_seed_report(sweep_repo, tmp_path / "reports")
    assert "±" in md.read_text(encoding="utf-8")
    summary = pd.read_csv(csv)
    assert summary["n"].tolist() == [2, 2]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["seeds.csv", "seeds.md"]


@pytest.mark.slow
def test_run_seed_report_errors(tmp_path):
    with pytest.raises(PockNetError, match="not a folder"):
        run_seed_report(tmp_path / "missing", tmp_path / "out")
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(PockNetError, match="dvc exp show --json` failed"):
        run_seed_report(plain, tmp_path / "out")
    empty = _init_repo(tmp_path / "empty")
    with pytest.raises(PockNetError, match="no finished DVC experiments"):
        run_seed_report(empty, tmp_path / "out")
    assert not (tmp_path / "out").exists()
