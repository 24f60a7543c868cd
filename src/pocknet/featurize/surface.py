"""Solvent-accessible-surface (SAS) points (SCIENCE.md §2).

Each heavy atom gets a sphere of radius r_vdW + probe, sampled along the
vertices of a subdivided icosahedron; a sample is kept when it lies outside
every *other* atom's expanded sphere (r_vdW + probe, not the bare vdW radius
the original PockNet used). Samples closer than ``merge_distance`` merge.

The burial test first tries each sample against its own atom's nearest
neighbours (numpy, no tree of samples): that buries ~95 % of them. The rest
get the exhaustive test, one KD-tree sparse-distance query per chunk of
samples, the chunks sized from a grid bound on their pair count, so memory
stays bounded (a few hundred MB) for 40 000-atom complexes and for piles of
coincident atoms alike. Both tests compute a distance exactly as scipy's
KD-tree does (``sqrt((dx² + dy²) + dz²)`` in float64), so the mask is the
same bits whichever test decides a sample.
Radii: CDK's element table, as P2Rank (:func:`pocknet.featurize.radii.vdw_radii`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError

__all__ = [
    "SurfacePoints",
    "sphere_directions",
    "sas_points",
    "sas_area",
]

_CHUNK = 200_000  # samples per burial query at most
# Candidate (sample, atom) pairs per burial query at most: ~50 bytes each in
# scipy's result, so ~200 MB. Piles of coincident atoms (unplaced atoms at the
# origin) otherwise give every sample thousands of pairs: 1 500 atoms at one
# point took 3.7 GB.
_MAX_PAIRS = 4_000_000
_NEAREST = 12  # neighbours per atom tried before the exhaustive burial test (fastest of 4–16 on COACH420)
_PACK = 2**19  # |grid cell index| below this: three indices fit the 21-bit fields of one int64 key


@dataclass(frozen=True)
class SurfacePoints:
    """SAS points and their provenance."""

    coords: np.ndarray  # [P, 3] float64
    atom: np.ndarray  # [P] int32, index of the atom whose sphere the point is on
    exposed_samples: np.ndarray  # [N] int32, unburied samples per atom (before merging)
    n_directions: int  # samples per atom sphere

    def __len__(self) -> int:
        return len(self.coords)


@lru_cache(maxsize=8)
def sphere_directions(level: int) -> np.ndarray:
    """Unit vectors of an icosphere: level 1 = icosahedron (12), 2 → 42, 3 → 162.

    Levels follow CDK's tessellation numbering as used by P2Rank
    (``tessellation=2`` ≈ 42 points per atom).
    """
    if not 1 <= level <= 6:
        raise ConfigError(f"sas tessellation level must be 1..6, got {level}")
    t = (1.0 + 5**0.5) / 2.0
    verts = [
        (-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0),
        (0, -1, t), (0, 1, t), (0, -1, -t), (0, 1, -t),
        (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1),
    ]  # fmt: skip
    faces = [
        (0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11),
        (1, 5, 9), (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8),
        (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9),
        (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1),
    ]  # fmt: skip
    points = [np.array(v, dtype=np.float64) / np.linalg.norm(v) for v in verts]
    for _ in range(level - 1):
        midpoint: dict[tuple[int, int], int] = {}

        def mid(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in midpoint:
                m = points[a] + points[b]
                points.append(m / np.linalg.norm(m))
                midpoint[key] = len(points) - 1
            return midpoint[key]

        new_faces = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new_faces += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = new_faces
    # Swapping x and y maps this icosahedron onto CDK's (cyclic permutations of
    # (±0.851, ±0.526, 0)), so our directions are P2Rank's, not just as many.
    out = np.array(points)[:, [1, 0, 2]]
    out.setflags(write=False)
    return out


def _cell_keys(coords: np.ndarray, side: float) -> np.ndarray | None:
    """One int64 key per grid cube of ``side`` holding each point; None when the grid is too large."""
    cells = np.floor(coords / (side * (1 + 1e-9)))
    if len(coords) == 0 or not np.abs(cells).max() < _PACK:  # huge or non-finite coordinates
        return None
    ints = cells.astype(np.int64) + 2 * _PACK
    return (ints[:, 0] << 42) | (ints[:, 1] << 21) | ints[:, 2]


def _neighbour_bound(coords: np.ndarray, radius: float) -> np.ndarray:
    """Per point, an upper bound on the points within ``radius`` of it, without a pair search.

    Points within ``radius`` lie in the 27 grid cubes of side ``radius`` around
    a point's own, so their populations bound the count; O(N log N) even when
    thousands of points sit at one spot.
    """
    key = _cell_keys(coords, radius)
    if key is None:
        return np.full(len(coords), len(coords), dtype=np.int64)  # assume the worst
    keys, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    total = np.zeros(len(keys), dtype=np.int64)
    for dx, dy, dz in itertools.product((-1, 0, 1), repeat=3):
        wanted = keys + ((dx << 42) + (dy << 21) + dz)
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        total += np.where(keys[at] == wanted, counts[at], 0)
    return total[inverse.reshape(-1)]


def _total_pair_bound(coords: np.ndarray, radius: float) -> int:
    """Upper bound on Σ over points of the points within ``radius``: 27 Σ n_cube².

    (Each neighbouring-cube product n_a n_b is at most (n_a² + n_b²) / 2.)
    One ``np.unique``, cheaper than :func:`_neighbour_bound` on many points.
    """
    key = _cell_keys(coords, radius)
    if key is None:
        return len(coords) ** 2
    counts = np.unique(key, return_counts=True)[1]
    return 27 * int(np.sum(counts.astype(np.int64) ** 2))


def _chunks(pair_bound: np.ndarray, max_pairs: int, max_len: int) -> list[tuple[int, int]]:
    """Consecutive ``(start, stop)`` ranges with at most ``max_pairs`` bounded pairs (at least one item)."""
    cumulative = np.cumsum(pair_bound)
    ranges, start = [], 0
    while start < len(pair_bound):
        before = cumulative[start - 1] if start else 0
        stop = int(np.searchsorted(cumulative, before + max_pairs, side="right"))
        stop = min(max(stop, start + 1), start + max_len)
        ranges.append((start, stop))
        start = stop
    return ranges


def _buried(samples: np.ndarray, owner: np.ndarray, coords: np.ndarray, expanded: np.ndarray) -> np.ndarray:
    """Mask of samples strictly inside another atom's expanded sphere.

    A sample buried by one of its atom's :data:`_NEAREST` nearest atoms is buried whatever
    the others do, so only the rest go to :func:`_buried_exhaustive` (the same test, same
    distances, on every atom within reach).
    """
    buried, rest = _buried_by_nearest(samples, owner, coords, expanded)
    if len(rest):
        buried[rest] = _buried_exhaustive(samples[rest], owner[rest], coords, expanded)
    return buried


def _buried_by_nearest(
    samples: np.ndarray, owner: np.ndarray, coords: np.ndarray, expanded: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(mask of samples buried by one of their atom's nearest atoms, indices of the others).

    Neighbours are tried nearest first and each round keeps only the samples still
    exposed, so a protein costs ~4 distance tests per sample instead of a tree of samples.
    """
    n = len(coords)
    buried = np.zeros(len(samples), dtype=bool)
    if n < 2:
        return buried, np.arange(len(samples))
    _, nearest = cKDTree(coords).query(coords, k=min(_NEAREST + 1, n))
    if np.array_equal(nearest[:, 0], np.arange(n)):  # column 0 is the atom itself (no coincident twin)
        nearest = nearest[:, 1:]
    sx, sy, sz = samples[:, 0], samples[:, 1], samples[:, 2]
    cx, cy, cz = coords[:, 0], coords[:, 1], coords[:, 2]
    limit = expanded - 1e-6
    active = np.arange(len(samples))
    for column in nearest.T:
        atom = owner[active]
        other = column[atom]
        dx, dy, dz = sx[active] - cx[other], sy[active] - cy[other], sz[active] - cz[other]
        inside = (np.sqrt((dx * dx + dy * dy) + dz * dz) < limit[other]) & (other != atom)
        buried[active[inside]] = True
        active = active[~inside]
    return buried, active


