"""Thin nodes: pocknet.evaluate.evaluation scores the sets, pocknet.evaluate.report draws and writes the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from pocknet.predict.calibration import pocket_calibration_metrics, pocket_hits
from pocknet.evaluate.evaluation import (
    as_ligand_lookup,
    evaluate_set,
    evaluation_labels,
    pocket_records,
    read_p2rank_centres,
    set_of,
)
from pocknet.featurize.features import ProteinFeatures
from pocknet.predict.predictor import Predictor
from pocknet.evaluate.report import (
    calibration_tables,
    html_report,
    metrics_table,
    plot_pr_curve,
    plot_reliability_diagram,
    plot_success_curve,
    pr_curve_points,
)


def _apo_pairs(data_root: Path, pairs_file: str | None) -> dict[str, str]:
    if not pairs_file or not (data_root / pairs_file).is_file():
        return {}
    pairs = pd.read_csv(data_root / pairs_file)
    base = Path(pairs_file).parent
    return {f"{base.as_posix()}/{row.apo_file}": str(data_root / base / row.holo_file) for row in pairs.itertuples()}


def evaluate_predictions(
    predictions: pd.DataFrame,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    final_model: dict[str, Any],
    reporting: dict[str, Any],
    data_engineering: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(metrics.json, per-protein table, success-vs-cutoff curves, PR curves) for every evaluated set."""
    data_root = Path(data_engineering["data_root"])
    cutoffs = np.arange(0.0, 12.01, 0.5)
    lookup = as_ligand_lookup(protein_features, _apo_pairs(data_root, reporting.get("apo_pairs")))
    predictor = Predictor(bundle=final_model)
    chosen = splits[splits["split"].isin(reporting["splits"])].sort_values("protein")
    by_protein = {pid: g.sort_values("rank") for pid, g in predictions.groupby("protein")}

    def centres(pid: str) -> np.ndarray:
        group = by_protein.get(pid)
        return np.zeros((0, 3)) if group is None else group[["center_x", "center_y", "center_z"]].to_numpy(float)

    metrics: dict[str, Any] = {}
    tables, curves, pr_rows = [], [], []
    for name, group in chosen.groupby(chosen["protein"].map(set_of)):
        proteins = group["protein"].tolist()
        labels, scores, owner = [], [], []
        for i, pid in enumerate(proteins):
            features = protein_features[pid]()
            labels.append(evaluation_labels(features, lookup, data_engineering["labels"]))
            scores.append(predictor.score(features))
            owner.append(np.full(features.n_points, i))
        points = (np.concatenate(labels), np.concatenate(scores), np.concatenate(owner))
        records = pocket_records(proteins, centres, lookup)
        set_metrics, per_protein, curve = evaluate_set(records, cutoffs, points, final_model["threshold"])
        # calibrated pocket probabilities against DCA hits (proteins with ligands; evaluation only)
        with_ligands = [r for r in records if r["ligands"] and r["protein"] in by_protein]
        if with_ligands:
            set_metrics.update(pocket_calibration_metrics(
                np.concatenate([by_protein[r["protein"]]["probability"].to_numpy(float) for r in with_ligands]),
                np.concatenate([pocket_hits(r["centres"], r["ligands"]) for r in with_ligands]),
            ))  # fmt: skip
        metrics[name] = set_metrics
        tables.append(per_protein.assign(set=name, method="pocknet"))
        curves.append(pd.DataFrame({"set": name, "method": "pocknet", "cutoff": cutoffs, "success": curve}))
        if not np.all(points[0] != 1):
            pr_rows.append(pr_curve_points(points[0], points[1]).assign(set=name))
        reference = reporting.get("p2rank_predictions", {}).get(name)
        if reference and (data_root / reference).is_dir():
            folder = data_root / reference
            p2rank = pocket_records(
                proteins, lambda pid: read_p2rank_centres(folder / f"{Path(pid).name}_predictions.csv"), lookup
            )
            ref_metrics, ref_table, ref_curve = evaluate_set(p2rank, cutoffs)
            metrics[f"{name} (P2Rank published)"] = ref_metrics
            tables.append(ref_table.assign(set=name, method="p2rank"))
            curves.append(pd.DataFrame({"set": name, "method": "p2rank", "cutoff": cutoffs, "success": ref_curve}))
    return metrics, pd.concat(tables, ignore_index=True), pd.concat(curves, ignore_index=True), pd.concat(pr_rows, ignore_index=True)


def render_report(
    metrics: dict[str, Any],
    success_curves: pd.DataFrame,
    pr_curves: pd.DataFrame,
    reporting: dict[str, Any],
    final_model: dict[str, Any] | None = None,
) -> str:
    """PNG figures into ``reporting.figures_dir`` and the self-contained HTML (returned, saved by the catalog)."""
    figures = Path(reporting["figures_dir"])
    figures.mkdir(parents=True, exist_ok=True)
    plot_success_curve(
        {f"{s} — {m}": (g["cutoff"].to_numpy(), g["success"].to_numpy()) for (s, m), g in success_curves.groupby(["set", "method"])},
        figures / "success_vs_dca_cutoff.png",
    )
    plot_pr_curve({s: g for s, g in pr_curves.groupby("set")}, figures / "pr_curves.png")
    table = metrics_table(metrics)
    reliability, ece = calibration_tables((final_model or {}).get("calibration"))
    calibration: list[Any] = [
        (
            "Probabilities users read (points PDB B-factor, residues CSV, pocket probability) are calibrated on "
        "validation proteins only: points by Platt scaling of the model logit, residues by Platt scaling of "
        "log1p(residue score), pockets by a smooth monotone map of the pocket score. Pockets, scores and ranks "
        "are unchanged by calibration. ECE = expected calibration error, 10 equal-width bins weighted by count; "
        "in sample = on the validation data the maps were fitted on, cross-fitted = 5 folds by protein, each "
        "fold calibrated by maps fitted on the others. The summary table's pocket_ece columns measure the "
            "calibrated pocket probabilities against DCA ≤ 4 Å hits on the evaluation sets (never fitted there)."
        ),
    ]
    if reliability:
        in_sample = dict(zip(ece["level"], ece["ece_val_in_sample"])) if "ece_val_in_sample" in ece else {}
        names = {
            level: f"{level} (ECE {in_sample[level]:.3f})" if pd.notna(in_sample.get(level)) else level
            for level in reliability
        }
        plot_reliability_diagram({names[k]: v for k, v in reliability.items()}, figures / "reliability_validation.png",
                                 title="Calibration on validation (in sample)")  # fmt: skip
        calibration += [figures / "reliability_validation.png", ece]
    else:
        calibration.append("The model file holds no validation calibration measurements (an older model file).")
    path = figures.parent / "_report.html"
    html_report(
        "PockNet evaluation",
        [
            ("Summary", [
                "Ligand-centric DCA/DCC success (P2Rank's top-n and top-(n+2)), protein-level success@1/@3 and point "
                "metrics at the validation-chosen threshold. Test sets were never used to choose anything.",
                table,
            ]),
            ("Success rate vs DCA cutoff", [figures / "success_vs_dca_cutoff.png"]),
            ("Precision-recall (points)", [figures / "pr_curves.png"]),
            ("Probability calibration", calibration),
        ],
        path,
    )  # fmt: skip
    html = path.read_text(encoding="utf-8")
    path.unlink()
    return html
