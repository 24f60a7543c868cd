"""The shipped model: pick the better of best-epoch and SWA on validation, calibrate its probabilities.

Both choices use the validation split only: the candidate with the higher
validation PR-AUC wins, and the probabilities users read are calibrated
(:mod:`pocknet.predict.calibration`) on the validation proteins with at least one
relevant ligand:

* points: Platt scaling of the model logit against the point label (neutral points left out);
* residues: Platt scaling of log1p(residue score) against "a heavy atom within 4 Å of a relevant ligand atom";
* pockets: a smooth monotone map of what ranks them (the pocket rescorer's logit, else the
  pocket score; ``finalize.calibration``, default ``pchip``) against "centre within 4 Å of a
  relevant ligand atom" (DCA).

Pockets and their scores are those of the raw model probabilities and the validation-chosen
thresholds, their ranks those of the pocket rescorer (:mod:`pocknet.train.pocket_rescorer`)
when the model has one; calibration only changes the probabilities users read.
Per validation protein only logits, scores and labels are kept (a few MB for
CHEN11's validation split); the expected calibration error of each level goes to
the stage metrics, in sample and cross-fitted by protein.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.model.files import ModelBundle
from pocknet.predict.calibration import LEVELS, binding_residues, fit_levels, pocket_hits
from pocknet.predict.pockets import PocketConfig
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress
from pocknet.train.pocket_rescorer import RESCORING_MODES, RescorerSettings

__all__ = ["FinalizeConfig", "calibrate_bundle", "select_candidate", "validation_calibration_data"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FinalizeConfig:
    """The ``finalize`` block of params.yaml: how the probabilities users read are calibrated."""

    calibration: str = "pchip"  # pocket map (points and residues: Platt): pchip | platt | isotonic
    calibration_bins: int = 10  # ECE / reliability bins
    calibration_folds: int = 5  # protein folds for the cross-fitted ECE
    pocket_rescoring: str = "validation"  # validation | none | always (pocknet.train.pocket_rescorer)
    # its tree settings (RescorerSettings)
    pocket_rescorer: Mapping[str, Any] = field(default_factory=lambda: dataclasses.asdict(RescorerSettings()))

    def __post_init__(self) -> None:
        from pocknet.predict.calibration_maps import CALIBRATION_METHODS
        if self.pocket_rescoring not in RESCORING_MODES:
            raise ConfigError(
                f"finalize.pocket_rescoring must be one of {list(RESCORING_MODES)}, got {self.pocket_rescoring!r}"
            )
        RescorerSettings.from_params(self.pocket_rescorer)  # validate early

        if self.calibration not in CALIBRATION_METHODS:
            raise ConfigError(f"finalize.calibration must be one of {list(CALIBRATION_METHODS)}, got {self.calibration!r}")
        for name, least in (("calibration_bins", 1), ("calibration_folds", 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(f"finalize.{name} must be an integer >= {least}, got {value!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> FinalizeConfig:
        return dataclass_from_params(cls, params, "finalize")


def select_candidate(candidates: Mapping[str, ModelBundle]) -> str:
    """Name of the bundle with the highest validation PR-AUC (NaN loses)."""
    def key(name: str) -> float:
        value = candidates[name].metrics.get("pr_auc", math.nan)
        return -math.inf if value is None or math.isnan(value) else value

    return max(sorted(candidates), key=key)


def validation_calibration_data(
    predictor: Predictor,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    protein_ids: list[str],
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], dict[str, np.ndarray], dict[str, int]]:
    """(level → (scores, labels, protein index), level → uncalibrated probabilities, counts).

    ``predictor`` must be uncalibrated. Scores: point logits (neutral points dropped), residue scores, pocket scores, all
    from the uncalibrated model. Proteins without a relevant ligand are skipped: their
    labels say nothing about where a ligand could bind.
    """
    columns: dict[str, dict[str, list[np.ndarray]]] = {level: {"x": [], "y": [], "g": [], "raw": []} for level in LEVELS}
    proteins = top1 = 0
    for pid in progress(protein_ids, total=len(protein_ids), desc="calibrate", unit="protein"):
        features = protein_features[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        logits, probabilities = predictor.logits_and_scores(features)
        prediction = predictor.predict_features(features, scored=(logits, probabilities))
        labelled = features.labels >= 0
        n_residues = len(features.residue_chain)
        rows = {
            "point": (logits[labelled], features.labels[labelled] == 1, probabilities[labelled]),
            "residue": (
                prediction.residue_score,
                binding_residues(features.atom_coords, features.atom_residue, n_residues, ligands),
                prediction.residue_probability,  # uncalibrated: the best point within 6.1 Å
            ),
        }
        if prediction.pockets:
            hits = pocket_hits(np.stack([p.centre for p in prediction.pockets]), ligands)
            # the number that ranks them: the rescorer's logit, or the score
            ranked_by = [p.score if predictor.rescorer is None else p.rescore for p in prediction.pockets]
            rows["pocket"] = (np.array(ranked_by), hits, None)
            top1 += bool(hits[0])
        for level, (x, y, raw) in rows.items():
            columns[level]["x"].append(np.asarray(x, dtype=np.float64 if level != "point" else np.float32))
            columns[level]["y"].append(np.asarray(y, dtype=bool))
            columns[level]["g"].append(np.full(len(x), proteins, dtype=np.int32))
            if raw is not None:
                columns[level]["raw"].append(np.asarray(raw, dtype=np.float32))
        proteins += 1

    def joined(arrays: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(arrays) if arrays else np.zeros(0, dtype)

    data = {
        level: (joined(c["x"], np.float64), joined(c["y"], bool), joined(c["g"], np.int32))
        for level, c in columns.items()
    }
    raw = {level: joined(c["raw"], np.float32) for level, c in columns.items() if c["raw"] and len(c["raw"]) == len(c["x"])}
    return data, raw, {"proteins": proteins, "top1_hits": top1}


def calibrate_bundle(
    candidates: Mapping[str, ModelBundle],
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: Mapping[str, Any],
    config: FinalizeConfig = FinalizeConfig(),
    pocket_rescorer: Mapping[str, Any] | None = None,
) -> tuple[ModelBundle, dict[str, Any], pd.DataFrame]:
    """(final bundle, metrics, reliability table) from the candidates and the validation proteins.

    The bundle's ``calibration`` holds the point, residue and pocket calibrators,
    their validation ECE and reliability tables (:func:`pocknet.predict.calibration.fit_levels`).
    With a ``pocket_rescorer`` (:mod:`pocknet.train.pocket_rescorer`) it ranks the pockets, and
    the pocket map is fitted on its logits.
    """
    chosen = select_candidate(candidates)
    dataclass_from_params(PocketConfig, pockets, "pockets")  # validate early
    # predict with the raw model: calibration is fitted here
    bundle = candidates[chosen].replace(pockets=dict(pockets), calibration=None,
                                        pocket_rescorer=dict(pocket_rescorer) if pocket_rescorer else None)  # fmt: skip
    predictor = Predictor(bundle=bundle)
    val_ids = sorted(splits.loc[splits["split"] == "val", "protein"])
    data, raw, counts = validation_calibration_data(predictor, protein_features, val_ids)
    if not len(data["pocket"][0]):
        log.warning("no validation pockets: pocket probabilities stay uncalibrated")
    calibration, reliability = fit_levels(data, pocket_method=config.calibration, bins=config.calibration_bins,
                                          folds=config.calibration_folds, uncalibrated=raw,
                                          pocket_feature="log1p" if pocket_rescorer is None else "identity")  # fmt: skip
    if all(calibration[level] is None for level in LEVELS):
        log.warning("no validation data: probabilities stay uncalibrated")
    n_pockets, hits = len(data["pocket"][0]), data["pocket"][1]
    provenance = {
        **bundle.provenance,
        "selected": chosen,
        "calibration_method": config.calibration,
        "calibration_points": len(data["point"][0]),
        "calibration_residues": len(data["residue"][0]),
        "calibration_pockets": n_pockets,
    }
    # plain values: the file loads weights-only
    bundle = bundle.replace(calibration=json.loads(json.dumps(calibration)), provenance=provenance)
    proteins = counts["proteins"]
    metrics = {
        "selected": chosen,
        "val_pr_auc": bundle.metrics.get("pr_auc"),
        "val_proteins_with_ligands": proteins,
        "val_pockets": n_pockets,
        "val_pocket_hit_rate": float(np.mean(hits)) if n_pockets else 0.0,
        "val_success_at_1": counts["top1_hits"] / proteins if proteins else 0.0,
        # ECE per level, 10 equal-width bins (and equal-mass): "in_sample" = on the validation data the
        # map was fitted on (the acceptance number); "cross_fitted" = 5 folds by protein, fit on 4/5.
        "calibration": calibration["ece"],
    }
    return bundle, metrics, reliability
