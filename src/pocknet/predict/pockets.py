"""Point probabilities → ranked pockets (SCIENCE.md §7).

The pocket recipe, in the order :func:`find_pockets` applies it:

1. **Select** the SAS points with ``p >= threshold`` (``>=`` so that a threshold
   chosen on validation as "the lowest positive score" keeps that point).
2. **Cluster** them (:func:`cluster_points`): single linkage at
   ``link_distance`` (3 Å) keeping components of at least ``min_points`` (3),
   or DBSCAN (eps 3 Å, min_samples 5) as an option. A cluster is a pocket *core*.
3. **Grow** each core by every SAS point (whatever its probability) within
   ``grow_distance`` (3.5 Å) of a core point. A grown point joins only the pocket
   whose core point is *nearest* (ties: the lower pocket label), so grown pockets
   are disjoint: a point is never counted in two pocket scores, and the
   per-pocket SAS-point lists written to P2Rank CSVs do not overlap.
4. **Score** = Σ p² over the grown pocket's points (squares reward confident
   points over many lukewarm ones, as in P2Rank); **centre** = mean of the
   *core* points (growth adds low-probability rim points, which would pull the
   centre away from the ligand and hurt DCA).
5. **Rank** by score, descending; equal scores are ordered by the core's first
   point index so the output never depends on sort stability.
6. **Residues / atoms** of a pocket are the *exposed* atoms (descriptors'
   4.1 Å criterion, passed in as a mask) within ``residue_distance`` (3.5 Å) of
   any grown pocket point, and their residues. Buried atoms are excluded even
   when close, since a ligand cannot touch them. Unlike points, atoms and
   residues may belong to several pockets.

7. **Second level** (``second_seed_threshold``, when set and below the seed threshold): steps
   1–6 again at that lower threshold; the pockets that share no grown point with any first-level
   pocket are appended, ranked after all of them by their own score (``Pocket.level`` 2).

A model with a pocket rescorer re-ranks these pockets afterwards (:mod:`pocknet.predict.pocket_rescoring`,
called by the predictor). Residue scores are independent of the pockets: :mod:`pocknet.predict.residues`.
The settings live in :mod:`pocknet.predict.pocket_config`.

Everything is numpy in / numpy out and vectorised with KD-trees and sparse
graphs; the only Python loops run over pockets, never over points.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from pocknet.predict.pocket_config import CLUSTER_METHODS, SEED_THRESHOLD_MODES, PocketConfig
from pocknet.predict.prediction import Pocket

__all__ = [
    "CLUSTER_METHODS",
    "SEED_THRESHOLD_MODES",
    "PocketConfig",
    "cluster_points",
    "find_pockets",
    "stack_levels",
]

Calibrator = Callable[[Any], Any]


# --------------------------------------------------------------------------- clustering


def _ordered_labels(raw: np.ndarray) -> np.ndarray:
    """Relabel ``raw`` (−1 = none) as 0..k−1 in order of each label's first position.

    Component / DBSCAN label numbers are arbitrary; ordering by first point index
    makes labels (and so tie-breaks downstream) a function of the input alone.
    """
    out = np.full(len(raw), -1, dtype=np.int64)
    kept = raw >= 0
    if not kept.any():
        return out
    unique, first = np.unique(raw[kept], return_index=True)
    new_of_unique = np.empty(len(unique), dtype=np.int64)
    new_of_unique[np.argsort(first, kind="stable")] = np.arange(len(unique))
    out[kept] = new_of_unique[np.searchsorted(unique, raw[kept])]
    return out


def cluster_points(
    coords: np.ndarray, selected: np.ndarray, config: PocketConfig = PocketConfig()
) -> np.ndarray:
    """Cluster label of each point; −1 for unselected points and noise.

    Parameters
    ----------
    coords
        [P, 3] point coordinates.
    selected
        [P] bool, the points to cluster (others get −1).
    config
        ``method`` and its parameters.

    Returns
    -------
    np.ndarray
        [P] int64 labels 0..k−1, numbered by each cluster's lowest point index.

    Notes
    -----
    Single linkage is the connected components of the graph linking selected
    points within ``link_distance`` (KD-tree pairs → sparse graph), which is
    exactly single-linkage clustering cut at that height, in O(P log P).
    ``min_points`` applies to single linkage only; DBSCAN's ``min_samples`` is
    its own density criterion.
    """
    coords = np.asarray(coords, dtype=np.float64)
    selected = np.asarray(selected, dtype=bool)
    if coords.ndim != 2 or coords.shape[1] != 3:
        raise ValueError(f"coords must have shape [P, 3], got {coords.shape}")
    if selected.shape != (len(coords),):
        raise ValueError(f"selected must have shape [{len(coords)}], got {selected.shape}")
    labels = np.full(len(coords), -1, dtype=np.int64)
    index = np.flatnonzero(selected)  # ascending, so "first position" = first point index
    if len(index) == 0:
        return labels
    sub = coords[index]
    if config.method == "dbscan":
        from sklearn.cluster import DBSCAN

        raw = DBSCAN(eps=config.dbscan_eps, min_samples=config.dbscan_min_samples).fit_predict(sub)
    else:
        pairs = cKDTree(sub).query_pairs(config.link_distance, output_type="ndarray")
        n = len(sub)
        graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, raw = connected_components(graph, directed=False)
        sizes = np.bincount(raw)
        raw = np.where(sizes[raw] >= config.min_points, raw, -1)
    labels[index] = _ordered_labels(np.asarray(raw))
    return labels


# --------------------------------------------------------------------------- pockets


def _grow(points: np.ndarray, core_labels: np.ndarray, distance: float) -> np.ndarray:
    """Pocket label of every point after growth (−1 = in no pocket).

    Core points keep their own label. Every other point within ``distance`` of a
    core point takes the label of its nearest core point; equally near cores go
    to the lower label, so the result does not depend on KD-tree traversal order.
    """
    grown = core_labels.copy()
    core = np.flatnonzero(core_labels >= 0)
    other = np.flatnonzero(core_labels < 0)
    if len(other) == 0:
        return grown
    pairs = cKDTree(points[other]).sparse_distance_matrix(
        cKDTree(points[core]), distance, output_type="ndarray"
    )
    if len(pairs) == 0:
        return grown
    i, label, d = pairs["i"], core_labels[core[pairs["j"]]], pairs["v"]
    order = np.lexsort((label, d, i))  # per point: nearest first, then lowest label
    i, label = i[order], label[order]
    first = np.r_[True, i[1:] != i[:-1]]
    grown[other[i[first]]] = label[first]
    return grown


def _unique(keys: np.ndarray) -> np.ndarray:
    """Sorted unique values; sort + mask, since ``np.unique`` is far slower on millions of int64 keys."""
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def _split(keys: np.ndarray, values: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """``values`` grouped by integer ``keys`` in 0..n_groups−1 (each group keeps the input order)."""
    order = np.argsort(keys, kind="stable")
    bounds = np.searchsorted(keys[order], np.arange(n_groups + 1))
    ordered = values[order]
    return [ordered[bounds[g] : bounds[g + 1]] for g in range(n_groups)]


def _pocket_atoms(
    points: np.ndarray,
    pocket_of_point: np.ndarray,
    n_pockets: int,
    atom_coords: np.ndarray,
    exposed: np.ndarray,
    distance: float,
) -> list[np.ndarray]:
    """Sorted exposed atom indices within ``distance`` of each pocket's points."""
    members = np.flatnonzero(pocket_of_point >= 0)
    exposed_index = np.flatnonzero(exposed)
    if len(exposed_index) == 0 or len(members) == 0:
        return [np.zeros(0, dtype=np.int64) for _ in range(n_pockets)]
    pairs = cKDTree(points[members]).sparse_distance_matrix(
        cKDTree(atom_coords[exposed_index]), distance, output_type="ndarray"
    )
    pocket = pocket_of_point[members[pairs["i"]]]
    atom = exposed_index[pairs["j"]].astype(np.int64)
    n_atoms = len(atom_coords)
    key = _unique(pocket * n_atoms + atom)  # sorted by pocket, then atom; duplicates gone
    return _split(key // n_atoms, key % n_atoms, n_pockets)


def find_pockets(
    points: np.ndarray,
    probabilities: np.ndarray,
    threshold: float,
    atom_coords: np.ndarray,
    atom_residue: np.ndarray,
    exposed: np.ndarray,
    config: PocketConfig = PocketConfig(),
    calibrator: Calibrator | None = None,
) -> tuple[Pocket, ...]:
    """Ranked pockets of one structure (recipe in the module docstring).

    Parameters
    ----------
    points
        [P, 3] SAS points.
    probabilities
        [P] ligandability probability per point (finite).
    threshold
        Points with ``p >= threshold`` seed clusters; chosen on validation. The second level's
        threshold comes from ``config`` (:meth:`PocketConfig.second_seed_for`).
    atom_coords
        [N, 3] protein atom coordinates.
    atom_residue
        [N] residue index of each atom.
    exposed
        [N] bool, atoms on the surface (see :func:`pocknet.featurize.descriptors.exposed_atoms`);
        only these can be pocket atoms.
    config
        Clustering, growth and residue radii.
    calibrator
        Maps an array of pocket scores to probabilities (e.g.
        :func:`pocknet.predict.calibration_maps.calibrator_function` of parameters fitted on
        validation pockets). Without it ``Pocket.probability`` is NaN, so an
        uncalibrated number is never mistaken for a probability.

    Returns
    -------
    tuple[Pocket, ...]
        Pockets ordered by rank 1..n (level-1 pockets first); empty when there are no points or
        no cluster survives.
    """
    points = np.asarray(points, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    atom_coords = np.asarray(atom_coords, dtype=np.float64)
    atom_residue = np.asarray(atom_residue)
    exposed = np.asarray(exposed, dtype=bool)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"points must have shape [P, 3], got {points.shape}")
    if probabilities.shape != (len(points),):
        raise ValueError(f"probabilities must have shape [{len(points)}], got {probabilities.shape}")
    if not np.isfinite(probabilities).all():
        raise ValueError("probabilities contain NaN or infinite values")
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold!r}")
    atom_coords = atom_coords.reshape(-1, 3) if atom_coords.size == 0 else atom_coords
    if atom_coords.ndim != 2 or atom_coords.shape[1] != 3:
        raise ValueError(f"atom_coords must have shape [N, 3], got {atom_coords.shape}")
    if atom_residue.shape != (len(atom_coords),) or exposed.shape != (len(atom_coords),):
        raise ValueError(
            f"atom_residue {atom_residue.shape} and exposed {exposed.shape} must have shape [{len(atom_coords)}]"
        )
    if len(points) == 0:
        return ()
    first = _seeded_pockets(
        points, probabilities, threshold, atom_coords, atom_residue, exposed, config, calibrator
    )
    second_threshold = config.second_seed_for(threshold)
    if second_threshold is None:
        return first
    second = _seeded_pockets(points, probabilities, second_threshold, atom_coords, atom_residue, exposed, config,
                             calibrator)  # fmt: skip
    return stack_levels(first, second, len(points))


