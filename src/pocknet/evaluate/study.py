"""The study at a glance: the few numbers that matter, one row per experiment.

``dvc exp show`` has ~130 columns and collapses them to ``…`` in a terminal; ``dvc
metrics show`` prints 6 000-character rows. A reader wants, per experiment: the seed,
validation PR-AUC and top-1 success (what choices are made on), and DCA success top-n /
top-(n+2) on every evaluation set (what is reported, never chosen on), with P2Rank's
published predictions as the reference row.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pocknet.errors import PockNetError
from pocknet.evaluate.experiments import dvc_exp_show, flatten_keys, experiments_from_dvc_json

__all__ = ["VALIDATION_METRICS", "REPORTING_METRICS", "study_table", "workspace_row", "format_table", "run_study_report"]

VALIDATION_METRICS = "data/05_models/final_metrics.json"
REPORTING_METRICS = "data/07_reporting/metrics.json"
_REFERENCE_MARK = "(P2Rank published)"


def workspace_row(repo_dir: str | Path) -> dict[str, Any]:
    """The working tree's metrics, named like :func:`experiments_from_dvc_json` columns."""
    repo_dir = Path(repo_dir)
    row: dict[str, Any] = {"name": "workspace"}
    for rel in (VALIDATION_METRICS, REPORTING_METRICS):
        path = repo_dir / rel
        if path.is_file():
            flat: dict[str, Any] = {}
            flatten_keys(json.loads(path.read_text(encoding="utf-8")), "", flat)
            row.update({f"{rel}:{k}": v for k, v in flat.items()})
    params = repo_dir / "params.yaml"
    if params.is_file():
        import yaml

        seed = (yaml.safe_load(params.read_text(encoding="utf-8")) or {}).get("training", {}).get("seed")
        row["training.seed"] = seed
    return row


def _percent(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(number) else f"{100 * number:.1f}"


def _sets(columns: list[str]) -> list[str]:
    prefix, suffix = f"{REPORTING_METRICS}:", ".dca_top_n"
    names = {c[len(prefix) : -len(suffix)] for c in columns if c.startswith(prefix) and c.endswith(suffix)}
    return sorted(n for n in names if _REFERENCE_MARK not in n)


def _short(set_name: str) -> str:
    """``coach420/structures`` → ``coach420``: column headers that fit a terminal."""
    return set_name.removesuffix("/structures")


def study_table(rows: list[Mapping[str, Any]]) -> pd.DataFrame:
    """Headline columns for each row (experiment or workspace), plus P2Rank reference rows.

    Percentages: validation PR-AUC and success@1, then ``<set> DCA n / n+2`` per set.
    """
    frame = pd.DataFrame(list(rows))
    sets = _sets(list(frame.columns))
    out = pd.DataFrame(
        {
            "experiment": frame.get("name", pd.Series(["?"] * len(frame))).fillna("?"),
            "seed": frame.get("training.seed", pd.Series([None] * len(frame))).map(
                lambda v: "-" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            ),
            "val PR-AUC": frame.get(f"{VALIDATION_METRICS}:val_pr_auc", pd.Series([None] * len(frame))).map(_percent),
            "val top-1": frame.get(f"{VALIDATION_METRICS}:val_success_at_1", pd.Series([None] * len(frame))).map(_percent),
        }
    )
    for name in sets:
        for key, label in (("dca_top_n", "n"), ("dca_top_n2", "n+2")):
            column = frame.get(f"{REPORTING_METRICS}:{name}.{key}", pd.Series([None] * len(frame)))
            out[f"{_short(name)} DCA {label}"] = column.map(_percent).values
    references = []
    for name in sets:
        ref = f"{REPORTING_METRICS}:{name} {_REFERENCE_MARK}.dca_top_n"
        if ref in frame.columns and frame[ref].notna().any():
            row = {c: "" for c in out.columns}
            row.update(experiment="P2Rank published", seed="-", **{"val PR-AUC": "-", "val top-1": "-"})
            row[f"{_short(name)} DCA n"] = _percent(frame[ref].dropna().iloc[0])
            row[f"{_short(name)} DCA n+2"] = _percent(frame[f"{REPORTING_METRICS}:{name} {_REFERENCE_MARK}.dca_top_n2"].dropna().iloc[0])
            references.append(row)
    if references:
        out = pd.concat([out, pd.DataFrame(references)], ignore_index=True)
    return out


def format_table(table: pd.DataFrame) -> str:
    """A Markdown table (readable as plain text too)."""
    header = list(table.columns)
    cells = [[str(v) for v in row] for row in table.itertuples(index=False)]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    line = lambda values: "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in cells)])


def run_study_report(repo_dir: str | Path, all_commits: bool = False, experiments: bool = True) -> str:
    """``pocknet report study``: the workspace and every finished DVC experiment, as a table."""
    repo_dir = Path(repo_dir)
    if not (repo_dir / "dvc.yaml").is_file():
        raise PockNetError(f"{repo_dir}: not a PockNet DVC project (no dvc.yaml)")
    rows = [workspace_row(repo_dir)]
    if experiments:
        frame = experiments_from_dvc_json(dvc_exp_show(repo_dir, all_commits))
        rows += frame.to_dict("records")
    table = study_table(rows)
    note = (
        "Percent. val: validation split (what choices are made on); the other columns are "
        "evaluation sets, never chosen on."
    )
    return format_table(table) + "\n\n" + note
