"""The pocket seed threshold, chosen on validation pockets (never on test or external sets).

The model's point threshold maximises validation IoU of *points*: a point-level question. Which
points should *seed* pockets is a pocket-level question, and the two answers differ: a threshold
that keeps only the surest points may leave a weaker binding site without any pocket at all, which
costs DCA top-n, while one that keeps too many merges neighbouring sites into one cluster whose
centre sits between them. So the finalize stage scores every validation protein once, clusters its
points at each candidate threshold (``pockets.seed_threshold_candidates`` plus the point threshold)
and keeps the threshold with the best validation DCA top-n (SCIENCE.md §8); ties go to DCA
top-(n+2), then success@1, then the higher threshold (fewer points to cluster).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins
from pocknet.model.files import ModelBundle
from pocknet.predict.pockets import PocketConfig, find_pockets
from pocknet.progress import progress

if TYPE_CHECKING:
    from pocknet.predict.predictor import Predictor

__all__ = [
    "SEED_TABLE_COLUMNS",
    "candidate_thresholds",
    "choose_seed_threshold",
    "resolve_seed_threshold",
    "seed_threshold_table",
]

log = logging.getLogger(__name__)

SEED_TABLE_COLUMNS = ("threshold", "dca_top_n", "dca_top_n2", "dca_success_at_1", "mean_pockets", "proteins", "ligands")
_CRITERIA = ("dca_top_n", "dca_top_n2", "dca_success_at_1", "threshold")  # best first; the last breaks ties upward


def candidate_thresholds(candidates: Sequence[float], point_threshold: float) -> np.ndarray:
    """The sorted, distinct candidates with the model's point threshold among them."""
    return np.unique(np.asarray([*candidates, point_threshold], dtype=np.float64))


def seed_threshold_table(
    predictor: Predictor,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    protein_ids: Sequence[str],
    thresholds: Sequence[float],
) -> pd.DataFrame:
    """Validation DCA success of the pockets each threshold seeds (one row per threshold).

    Each protein is scored once; only the clustering is repeated. Proteins without a relevant
    ligand say nothing about where ligands bind and are left out, as in calibration.
    """
    records: dict[float, list[dict]] = {float(t): [] for t in thresholds}
    config = predictor.pocket_config
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    for pid in progress(protein_ids, total=len(protein_ids), desc="seed threshold", unit="protein"):
        features = protein_features[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        for threshold, rows in records.items():
            pockets = find_pockets(features.points, probabilities, threshold, features.atom_coords,
                                   features.atom_residue, exposed, config)  # fmt: skip
            centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
            rows.append({"protein": pid, "centres": centres, "ligands": ligands})
    table = []
    for threshold, rows in records.items():
        result = evaluate_proteins(rows)
        table.append({
            "threshold": threshold,
            **{key: result[key] for key in ("dca_top_n", "dca_top_n2", "dca_success_at_1")},
            "mean_pockets": float(np.mean([len(r["centres"]) for r in rows])) if rows else float("nan"),
            "proteins": result["n_proteins"],
            "ligands": result["n_ligands"],
        })  # fmt: skip
    return pd.DataFrame(table, columns=list(SEED_TABLE_COLUMNS))


def choose_seed_threshold(table: pd.DataFrame) -> float:
    """The threshold of the best row (module docstring); ValueError when nothing was evaluated."""
    usable = table.dropna(subset=["dca_top_n"])
    if usable.empty:
        raise ValueError("no validation protein with a relevant ligand: cannot choose a pocket seed threshold")
    best = usable.sort_values(list(_CRITERIA), ascending=False, kind="stable").iloc[0]
    return float(best["threshold"])


def resolve_seed_threshold(
    bundle: ModelBundle,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: Mapping[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """(``pockets`` with a number for ``seed_threshold``, the validation table that chose it).

    ``splits``: the h5_assembly split table; its ``val`` proteins are the only ones read.

    Only ``seed_threshold: validation`` is resolved here; ``point`` or a number pass through
    with an empty table.
    """
    from pocknet.predict.predictor import Predictor

    config = PocketConfig.from_params(pockets)
    if config.seed_threshold != "validation":
        return dict(pockets), pd.DataFrame(columns=list(SEED_TABLE_COLUMNS))
    predictor = Predictor(bundle=bundle.replace(pockets=dict(pockets), calibration=None))
    thresholds = candidate_thresholds(config.seed_threshold_candidates, bundle.threshold)
    validation_ids = sorted(splits.loc[splits["split"] == "val", "protein"])
    table = seed_threshold_table(predictor, protein_features, validation_ids, thresholds)
    chosen = choose_seed_threshold(table)
    best = table.loc[table["threshold"] == chosen].iloc[0]
    log.info("pocket seed threshold %.4g (validation DCA top-n %.3f over %d ligands; point threshold %.4g)",
             chosen, best["dca_top_n"], best["ligands"], bundle.threshold)  # fmt: skip
    return {**pockets, "seed_threshold": chosen}, table
