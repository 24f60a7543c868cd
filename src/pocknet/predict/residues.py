"""Per-residue columns of a prediction: scores, best pocket rank, z-scores (SCIENCE.md §7).

Residue scores (:func:`residue_scores`) are independent of the pockets:
Σ p² over the SAS points within 6.1 Å of any atom of the residue.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from pocknet.predict.pockets import _unique
from pocknet.predict.prediction import Pocket

__all__ = [
    "residue_pocket_ranks",
    "residue_scores",
    "zscores",
]

_POINT_CHUNK = 50_000  # points per KD-tree pair query in residue_scores (bounds memory)


def residue_scores(
    points: np.ndarray,
    probabilities: np.ndarray,
    atom_coords: np.ndarray,
    atom_residue: np.ndarray,
    n_residues: int,
    radius: float = 6.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-residue score and best point probability from nearby SAS points.

    Parameters
    ----------
    points, probabilities
        [P, 3] SAS points and their [P] probabilities.
    atom_coords, atom_residue
        [N, 3] atoms and the [N] residue index (0..n_residues−1) of each.
    n_residues
        Length of the outputs (residues without atoms score 0).
    radius
        A point counts for a residue when within ``radius`` Å of *any* of its atoms.

    Returns
    -------
    score : np.ndarray
        [R] float64, Σ p² over the residue's points; a point near several atoms
        of one residue counts once, or large residues would win by atom count.
    probability : np.ndarray
        [R] float64, max p over those points; 0 when there are none.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    atom_coords = np.asarray(atom_coords, dtype=np.float64).reshape(-1, 3)
    atom_residue = np.asarray(atom_residue, dtype=np.int64)
    if probabilities.shape != (len(points),):
        raise ValueError(f"probabilities must have shape [{len(points)}], got {probabilities.shape}")
    if atom_residue.shape != (len(atom_coords),):
        raise ValueError(f"atom_residue must have shape [{len(atom_coords)}], got {atom_residue.shape}")
    if len(atom_residue) and (atom_residue.min() < 0 or atom_residue.max() >= n_residues):
        raise ValueError(f"atom_residue values must lie in [0, {n_residues})")
    score = np.zeros(n_residues, dtype=np.float64)
    best = np.zeros(n_residues, dtype=np.float64)
    if len(points) == 0 or len(atom_coords) == 0:
        return score, best
    atom_tree = cKDTree(atom_coords)
    for start in range(0, len(points), _POINT_CHUNK):  # chunks of points bound the pair memory
        chunk = slice(start, start + _POINT_CHUNK)
        pairs = cKDTree(points[chunk]).sparse_distance_matrix(atom_tree, radius, output_type="ndarray")
        key = _unique(pairs["i"].astype(np.int64) * n_residues + atom_residue[pairs["j"]])
        point, residue = start + key // n_residues, key % n_residues
        p = probabilities[point]
        score += np.bincount(residue, weights=p**2, minlength=n_residues)
        np.maximum.at(best, residue, p)
    return score, best


def residue_pocket_ranks(pockets: Sequence[Pocket], n_residues: int) -> np.ndarray:
    """[R] int32 best (lowest) rank of a pocket containing each residue; 0 for none."""
    out = np.full(n_residues, np.iinfo(np.int32).max, dtype=np.int64)
    if pockets:
        residues = np.concatenate([np.asarray(p.residue_indices, dtype=np.int64) for p in pockets])
        ranks = np.concatenate([np.full(len(p.residue_indices), p.rank, dtype=np.int64) for p in pockets])
        np.minimum.at(out, residues, ranks)
    out[out == np.iinfo(np.int32).max] = 0
    return out.astype(np.int32)


def zscores(values: np.ndarray) -> np.ndarray:
    """``(x − mean) / std`` (population std) as float64; all zeros when std is 0 or input empty.

    A constant vector carries no ranking information, so zeros are the honest
    answer rather than NaN from 0/0.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return values.copy()
    std = values.std()
    if not std > 0:
        return np.zeros_like(values)
    return (values - values.mean()) / std