def _buried_exhaustive(samples: np.ndarray, owner: np.ndarray, coords: np.ndarray, expanded: np.ndarray) -> np.ndarray:
    """Mask of samples strictly inside another atom's expanded sphere, every atom within reach tested.

    Queried in chunks whose pair count is bounded in advance (a sample's
    neighbours lie within twice the largest expanded radius of its atom), so
    memory stays bounded however the atoms are packed.
    """
    atom_tree = cKDTree(coords)
    reach = float(expanded.max())
    bound = _neighbour_bound(coords, 2 * reach)[owner]
    buried = np.zeros(len(samples), dtype=bool)
    for start, stop in _chunks(bound, _MAX_PAIRS, _CHUNK):
        chunk = samples[start:stop]
        pairs = cKDTree(chunk).sparse_distance_matrix(atom_tree, reach, output_type="ndarray")
        i, j, d = pairs["i"], pairs["j"], pairs["v"]
        inside = (d < expanded[j] - 1e-6) & (j != owner[start + i])
        buried[start + i[inside]] = True
    return buried


def _merge_close(points: np.ndarray, distance: float) -> np.ndarray:
    """Indices of one representative (the first) per group of points within ``distance``."""
    if distance <= 0 or len(points) < 2:
        return np.arange(len(points))
    if _total_pair_bound(points, distance) > _MAX_PAIRS:  # piles (coincident atoms): twins, then chunks
        unique, inverse = np.unique(points, axis=0, return_inverse=True)
        component = _chunked_components(unique, distance, _neighbour_bound(unique, distance))
        component = component[inverse.reshape(-1)]
    else:
        pairs = cKDTree(points).query_pairs(distance, output_type="ndarray")
        if len(pairs) == 0:
            return np.arange(len(points))
        n = len(points)
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        _, component = connected_components(graph, directed=False)
    _, first = np.unique(component, return_index=True)
    return np.sort(first)