def stack_levels(first: Sequence[Pocket], second: Sequence[Pocket], n_points: int) -> tuple[Pocket, ...]:
    """``first`` as ranked, then the ``second``-level pockets that share no point with it, as level 2.

    Level-2 pockets keep their own (score) order and are ranked after every level-1 pocket, so a
    lukewarm but large secondary site never outranks a confident one.
    """
    taken = np.zeros(n_points, dtype=bool)
    for pocket in first:
        taken[pocket.point_indices] = True
    extra = [pocket for pocket in second if not taken[pocket.point_indices].any()]
    return (
        *first,
        *(
            dataclasses.replace(pocket, rank=len(first) + i, level=2)
            for i, pocket in enumerate(extra, start=1)
        ),
    )


def _seeded_pockets(
    points: np.ndarray,
    probabilities: np.ndarray,
    threshold: float,
    atom_coords: np.ndarray,
    atom_residue: np.ndarray,
    exposed: np.ndarray,
    config: PocketConfig,
    calibrator: Calibrator | None,
) -> tuple[Pocket, ...]:
    """Steps 1–6 of the recipe for one seed threshold (checked inputs)."""
    core = cluster_points(points, probabilities >= threshold, config)
    n_pockets = int(core.max()) + 1
    if n_pockets == 0:
        return ()
    grown = _grow(points, core, config.grow_distance)

    in_core, in_pocket = core >= 0, grown >= 0
    core_count = np.bincount(core[in_core], minlength=n_pockets)
    centres = (
        np.stack(
            [np.bincount(core[in_core], weights=points[in_core, k], minlength=n_pockets) for k in range(3)],
            axis=1,
        )
        / core_count[:, None]
    )
    scores = np.bincount(grown[in_pocket], weights=probabilities[in_pocket] ** 2, minlength=n_pockets)
    if calibrator is None:
        calibrated = np.full(n_pockets, np.nan)
    else:
        calibrated = np.broadcast_to(np.asarray(calibrator(scores), dtype=np.float64), scores.shape)

    members = _split(grown[in_pocket], np.flatnonzero(in_pocket).astype(np.int64), n_pockets)
    atoms = _pocket_atoms(points, grown, n_pockets, atom_coords, exposed, config.residue_distance)
    # Labels are numbered by the core's first point index, so a stable sort on
    # −score breaks ties by that index.
    order = np.argsort(-scores, kind="stable")
    return tuple(
        Pocket(
            rank=rank,
            score=float(scores[label]),
            probability=float(calibrated[label]),
            centre=centres[label],
            point_indices=members[label],
            residue_indices=np.unique(atom_residue[atoms[label]]).astype(np.int64),
            atom_indices=atoms[label],
        )
        for rank, label in enumerate(order.tolist(), start=1)
    )
