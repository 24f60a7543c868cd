"""The k nearest residues of each SAS point: the neighbourhood the model attends over.

Each point already knows its *centre* residue (``ProteinFeatures.point_residue``,
the residue of the atom whose SAS sphere holds it). The neighbourhood branch
looks at the ``k`` residues closest to the point *other than* that centre, so
the centre is never counted twice. Indices returned here are LOCAL to one
protein (``0..R-1``, rows of its residue arrays); :mod:`pocknet.trainset.h5writer` turns
them into global rows of the residue table.

Distance definitions (``params.yaml``: ``neighbour_distance``):

``"ca"``
    point → Cα; residues without a Cα fall back to their heavy-atom centroid,
    so a residue with a missing CA is not silently dropped from neighbourhoods.
``"centroid"``
    point → heavy-atom centroid of the residue.
``"min_atom"``
    point → nearest heavy atom of the residue (exact, not approximated by a
    centroid): big side chains reach a point long before their Cα does.

Residues with no usable position (no atoms and no Cα) can never be neighbours.
When fewer than ``k`` other residues exist, rows are padded with index ``-1``
and distance ``-1.0``; padding always comes after the real neighbours.

:func:`k_nearest_points` gives the spatial-context model its *point* neighbours:
the nearest other SAS points of the same protein within a radius, drawn from
every ``stride``-th point (same padding convention).
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError

if TYPE_CHECKING:  # annotations only: the training stage reads neighbours without featurising
    from pocknet.featurize.features import ProteinFeatures

__all__ = [
    "NEIGHBOUR_DEFINITIONS",
    "PAD_INDEX",
    "PAD_DISTANCE",
    "residue_centroids",
    "residue_positions",
    "k_nearest_residues",
    "k_nearest_points",
    "nearest_residues",
]

NEIGHBOUR_DEFINITIONS = ("ca", "centroid", "min_atom")
PAD_INDEX = -1
PAD_DISTANCE = -1.0

# Upper bound on (rows x candidates) handled at once, so a 100k-point protein
# or a widened query never allocates more than a few tens of MB.
_CANDIDATE_BUDGET = 1 << 21
# The same for point neighbours (several [rows, k + 1] work arrays per chunk): ~35 MB at most.
_POINT_BUDGET = 1 << 19


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or int(k) < 1:
        raise ConfigError(f"neighbours: k must be a positive integer, got {k!r}")
    return int(k)


def _check_definition(definition: object, allowed: tuple[str, ...] = NEIGHBOUR_DEFINITIONS) -> str:
    if definition not in allowed:
        raise ConfigError(f"neighbour_distance: unknown definition {definition!r}; known: {list(allowed)}")
    return str(definition)


def residue_centroids(atom_coords: np.ndarray, atom_residue: np.ndarray, n_residues: int) -> np.ndarray:
    """Heavy-atom centroid of every residue.

    Parameters
    ----------
    atom_coords : ndarray [N, 3]
        Heavy-atom coordinates.
    atom_residue : ndarray [N] int
        Residue index (``0..n_residues-1``) of each atom.
    n_residues : int
        Number of residues ``R``; residues without atoms get NaN.

    Returns
    -------
    ndarray [R, 3] float32
        Accumulated in float64 (``bincount``) so large residues do not lose
        precision before the cast.
    """
    atom_coords = np.asarray(atom_coords, dtype=np.float64).reshape(-1, 3)
    atom_residue = np.asarray(atom_residue, dtype=np.int64)
    counts = np.bincount(atom_residue, minlength=n_residues)[:n_residues].astype(np.float64)
    sums = np.stack(
        [
            np.bincount(atom_residue, weights=atom_coords[:, d], minlength=n_residues)[:n_residues]
            for d in range(3)
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        centroids = sums / counts[:, None]
    return centroids.astype(np.float32)


def residue_positions(features: ProteinFeatures, definition: str) -> np.ndarray:
    """One representative position per residue.

    Parameters
    ----------
    features : ProteinFeatures
    definition : {"ca", "centroid"}
        ``"ca"`` uses the Cα and falls back to the heavy-atom centroid where
        the Cα is missing (NaN); ``"centroid"`` always uses the centroid.
        ``"min_atom"`` has no single position and is rejected.

    Returns
    -------
    ndarray [R, 3] float32
        NaN rows only for residues with neither a Cα nor any heavy atom.
    """
    definition = _check_definition(definition, ("ca", "centroid"))
    n_residues = len(features.residue_number)
    centroids = residue_centroids(features.atom_coords, features.atom_residue, n_residues)
    if definition == "centroid":
        return centroids
    positions = np.array(features.residue_ca, dtype=np.float32, copy=True).reshape(n_residues, 3)
    missing = ~np.isfinite(positions).all(axis=1)
    positions[missing] = centroids[missing]
    return positions


def _first_k_groups(
    groups: np.ndarray, dist: np.ndarray, exclude: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First ``k`` distinct groups per row (columns are distance-sorted), skipping ``exclude``.

    Returns local indices ``[B, k]`` (``-1`` padded), their distances (``-1``
    padded) and the number of distinct non-excluded groups seen per row.
    """
    n_rows, m = groups.shape
    n_groups = int(groups.max()) + 1 if groups.size else 1
    key = (np.arange(n_rows, dtype=np.int64)[:, None] * n_groups + groups).ravel()
    # return_index gives the first occurrence of each (row, group) key; sorted
    # back into flat order it lists each row's groups by increasing distance.
    _, first = np.unique(key, return_index=True)
    first.sort()
    row = first // m
    group = groups.ravel()[first]
    distance = dist.ravel()[first]
    keep = group != exclude[row]
    row, group, distance = row[keep], group[keep], distance[keep]
    counts = np.bincount(row, minlength=n_rows)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(row)) - starts[row]
    sel = rank < k
    idx = np.full((n_rows, k), PAD_INDEX, dtype=np.int32)
    out = np.full((n_rows, k), PAD_DISTANCE, dtype=np.float32)
    idx[row[sel], rank[sel]] = group[sel]
    out[row[sel], rank[sel]] = distance[sel]
    return idx, out, counts


