"""``pocknet evaluate``: any method's ranked pockets scored by the project's evaluator.

Structures + predictions → per-ligand table → summary (Wilson 95 % intervals) → files. The
scoring is the reporting stage's: :func:`pocknet.evaluate.evaluation.pocket_records` and
:func:`pocknet.evaluate.evaluation.evaluate_set` (→ :func:`pocknet.metrics.pockets.evaluate_proteins`),
so a number here and the same number in ``data/07_reporting/metrics.json`` come from one
function. A structure without a prediction file scores with no pockets (every ligand missed)
and is listed in ``missing.csv``; a structure that cannot be scored (unreadable, unpaired apo)
is listed in ``structures.csv`` and the summary, never dropped silently.

With ``compare``, a second method is scored on the same ligands and each success rate gets an
exact McNemar test on the paired per-ligand (top-n) or per-protein (success@k) outcomes.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.evaluate.evaluate_page import html_page, summary_markdown
from pocknet.evaluate.evaluation import evaluate_set, pocket_records
from pocknet.evaluate.readers import Predictions
from pocknet.evaluate.stats import mcnemar, wilson_interval
from pocknet.evaluate.targets import (
    Target,
    apo_partners,
    collect_targets,
    load_target,
    reference_sequences,
    unseen_flags,
)
from pocknet.metrics.pockets import STANDARD_CUTOFF, dca, dcc, ligand_success, protein_success_at_k

__all__ = ["LIGAND_METRICS", "PROTEIN_METRICS", "run_evaluation", "score_method"]

log = logging.getLogger(__name__)

LIGAND_METRICS = {"dca_top_n": ("dca", 0), "dca_top_n2": ("dca", 2), "dcc_top_n": ("dcc", 0), "dcc_top_n2": ("dcc", 2)}
PROTEIN_METRICS = {"dca_success_at_1": ("dca", 1), "dca_success_at_3": ("dca", 3),
                   "dcc_success_at_1": ("dcc", 1), "dcc_success_at_3": ("dcc", 3)}  # fmt: skip
RANK_CURVE = np.arange(1, 11)  # success-vs-rank curve: first hit within the top k pockets
CUTOFF_CURVE = np.arange(0.0, 12.01, 0.5)  # the reporting stage's success-vs-DCA-cutoff grid


def _distances(centres: np.ndarray, ligand: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, fn in (("dca", dca), ("dcc", dcc)):
        d = fn(centres, ligand) if len(centres) else np.zeros(0)
        out[f"{name}_rank1"] = float(d[0]) if len(d) else math.nan
        out[f"{name}_min"] = float(d.min()) if len(d) else math.nan
        out[f"{name}_min_rank"] = int(d.argmin()) + 1 if len(d) else 0
    return out


def score_method(
    targets: Sequence[Target], predictions: Predictions, label: str, cutoff: float = STANDARD_CUTOFF
) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame, np.ndarray]:
    """One method on the evaluated targets: (evaluate_set metrics, per-ligand table, per-protein table, DCA curve).

    Ranks come from :func:`evaluate_set`'s per-protein table (the reporting stage's evaluator);
    per-ligand and per-protein successes are recomputed from them with the same
    :func:`ligand_success` / :func:`protein_success_at_k` and checked against its rates.
    """
    scored = [t for t in targets if t.evaluated]
    by_id = {t.id: t for t in scored}
    centres = {t.id: predictions.centres(t.path) for t in scored}
    records = pocket_records(
        [t.id for t in scored],
        lambda pid: np.zeros((0, 3)) if centres[pid] is None else centres[pid],
        lambda pid: by_id[pid].ligands,
    )
    metrics, per_protein, curve = evaluate_set(records, CUTOFF_CURVE, cutoff=cutoff)
    ligand_rows, protein_rows = [], []
    for row in per_protein.itertuples(index=False):
        target, found = by_id[row.protein], centres[row.protein]
        pockets = np.zeros((0, 3)) if found is None else found
        source = predictions.source(target.path)
        n = int(row.n_ligands)
        flags = {m: ligand_success(np.asarray(getattr(row, f"ranks_{c}")), n, tol) for m, (c, tol) in LIGAND_METRICS.items()}
        protein_rows.append({"method": label, "structure": row.protein, "n_ligands": n, "n_pockets": int(row.n_pockets),
                             "has_prediction": found is not None,
                             **{m: protein_success_at_k(getattr(row, f"ranks_{c}"), k) for m, (c, k) in PROTEIN_METRICS.items()}})  # fmt: skip
        for i in range(n):
            ligand_rows.append({
                "method": label, "structure": row.protein, "ligand": i + 1, "ligand_name": target.ligand_names[i],
                "ligand_residues": target.ligand_residues[i], "n_ligands": n, "n_pockets": int(row.n_pockets),
                "prediction": "" if source is None else str(source),
                "rank_dca": int(row.ranks_dca[i]), "rank_dcc": int(row.ranks_dcc[i]),
                **{m: bool(flags[m][i]) for m in LIGAND_METRICS},
                **_distances(pockets, target.ligands[i]),
            })  # fmt: skip
    ligands = pd.DataFrame(ligand_rows)
    proteins = pd.DataFrame(protein_rows)
    for m in LIGAND_METRICS:  # one evaluator: the table must reproduce evaluate_proteins' rates
        assert len(ligands) == 0 or math.isclose(ligands[m].mean(), metrics[m]), m
    for m in PROTEIN_METRICS:
        assert len(proteins) == 0 or math.isclose(proteins[m].mean(), metrics[m]), m
    return metrics, ligands, proteins, curve


def _rate(flags: pd.Series) -> dict[str, Any]:
    k, n = int(flags.sum()), len(flags)
    low, high = wilson_interval(k, n)
    return {"value": k / n if n else math.nan, "successes": k, "n": n, "ci_low": low, "ci_high": high}


def _subset_summary(ligands: pd.DataFrame, proteins: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {"n_proteins": len(proteins), "n_ligands": len(ligands), "metrics": {}}
    for m in LIGAND_METRICS:
        out["metrics"][m] = _rate(ligands[m]) if len(ligands) else _rate(pd.Series([], dtype=bool))
    for m in PROTEIN_METRICS:
        out["metrics"][m] = _rate(proteins[m]) if len(proteins) else _rate(pd.Series([], dtype=bool))
    ranks = ligands["rank_dca"].to_numpy() if len(ligands) else np.zeros(0, dtype=int)
    out["success_vs_rank"] = [float(np.mean((ranks >= 1) & (ranks <= k))) if len(ranks) else math.nan for k in RANK_CURVE]
    return out


def _paired(ligands: Mapping[str, pd.DataFrame], proteins: Mapping[str, pd.DataFrame], labels: tuple[str, str]) -> tuple[dict[str, Any], pd.DataFrame]:
    a, b = labels
    keys = ["structure", "ligand"]
    cols = ["rank_dca", "rank_dcc", *LIGAND_METRICS]
    pairs = ligands[a][keys + ["ligand_name", *cols]].merge(ligands[b][keys + cols], on=keys, suffixes=(f"_{a}", f"_{b}"))
    prot = proteins[a].merge(proteins[b], on="structure", suffixes=(f"_{a}", f"_{b}"))
    tests = {m: mcnemar(pairs[f"{m}_{a}"].to_numpy(), pairs[f"{m}_{b}"].to_numpy(), labels) for m in LIGAND_METRICS}
    tests |= {m: mcnemar(prot[f"{m}_{a}"].to_numpy(), prot[f"{m}_{b}"].to_numpy(), labels) for m in PROTEIN_METRICS}
    return tests, pairs


def _write(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def _write_csv(path: Path, frame: pd.DataFrame) -> None:
    with atomic_write(path) as handle:
        frame.to_csv(handle, index=False, float_format="%.4g", lineterminator="\n")


def run_evaluation(
    structures: str | Path,
    predictions: str | Path,
    out_dir: str | Path,
    fmt: str = "auto",
    ds: str | Path | None = None,
    apo_pairs: str | Path | None = None,
    exclude_similar_to: str | Path | None = None,
    identity: float = 0.3,
    compare: str | Path | None = None,
    compare_format: str = "auto",
    labels: tuple[str | None, str | None] = (None, None),
    cutoff: float = STANDARD_CUTOFF,
    command: str = "",
) -> dict[str, Any]:
    """Score one method (and optionally a second, paired) and write the report into ``out_dir``.

    Files: ``summary.json``, ``summary.md``, ``per_ligand.csv``, ``structures.csv``,
    ``missing.csv``, ``report.html``; with ``compare`` also ``paired.csv``. Returns the summary.
    """
    methods = [Predictions(predictions, fmt)]
    if compare is not None:
        methods.append(Predictions(compare, compare_format))
    names = [labels[i] or f"{m.format}" for i, m in enumerate(methods)]
    if len(names) == 2 and names[0] == names[1]:
        names = [f"{names[0]} ({methods[0].path.name})", f"{names[1]} ({methods[1].path.name})"]
        if names[0] == names[1]:
            names = [f"{n} #{i + 1}" for i, n in enumerate(names)]
    targets = collect_targets(structures, ds)
    if apo_pairs is not None:
        apo_partners(apo_pairs, targets)
    for i, target in enumerate(targets, start=1):
        load_target(target)
        if i % 100 == 0:
            log.info("loaded %d of %d structures", i, len(targets))
    table = pd.DataFrame({
        "structure": [t.id for t in targets], "path": [str(t.path) for t in targets],
        "status": [t.status for t in targets], "n_relevant_ligands": [len(t.ligands) for t in targets],
    })  # fmt: skip
    for name, method in zip(names, methods):
        table[f"prediction ({name})"] = [str(method.source(t.path) or "") for t in targets]
    subsets = {"all": {t.id for t in targets}}
    exclusion = None
    if exclude_similar_to is not None:
        references = reference_sequences(exclude_similar_to)
        flags = unseen_flags([t for t in targets if t.evaluated], references, identity)
        table = table.merge(flags, on="structure", how="left")
        subsets["unseen"] = set(flags.loc[flags["unseen"], "structure"])
        exclusion = {"reference": str(exclude_similar_to), "identity": identity,
                     "n_reference_chains": len(references), "n_unseen_structures": len(subsets["unseen"])}  # fmt: skip

    per_ligand, per_protein, curves = {}, {}, {}
    missing_rows = []
    for name, method in zip(names, methods):
        _, per_ligand[name], per_protein[name], curves[name] = score_method(targets, method, name, cutoff)
        for t in targets:
            if method.source(t.path) is None:
                missing_rows.append({"method": name, "structure": t.id, "path": str(t.path), "scored": t.evaluated,
                                     "expected": f"{method.expected} in {method.path}"})  # fmt: skip
    summary: dict[str, Any] = {
        "command": command, "cutoff": cutoff,
        "structures": {"listed": len(targets), "scored": int(sum(t.evaluated for t in targets)),
                       "no_relevant_ligand": [t.id for t in targets if t.status == "no relevant ligand"],
                       "not_scored": {t.id: t.status.removeprefix("not scored: ") for t in targets if t.status.startswith("not scored")}},
        "methods": {name: {"format": m.format, "path": str(m.path), "prediction_files": len(m),
                           "missing_predictions": [r["structure"] for r in missing_rows if r["method"] == name]}
                    for name, m in zip(names, methods)},
        "exclude_similar_to": exclusion, "subsets": {},
    }  # fmt: skip
    paired_frames = []
    for subset, ids in subsets.items():
        entry: dict[str, Any] = {"methods": {}}
        for name in names:
            lig, prot = per_ligand[name], per_protein[name]
            sel_l = lig[lig["structure"].isin(ids)] if len(lig) else lig
            sel_p = prot[prot["structure"].isin(ids)] if len(prot) else prot
            entry["methods"][name] = _subset_summary(sel_l, sel_p)
        if len(names) == 2 and len(per_ligand[names[0]]):
            sub_l = {n: per_ligand[n][per_ligand[n]["structure"].isin(ids)] for n in names}
            sub_p = {n: per_protein[n][per_protein[n]["structure"].isin(ids)] for n in names}
            entry["paired"], pairs = _paired(sub_l, sub_p, (names[0], names[1]))
            if subset == "all":
                paired_frames.append(pairs)
        summary["subsets"][subset] = entry
    summary["dca_cutoff_curve"] = {"cutoffs": CUTOFF_CURVE.tolist(), **{n: [float(v) for v in c] for n, c in curves.items()}}

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PockNetError(f"{out}: cannot create output folder ({exc.strerror or exc})") from exc
    ligands_all = pd.concat([per_ligand[n] for n in names], ignore_index=True)
    if "unseen" in subsets and len(ligands_all):
        ligands_all["unseen"] = ligands_all["structure"].isin(subsets["unseen"])
    _write_csv(out / "per_ligand.csv", ligands_all)
    _write_csv(out / "structures.csv", table)
    _write_csv(out / "missing.csv", pd.DataFrame(missing_rows, columns=["method", "structure", "path", "scored", "expected"]))
    if paired_frames:
        _write_csv(out / "paired.csv", paired_frames[0])
    _write(out / "summary.json", json.dumps(_json_ready(summary), indent=1, allow_nan=False) + "\n")
    _write(out / "summary.md", summary_markdown(summary))
    _write(out / "report.html", html_page(summary))
    return summary


def _json_ready(value: Any) -> Any:
    """NaN (an undefined rate) as null; numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
