"""What a prediction is: the featurised structure, point probabilities, pockets, residue scores.

Kept apart from :mod:`pocknet.predict.predictor` (which computes it) and
:mod:`pocknet.predict.writers` (which writes it) so both depend on data, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pocknet.featurize.features import ProteinFeatures

__all__ = ["Pocket", "Prediction"]


@dataclass(frozen=True)
class Pocket:
    """One predicted pocket; indices refer to the prediction's feature arrays."""

    rank: int  # 1-based: by rescore with a pocket rescorer, else level-1 pockets by score, then level-2 ones
    score: float  # Σ p² over the grown pocket's SAS points (model probabilities)
    probability: float  # P(centre within 4 Å of a ligand), calibrated on validation; NaN without a calibrator
    centre: np.ndarray  # [3] mean of the core cluster's points
    point_indices: np.ndarray  # int64, SAS points of the grown pocket
    residue_indices: np.ndarray  # int64, residues with an exposed atom within 3.5 Å of its points
    atom_indices: np.ndarray  # int64, exposed (surface) atoms within 3.5 Å of its points
    level: int = 1  # 1: seeded at the seed threshold; 2: at the second, lower one (ranked after level 1)
    rescore: float = float("nan")  # the pocket rescorer's logit, which ranks the pockets; NaN without one


@dataclass(frozen=True)
class Prediction:
    """Probabilities here are what users read; the model's own output is ``model_probabilities``.

    ``probabilities`` and ``residue_probability`` are calibrated on validation
    (:mod:`pocknet.predict.calibration`) when the model file has calibrators, otherwise
    they are the uncalibrated values (the model probability; the best point
    near the residue) and ``notes`` says so. Pockets, their scores and ranks
    always come from ``model_probabilities`` and ``threshold``: calibration
    changes no pocket.
    """

    name: str
    features: ProteinFeatures
    probabilities: np.ndarray  # [P] float32 per SAS point: P(within 2.6 Å of a ligand atom), calibrated
    threshold: float  # point threshold used for clustering, on the scale of model_probabilities
    pockets: tuple[Pocket, ...]
    residue_score: np.ndarray  # [R] Σ p² (model probabilities) of points within 6.1 Å of the residue's atoms
    residue_zscore: np.ndarray  # [R]
    residue_probability: np.ndarray  # [R] P(binding residue: an atom within 4 Å of a ligand), calibrated
    residue_pocket: np.ndarray  # [R] int32 rank of the pocket holding the residue, 0 for none
    model_name: str = "unknown"
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
    # [P] float32 sigmoid of the network (what the threshold applies to); None: same as probabilities
    model_probabilities: np.ndarray | None = None
    # experimental | predicted (pocknet.structure.kind); None: not read from a file (pipeline stages)
    structure_kind: str | None = None

    @property
    def raw_probabilities(self) -> np.ndarray:
        """The network's point probabilities (the clustering scale)."""
        return self.probabilities if self.model_probabilities is None else self.model_probabilities