def _chunked_components(points: np.ndarray, distance: float, bound: np.ndarray) -> np.ndarray:
    """Single-linkage components at ``distance``, merging the pairs of one bounded chunk at a time."""
    n = len(points)
    tree = cKDTree(points)
    label = np.arange(n)
    for start, stop in _chunks(bound, _MAX_PAIRS, _CHUNK):
        pairs = cKDTree(points[start:stop]).sparse_distance_matrix(tree, distance, output_type="ndarray")
        a, b = label[start + pairs["i"]], label[pairs["j"]]
        graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
        _, merged = connected_components(graph, directed=False)
        label = merged[label]
    return label


def sas_points(
    coords: np.ndarray,
    radii: np.ndarray,
    probe: float = 1.6,
    tessellation: int = 2,
    merge_distance: float = 0.05,
) -> SurfacePoints:
    """SAS points of a set of atoms.

    Parameters
    ----------
    coords
        [N, 3] heavy-atom coordinates.
    radii
        [N] vdW radii.
    probe
        Solvent probe radius (Å).
    tessellation
        Icosphere level (see :func:`sphere_directions`).
    merge_distance
        Points closer than this merge into one.
    """
    coords = np.asarray(coords, dtype=np.float64)
    directions = sphere_directions(tessellation)
    expanded = np.asarray(radii, dtype=np.float64) + probe
    samples = (coords[:, None, :] + expanded[:, None, None] * directions[None]).reshape(-1, 3)
    owner = np.repeat(np.arange(len(coords), dtype=np.int32), len(directions))
    keep = ~_buried(samples, owner, coords, expanded)
    samples, owner = samples[keep], owner[keep]
    exposed = np.bincount(owner, minlength=len(coords)).astype(np.int32)
    rep = _merge_close(samples, merge_distance)
    return SurfacePoints(
        coords=samples[rep],
        atom=owner[rep],
        exposed_samples=exposed,
        n_directions=len(directions),
    )


def sas_area(surface: SurfacePoints, radii: np.ndarray, probe: float = 1.6) -> float:
    """Total SAS area (Å²) implied by the unburied sample fraction of each atom."""
    expanded = np.asarray(radii, dtype=np.float64) + probe
    fraction = surface.exposed_samples / surface.n_directions
    return float(np.sum(4.0 * np.pi * expanded**2 * fraction))
