"""What a prediction is: the featurised structure, point probabilities, pockets, residue scores.

Kept apart from :mod:`pocknet.predict` (which computes it) and
:mod:`pocknet.outputs` (which writes it) so both depend on data, not on each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pocknet.features import ProteinFeatures

__all__ = ["Pocket", "Prediction"]


@dataclass(frozen=True)
class Pocket:
    """One predicted pocket; indices refer to the prediction's feature arrays."""

    rank: int  # 1-based, by score
    score: float  # Σ p² over the grown pocket's SAS points
    probability: float  # calibrated on validation pockets; NaN without a calibrator
    centre: np.ndarray  # [3] mean of the core cluster's points
    point_indices: np.ndarray  # int64, SAS points of the grown pocket
    residue_indices: np.ndarray  # int64, residues with an exposed atom within 3.5 Å of its points
    atom_indices: np.ndarray  # int64, exposed (surface) atoms within 3.5 Å of its points


@dataclass(frozen=True)
class Prediction:
    name: str
    features: ProteinFeatures
    probabilities: np.ndarray  # [P] float32 per SAS point
    threshold: float  # point threshold used for clustering
    pockets: tuple[Pocket, ...]
    residue_score: np.ndarray  # [R] Σ p² of points within 6.1 Å of the residue's atoms
    residue_zscore: np.ndarray  # [R]
    residue_probability: np.ndarray  # [R] max point probability within 6.1 Å
    residue_pocket: np.ndarray  # [R] int32 rank of the pocket holding the residue, 0 for none
    model_name: str = "unknown"
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)
