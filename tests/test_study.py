"""`pocknet report study`: one short row per experiment, P2Rank as the reference row."""

from __future__ import annotations

import json
from pathlib import Path

from pocknet.evaluate.study import REPORTING_METRICS, VALIDATION_METRICS, format_table, study_table, workspace_row


def _metrics(root: Path, val: float, holo: float) -> None:
    (root / "data" / "05_models").mkdir(parents=True)
    (root / "data" / "07_reporting").mkdir(parents=True)
    (root / VALIDATION_METRICS).write_text(json.dumps({"val_pr_auc": val, "val_success_at_1": 0.5}))
    sets = {
        "bu48/holo": {"dca_top_n": holo, "dca_top_n2": 0.9, "n_ligands": 65},
        "coach420/structures": {"dca_top_n": 0.717, "dca_top_n2": 0.783},
        "coach420/structures (P2Rank published)": {"dca_top_n": 0.715, "dca_top_n2": 0.783},
    }
    (root / REPORTING_METRICS).write_text(json.dumps(sets))
    (root / "params.yaml").write_text("training:\n  seed: 13\n")


def test_workspace_and_experiment_rows(tmp_path: Path) -> None:
    _metrics(tmp_path, 0.3259, 0.8)
    experiment = {"name": "exp-a", "training.seed": 21, f"{VALIDATION_METRICS}:val_pr_auc": 0.31,
                  f"{REPORTING_METRICS}:bu48/holo.dca_top_n": 0.75}  # fmt: skip
    table = study_table([workspace_row(tmp_path), experiment])
    assert list(table.columns) == ["experiment", "seed", "val PR-AUC", "val top-1", "bu48/holo DCA n",
                                   "bu48/holo DCA n+2", "coach420 DCA n", "coach420 DCA n+2"]  # fmt: skip
    rows = table.to_dict("records")
    assert rows[0]["experiment"] == "workspace" and rows[0]["seed"] == "13" and rows[0]["val PR-AUC"] == "32.6"
    assert rows[0]["bu48/holo DCA n"] == "80.0" and rows[1]["bu48/holo DCA n"] == "75.0"
    assert rows[1]["coach420 DCA n"] == "-"  # missing in that experiment: a dash, never nan
    assert rows[2]["experiment"] == "P2Rank published" and rows[2]["coach420 DCA n"] == "71.5"
    text = format_table(table)
    assert "nan" not in text and max(len(line) for line in text.splitlines()) < 160
