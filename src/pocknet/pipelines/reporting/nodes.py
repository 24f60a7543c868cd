"""Thin nodes: pocknet.evaluate.evaluation scores the sets, pocknet.evaluate.report draws and writes the report."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from pocknet.predict.calibration import pocket_hits
from pocknet.predict.calibration_metrics import pocket_calibration_metrics
from pocknet.evaluate.evaluation import (
    as_ligand_lookup,
    evaluate_set,
    evaluation_labels,
    pocket_records,
    set_of,
)
from pocknet.evaluate.readers import Predictions
from pocknet.featurize.features import ProteinFeatures
from pocknet.model.files import ModelBundle
from pocknet.predict.inference import read_point_probabilities
from pocknet.predict.viewer.inputs import load_folder_prediction
from pocknet.predict.viewer.page import viewer_html
from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.metrics.pockets import dca
from pocknet.evaluate.report.figures import (
    plot_pr_curve,
    plot_reliability_diagram,
    plot_success_curve,
    pr_curve_points,
)
from pocknet.evaluate.report.page import html_report
from pocknet.evaluate.report.proteins import choose_examples, examples_block, per_protein_table
from pocknet.evaluate.report.tables import calibration_tables, ece_table, set_label, summary_tables


log = logging.getLogger(__name__)


def _apo_pairs(data_root: Path, pairs_file: str | None) -> dict[str, str]:
    if not pairs_file or not (data_root / pairs_file).is_file():
        return {}
    pairs = pd.read_csv(data_root / pairs_file)
    base = Path(pairs_file).parent
    return {f"{base.as_posix()}/{row.apo_file}": str(data_root / base / row.holo_file) for row in pairs.itertuples()}


def _no_file_no_pockets(centres: np.ndarray | None) -> np.ndarray:
    """A structure without a published prediction file has no pockets: its ligands are misses."""
    return np.zeros((0, 3)) if centres is None else centres


def _top_pocket_dca(per_protein: pd.DataFrame, records: list[dict[str, Any]]) -> np.ndarray:
    """Per row of ``per_protein``: distance (Å) from the top-ranked pocket's centre to the nearest
    relevant ligand atom (the report's "how far off"), NaN for a protein without pockets."""
    top = {}
    for record in records:
        centres = np.asarray(record["centres"], dtype=float).reshape(-1, 3)
        if record["ligands"] and len(centres):
            top[record["protein"]] = float(min(dca(centres[:1], np.asarray(lig, dtype=float))[0] for lig in record["ligands"]))
    proteins = per_protein["protein"] if "protein" in per_protein else pd.Series([], dtype=str)
    return np.array([top.get(pid, np.nan) for pid in proteins], dtype=float)


def write_example_pages(
    per_protein: pd.DataFrame,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    reporting: dict[str, Any],
    data_engineering: dict[str, Any],
) -> dict[str, Any]:
    """3D viewer pages of the best, median and worst protein of each set into ``reporting.viewer_dir``.

    Read from the inference stage's files (``reporting.predictions_dir``), with the ligands the
    evaluation scored against shown; returns ``{"examples": [...], "pages": {protein: href}}``
    (hrefs relative to the report) for :func:`render_report`. The folder holds these pages only.
    """
    out = Path(reporting["viewer_dir"])
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.html"):
        stale.unlink()
    predictions_dir = Path(reporting["predictions_dir"])
    lookup = as_ligand_lookup(protein_features, _apo_pairs(Path(data_engineering["data_root"]), reporting.get("apo_pairs")))
    examples = choose_examples(per_protein)
    pages: dict[str, str] = {}
    for example in examples:
        pid = example["protein"]
        if pid in pages:
            continue
        try:
            data = load_folder_prediction(predictions_dir / f"{pid}.json")
        except PockNetError as exc:  # a report without this page beats no report
            log.warning("no viewer page for %s: %s", pid, exc)
            continue
        data = dataclasses.replace(data, reference_ligands=tuple(lookup(pid)))
        label = f"{set_label(example['set'])}: {Path(pid).name}"
        page = out / (pid.replace("/", "__") + ".html")
        with atomic_write(page) as handle:
            handle.write(viewer_html(data, title=f"{label}: PockNet pockets", back_link=("../report.html", "report")))
        pages[pid] = f"{out.name}/{page.name}"
    return {"examples": examples, "pages": pages}


def evaluate_predictions(
    predictions: pd.DataFrame,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    final_model: ModelBundle,
    reporting: dict[str, Any],
    data_engineering: dict[str, Any],
    external_homologues: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(metrics.json, per-protein table, success-vs-cutoff curves, PR curves) for every evaluated set.

    An external set (COACH420) is also scored on its "unseen" subset: structures with no chain
    ≥ 30 % identical to a train/val chain (``external_homologues``), PockNet and P2Rank alike.
    """
    seen = set() if external_homologues is None else set(external_homologues["protein"])
    external = set(splits.loc[splits["split"] == "external", "protein"])
    data_root = Path(data_engineering["data_root"])
    cutoffs = np.arange(0.0, 12.01, 0.5)
    lookup = as_ligand_lookup(protein_features, _apo_pairs(data_root, reporting.get("apo_pairs")))
    predictions_dir = Path(reporting["predictions_dir"])
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
            scores.append(read_point_probabilities(predictions_dir, pid, features.n_points))
            owner.append(np.full(features.n_points, i))
        points = (np.concatenate(labels), np.concatenate(scores), np.concatenate(owner))
        records = pocket_records(proteins, centres, lookup)
        set_metrics, per_protein, curve = evaluate_set(records, cutoffs, points, final_model.threshold)
        # calibrated pocket probabilities against DCA hits (proteins with ligands; evaluation only)
        with_ligands = [r for r in records if r["ligands"] and r["protein"] in by_protein]
        if with_ligands:
            set_metrics.update(pocket_calibration_metrics(
                np.concatenate([by_protein[r["protein"]]["probability"].to_numpy(float) for r in with_ligands]),
                np.concatenate([pocket_hits(r["centres"], r["ligands"]) for r in with_ligands]),
            ))  # fmt: skip
        metrics[name] = set_metrics
        tables.append(per_protein.assign(set=name, method="pocknet", dca_top1=_top_pocket_dca(per_protein, records)))
        curves.append(pd.DataFrame({"set": name, "method": "pocknet", "cutoff": cutoffs, "success": curve}))
        if not np.all(points[0] != 1):
            pr_rows.append(pr_curve_points(points[0], points[1]).assign(set=name))
        reference = reporting.get("p2rank_predictions", {}).get(name)
        if reference and (data_root / reference).is_dir():
            published = Predictions(data_root / reference, "p2rank")  # the reader `pocknet evaluate` uses
            p2rank = pocket_records(proteins, lambda pid, published=published: _no_file_no_pockets(published.centres(pid)), lookup)
            ref_metrics, ref_table, ref_curve = evaluate_set(p2rank, cutoffs)
            metrics[f"{name} (P2Rank published)"] = ref_metrics
            tables.append(ref_table.assign(set=name, method="p2rank", dca_top1=_top_pocket_dca(ref_table, p2rank)))
            curves.append(pd.DataFrame({"set": name, "method": "p2rank", "cutoff": cutoffs, "success": ref_curve}))
        if set(proteins) <= external:  # the unseen subset, ligand-centric success only
            unseen = f"{name} (unseen)"
            metrics[unseen], _, _ = evaluate_set([r for r in records if r["protein"] not in seen], cutoffs)
            metrics[unseen]["n_structures_with_train_homologue"] = len(set(proteins) & seen)
            if reference and (data_root / reference).is_dir():
                kept = [r for r in p2rank if r["protein"] not in seen]
                metrics[f"{unseen} (P2Rank published)"], _, _ = evaluate_set(kept, cutoffs)
    return metrics, pd.concat(tables, ignore_index=True), pd.concat(curves, ignore_index=True), pd.concat(pr_rows, ignore_index=True)


def render_report(
    metrics: dict[str, Any],
    success_curves: pd.DataFrame,
    pr_curves: pd.DataFrame,
    reporting: dict[str, Any],
    final_model: ModelBundle | None = None,
    per_protein: pd.DataFrame | None = None,
    examples: dict[str, Any] | None = None,
) -> str:
    """PNG figures into ``reporting.figures_dir`` and the self-contained HTML (returned, saved by the catalog).

    ``per_protein`` (the per-protein table) and ``examples`` (:func:`write_example_pages`) add the
    3D examples and the sortable per-protein table; the report links the viewer pages, it never
    inlines them, so it stays small and offline.
    """
    figures = Path(reporting["figures_dir"])
    figures.mkdir(parents=True, exist_ok=True)
    plot_success_curve(
        {f"{s} — {m}": (g["cutoff"].to_numpy(), g["success"].to_numpy()) for (s, m), g in success_curves.groupby(["set", "method"])},
        figures / "success_vs_dca_cutoff.png",
    )
    plot_pr_curve({s: g for s, g in pr_curves.groupby("set")}, figures / "pr_curves.png")
    reliability, ece = calibration_tables(final_model.calibration if final_model else None)
    calibration: list[Any] = [
        (
            "Probabilities users read (points PDB B-factor, residues CSV, pocket probability) are calibrated on "
        "validation proteins only: points by Platt scaling of the model logit, residues by Platt scaling of "
        "log1p(residue score), pockets by a smooth monotone map of the pocket score. Pockets, scores and ranks "
        "are unchanged by calibration. ECE = expected calibration error, 10 equal-width bins weighted by count; "
        "in sample = on the validation data the maps were fitted on, cross-fitted = 5 folds by protein, each "
        "fold calibrated by maps fitted on the others. The summary's pocket-probability table measures the "
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
        calibration += [figures / "reliability_validation.png", ece_table(ece) if not ece.empty else ece]
    else:
        calibration.append("The model file holds no validation calibration measurements (an older model file).")
    path = figures.parent / "_report.html"
    html_report(
        "PockNet evaluation",
        [
            ("Summary", [
                "Success rates of the predicted pockets at the standard 4 Å cutoff, PockNet beside P2Rank's published "
                "predictions where the set has them, scored by the same code on the same ligands. DCA: distance from "
                "the pocket centre to the closest ligand atom; DCC: to the ligand centroid. Ligand-centric top-n "
                "(P2Rank's measure) counts a ligand found when one of its protein's n best pockets is that close, "
                "n being the protein's number of relevant ligands; protein-centric top-k counts a protein when one "
                "of its k best pockets is. Below each rate its Wilson 95 % interval, treating ligands (proteins) as "
                "independent: ligands of one protein are not, so read the intervals as a lower bound on the "
                "uncertainty. Test sets were never used to choose anything.",
                *summary_tables(metrics),
            ]),
            *_example_sections(per_protein, examples),
            ("Success rate vs DCA cutoff", [figures / "success_vs_dca_cutoff.png"]),
            ("Precision-recall (points)", [figures / "pr_curves.png"]),
            ("Probability calibration", calibration),
        ],
        path,
    )  # fmt: skip
    html = path.read_text(encoding="utf-8")
    path.unlink()
    return html


def _example_sections(per_protein: pd.DataFrame | None, examples: dict[str, Any] | None) -> list[tuple[str, list[Any]]]:
    pages = (examples or {}).get("pages") or {}
    sections: list[tuple[str, list[Any]]] = []
    block = examples_block((examples or {}).get("examples") or [], pages)
    if block is not None:
        sections.append(("What a hit and a miss look like (3D)", [
            "For each set, the protein whose top-ranked pocket lies closest to a ligand (best), the median one "
            "and the farthest (worst; a protein without pockets counts as farthest). Pockets in rank colours, "
            "ligands the evaluation uses in magenta.",
            block,
        ]))  # fmt: skip
    if per_protein is not None and not per_protein.empty:
        sections.append(("Per protein", [
            "One row per evaluated protein (click a header to sort). First hit: rank of the first pocket within "
            "4 Å (DCA) of any relevant ligand atom, miss when none is. Top pocket DCA: distance from the "
            "top-ranked pocket's centre to the nearest ligand atom. 3D: the protein's viewer page (written for "
            "the examples above); `pocknet view data/06_predictions/<set>` writes one for every protein.",
            per_protein_table(per_protein, pages),
        ]))  # fmt: skip
    return sections
