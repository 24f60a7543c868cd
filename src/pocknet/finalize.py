"""The shipped model: pick the better of best-epoch and SWA on validation, calibrate pockets.

Both choices use the validation split only: the candidate with the higher
validation PR-AUC wins, and the per-pocket probability is an isotonic (or
Platt) map from pocket score to "pocket centre within 4 Å of a relevant
ligand atom" (DCA), fitted on the pockets predicted for validation proteins.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from pocknet.calibration import fit_calibrator, pocket_hits
from pocknet.config import dataclass_from_params
from pocknet.features import ProteinFeatures
from pocknet.pockets import PocketConfig
from pocknet.predict import Predictor
from pocknet.progress import progress

__all__ = ["relevant_ligand_atoms", "select_candidate", "calibrate_bundle"]

log = logging.getLogger(__name__)


def relevant_ligand_atoms(features: ProteinFeatures) -> list[np.ndarray]:
    offsets = features.ligand_offsets
    return [
        features.ligand_coords[offsets[i] : offsets[i + 1]]
        for i in np.flatnonzero(features.ligand_relevant)
    ]


def select_candidate(candidates: Mapping[str, Mapping[str, Any]]) -> str:
    """Name of the bundle with the highest validation PR-AUC (NaN loses)."""
    def key(name: str) -> float:
        value = candidates[name]["metrics"].get("pr_auc", math.nan)
        return -math.inf if value is None or math.isnan(value) else value

    return max(sorted(candidates), key=key)


def calibrate_bundle(
    candidates: Mapping[str, dict[str, Any]],
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: Mapping[str, Any],
    method: str = "isotonic",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(final bundle, metrics) from the candidates and the validation proteins."""
    chosen = select_candidate(candidates)
    bundle = dict(candidates[chosen])
    bundle["pockets"] = dict(pockets)
    dataclass_from_params(PocketConfig, pockets, "pockets")  # validate early
    predictor = Predictor(bundle=bundle)
    scores, hits, proteins, top1 = [], [], 0, 0
    val_ids = sorted(splits.loc[splits["split"] == "val", "protein"])
    for pid in progress(val_ids, total=len(val_ids), desc="calibrate", unit="protein"):
        features = protein_features[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        prediction = predictor.predict_features(features)
        proteins += 1
        if not prediction.pockets:
            continue
        centres = np.stack([p.centre for p in prediction.pockets])
        hit = pocket_hits(centres, ligands)
        scores += [p.score for p in prediction.pockets]
        hits += hit.tolist()
        top1 += bool(hit[0])
    if not scores:
        log.warning("no validation pockets: pocket probabilities stay uncalibrated")
        bundle["calibration"] = None
    else:
        bundle["calibration"] = fit_calibrator(np.asarray(scores), np.asarray(hits, dtype=bool), method=method)
    provenance = dict(bundle["provenance"])
    provenance.update(selected=chosen, calibration_pockets=len(scores), calibration_method=method)
    bundle["provenance"] = provenance
    metrics = {
        "selected": chosen,
        "val_pr_auc": bundle["metrics"].get("pr_auc"),
        "val_proteins_with_ligands": proteins,
        "val_pockets": len(scores),
        "val_pocket_hit_rate": float(np.mean(hits)) if hits else 0.0,
        "val_success_at_1": top1 / proteins if proteins else 0.0,
    }
    return bundle, metrics