def k_nearest_residues(
    points: np.ndarray,
    coords: np.ndarray,
    coord_residue: np.ndarray,
    point_residue: np.ndarray,
    k: int,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest residues of each point, where a residue is a set of coordinates.

    The pure core of :func:`nearest_residues`: with one coordinate per residue
    (Cα / centroid) it is a plain kNN; with all heavy atoms it gives the exact
    minimum-atom distance. A KD-tree returns the nearest coordinates sorted by
    distance, so the first time a residue appears in that list is its distance;
    rows that did not see ``k`` distinct residues (besides their own) are
    queried again with twice as many coordinates, until the whole protein is
    covered.

    Parameters
    ----------
    points : ndarray [P, 3]
    coords : ndarray [M, 3]
        Non-finite rows are ignored.
    coord_residue : ndarray [M] int
        Local residue index of each coordinate.
    point_residue : ndarray [P] int
        Centre residue of each point, excluded from its neighbours.
    k : int

    Returns
    -------
    neighbours : ndarray [P, k] int32
        Local residue indices sorted by distance ascending, ``-1`` padded.
    neighbour_dist : ndarray [P, k] float32
        Matching distances (Å), ``-1.0`` padded.
    """
    k = _check_k(k)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    coord_residue = np.asarray(coord_residue, dtype=np.int64).reshape(-1)
    point_residue = np.asarray(point_residue, dtype=np.int64).reshape(-1)
    if len(coord_residue) != len(coords) or len(point_residue) != len(points):
        raise ValueError("k_nearest_residues: coords/coord_residue or points/point_residue lengths differ")
    n_points = len(points)
    neighbours = np.full((n_points, k), PAD_INDEX, dtype=np.int32)
    distances = np.full((n_points, k), PAD_DISTANCE, dtype=np.float32)
    finite = np.isfinite(coords).all(axis=1)
    coords, coord_residue = coords[finite], coord_residue[finite]
    n_coords = len(coords)
    if n_points == 0 or n_coords == 0:
        return neighbours, distances
    tree = cKDTree(coords)
    per_residue = n_coords / len(np.unique(coord_residue))
    # Enough coordinates for k+1 average residues (the centre may be among
    # them); on real proteins this covers almost every point at once, and the
    # few that see too few residues are widened below.
    m = int(min(n_coords, max(k + 1, np.ceil((k + 1) * per_residue))))
    pending = np.arange(n_points)
    while pending.size:
        step = max(1, _CANDIDATE_BUDGET // m)
        unfinished = []
        for start in range(0, len(pending), step):
            rows = pending[start : start + step]
            dist, j = tree.query(points[rows], k=m)
            dist = np.asarray(dist).reshape(len(rows), m)
            j = np.asarray(j).reshape(len(rows), m)
            idx, d, counts = _first_k_groups(coord_residue[j], dist, point_residue[rows], k)
            done = (counts >= k) | (m >= n_coords)
            neighbours[rows[done]] = idx[done]
            distances[rows[done]] = d[done]
            unfinished.append(rows[~done])
        pending = np.concatenate(unfinished)
        m = min(n_coords, 2 * m)
    return neighbours, distances


def nearest_residues(features: ProteinFeatures, k: int, definition: str) -> tuple[np.ndarray, np.ndarray]:
    """k nearest residues of every SAS point of one protein, excluding its centre residue.

    Parameters
    ----------
    features : ProteinFeatures
    k : int
        Neighbours per point; proteins with fewer than ``k + 1`` residues get
        ``-1`` / ``-1.0`` padding.
    definition : {"ca", "centroid", "min_atom"}
        See the module docstring.

    Returns
    -------
    neighbours : ndarray [P, k] int32
        LOCAL residue indices (rows of ``features.residue_*``), nearest first.
    neighbour_dist : ndarray [P, k] float32
        Distances in Å.

    Raises
    ------
    ConfigError
        Unknown ``definition`` or ``k`` not a positive integer.
    """
    definition = _check_definition(definition)
    k = _check_k(k)
    if definition == "min_atom":
        coords, coord_residue = features.atom_coords, features.atom_residue
    else:
        coords = residue_positions(features, definition)
        coord_residue = np.arange(len(coords))
    return k_nearest_residues(features.points, coords, coord_residue, features.point_residue, k)


def k_nearest_points(
    points: np.ndarray,
    k: int,
    radius: float,
    stride: int = 1,
    *,
    max_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other points within ``radius`` of each point, among every ``stride``-th point.

    Candidates are the points ``0, stride, 2·stride, …`` (file order; ``stride = 1``: all points);
    a point is never its own neighbour. One KD-tree over the candidates, queried for ``k + 1``
    neighbours (room for the point itself) in chunks of rows, so memory stays bounded (a few tens
    of MB) whatever the number of points: ~150 000 points of a 40 000-atom complex are fine.
    Depends only on the coordinates and their order, so the H5 rows (training) and a freshly
    featurised structure (``pocknet predict``) get the same lists.

    Parameters
    ----------
    points : ndarray [P, 3]
        Coordinates; computed in float64 from whatever precision is given.
    k : int
        Neighbours per point.
    radius : float
        Å; neighbours at distance ``<= radius`` only.
    stride : int
        Candidate spacing in point order (``>= 1``).
    max_rows : int, optional
        Points queried at once (default: about half a million candidate slots per chunk).

    Returns
    -------
    neighbours : ndarray [P, k] int32
        LOCAL point indices (rows of ``points``), nearest first (equal distances in the KD-tree's
        order, which depends only on the coordinates), ``-1`` padded.
    neighbour_dist : ndarray [P, k] float32
        Distances in Å, ``-1.0`` padded.
    """
    k = _check_k(k)
    if isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or int(stride) < 1:
        raise ConfigError(f"point neighbours: stride must be a positive integer, got {stride!r}")
    radius = float(radius)
    if not radius > 0.0 or not np.isfinite(radius):
        raise ConfigError(f"point neighbours: radius must be a positive, finite distance, got {radius!r}")
    stride = int(stride)
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    n_points = len(points)
    neighbours = np.full((n_points, k), PAD_INDEX, dtype=np.int32)
    distances = np.full((n_points, k), PAD_DISTANCE, dtype=np.float32)
    candidates = np.arange(0, n_points, stride)
    if n_points == 0:
        return neighbours, distances
    tree = cKDTree(points[candidates])
    # cKDTree keeps only d < bound; the next float up keeps d == radius as documented.
    bound = float(np.nextafter(radius, np.inf))
    n_candidates = len(candidates)

    def query(rows: np.ndarray, drop_self: bool) -> None:
        # A candidate finds itself (distance 0), so it asks for one more and drops itself; the
        # other points (all but 1 / stride of them) cannot, and ask for k.
        m = min(k + 1 if drop_self else k, n_candidates)
        dist, j = tree.query(points[rows], k=m, distance_upper_bound=bound)
        dist = np.asarray(dist, dtype=np.float64).reshape(len(rows), m)
        j = np.asarray(j, dtype=np.int64).reshape(len(rows), m)
        found = j < n_candidates  # misses come back as index n_candidates, distance inf
        index = np.where(found, candidates[np.minimum(j, n_candidates - 1)], PAD_INDEX)
        if drop_self:  # at most once per row: the columns after it shift left by one
            is_self = found & (index == rows[:, None])
            cols = np.arange(min(k, m))
            after_self = cols[None, :] >= np.where(is_self.any(axis=1), is_self.argmax(axis=1), m)[:, None]
            shifted = cols[None, :] + after_self
            take = np.minimum(shifted, m - 1)  # past the last column (fewer than k + 1 candidates): padding
            found = np.take_along_axis(found & ~is_self, take, axis=1) & (shifted < m)
            index = np.take_along_axis(index, take, axis=1)
            dist = np.take_along_axis(dist, take, axis=1)
        width = index.shape[1]
        neighbours[rows, :width] = np.where(found, index, PAD_INDEX)
        distances[rows, :width] = np.where(found, dist, PAD_DISTANCE)

    step = max(1, int(max_rows) if max_rows is not None else _POINT_BUDGET // (k + 1))
    for start in range(0, n_points, step):
        rows = np.arange(start, min(start + step, n_points))
        own = rows % stride == 0
        for subset, drop_self in ((rows[own], True), (rows[~own], False)):
            if len(subset):
                query(subset, drop_self)
    return neighbours, distances
