"""Point labels from relevant ligands (SCIENCE.md §4).

A point is positive within ``positive_distance`` (P2Rank: 2.6 Å) of any
relevant-ligand atom. With ``neutral_distance`` set, points between the two
distances are neutral (label -1, ignored by the loss); otherwise negative.
The raw distance is kept as well, so a later stage can relabel without
re-featurising.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError
from pocknet.structure.ligands import Ligand

__all__ = ["POSITIVE", "NEGATIVE", "NEUTRAL", "ligand_distances", "point_labels"]

POSITIVE, NEGATIVE, NEUTRAL = 1, 0, -1


def ligand_distances(points: np.ndarray, ligands: Sequence[Ligand | np.ndarray]) -> np.ndarray:
    """Distance from each point to the nearest atom of the given ligands (inf if none).

    A ligand is a :class:`~pocknet.structure.ligands.Ligand` or its ``[n, 3]`` atom coordinates
    (as stored in feature files, or superposed from an apo structure's holo partner).
    """
    atoms = [np.asarray(getattr(lig, "coords", lig), dtype=np.float64).reshape(-1, 3) for lig in ligands]
    atoms = [a for a in atoms if len(a)]
    if not atoms or len(points) == 0:
        return np.full(len(points), np.inf, dtype=np.float32)
    dist, _ = cKDTree(np.concatenate(atoms)).query(points)
    return dist.astype(np.float32)


def point_labels(
    distances: np.ndarray,
    positive_distance: float = 2.6,
    neutral_distance: float | None = None,
) -> np.ndarray:
    """int8 labels: 1 positive, 0 negative, -1 neutral."""
    if neutral_distance is not None and neutral_distance < positive_distance:
        raise ConfigError(
            f"labels: neutral_distance ({neutral_distance}) must be >= positive_distance ({positive_distance})"
        )
    labels = np.where(distances <= positive_distance, POSITIVE, NEGATIVE).astype(np.int8)
    if neutral_distance is not None:
        labels[(distances > positive_distance) & (distances <= neutral_distance)] = NEUTRAL
    return labels
