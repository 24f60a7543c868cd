import dataclasses

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from pocknet.errors import ConfigError
from pocknet.trainset.neighbours import (
    NEIGHBOUR_DEFINITIONS,
    k_nearest_residues,
    nearest_residues,
    residue_centroids,
    residue_positions,
)


def _brute_force(features, definition):
    """[P, R] point → residue distances, own residue set to inf."""
    points = features.points.astype(np.float64)
    n_residues = len(features.residue_number)
    if definition == "min_atom":
        d_atoms = cdist(points, features.atom_coords.astype(np.float64))
        dist = np.full((len(points), n_residues), np.inf)
        for r in range(n_residues):
            mine = features.atom_residue == r
            if mine.any():
                dist[:, r] = d_atoms[:, mine].min(axis=1)
    else:
        dist = cdist(points, residue_positions(features, definition).astype(np.float64))
    dist[np.arange(len(points)), features.point_residue] = np.inf
    return dist


@pytest.mark.parametrize("definition", NEIGHBOUR_DEFINITIONS)
def test_exact_k_nearest_on_a_real_protein(features_1a82a, definition):
    k = 12
    neighbours, dist = nearest_residues(features_1a82a, k, definition)
    n_points = len(features_1a82a.points)
    assert neighbours.shape == dist.shape == (n_points, k)
    assert neighbours.dtype == np.int32 and dist.dtype == np.float32
    rows = np.random.default_rng(0).choice(n_points, 400, replace=False)
    sub = dataclasses.replace(
        features_1a82a, points=features_1a82a.points[rows], point_residue=features_1a82a.point_residue[rows]
    )
    brute = _brute_force(sub, definition)
    order = np.argsort(brute, axis=1, kind="stable")[:, :k]
    expected = np.take_along_axis(brute, order, axis=1)
    # no exact ties at the k-th place, so the expected index set is unambiguous
    assert np.all(np.sort(brute, axis=1)[:, k] > expected[:, -1])
    np.testing.assert_array_equal(neighbours[rows], order)
    np.testing.assert_allclose(dist[rows], expected, rtol=1e-6, atol=1e-5)
    assert not np.any(neighbours[rows] == features_1a82a.point_residue[rows, None])
    assert np.all(np.diff(dist, axis=1) >= 0)
    assert neighbours.min() >= 0  # 224 residues: no padding


def test_definitions_differ_and_min_atom_is_closest(features_1a82a):
    _, d_ca = nearest_residues(features_1a82a, 4, "ca")
    _, d_min = nearest_residues(features_1a82a, 4, "min_atom")
    # the nearest atom of a residue is never further than its CA
    assert np.all(d_min[:, 0] <= d_ca[:, 0] + 1e-5)
    assert np.mean(d_min[:, 0]) < np.mean(d_ca[:, 0]) - 0.5


def test_centroids_and_ca_fallback(features_1a82a):
    f = features_1a82a
    n_residues = len(f.residue_number)
    centroids = residue_positions(f, "centroid")
    expected = np.stack(
        [f.atom_coords[f.atom_residue == r].astype(np.float64).mean(axis=0) for r in range(n_residues)]
    )
    np.testing.assert_allclose(centroids, expected, atol=1e-4)
    assert centroids.dtype == np.float32
    ca = f.residue_ca.copy()
    ca[[3, 10]] = np.nan
    positions = residue_positions(dataclasses.replace(f, residue_ca=ca), "ca")
    np.testing.assert_array_equal(positions[[3, 10]], centroids[[3, 10]])
    keep = np.setdiff1d(np.arange(n_residues), [3, 10])
    np.testing.assert_array_equal(positions[keep], f.residue_ca[keep])
    # residues without atoms have no centroid
    assert np.isnan(residue_centroids(np.zeros((1, 3)), np.array([0]), 2)[1]).all()


def test_padding_when_fewer_than_k_plus_one_residues():
    # 3 residues, one atom each; every point sits on residue 0
    coords = np.array([[0, 0, 0], [3, 0, 0], [0, 5, 0]], dtype=np.float32)
    points = np.array([[0, 0, 1], [1, 0, 0]], dtype=np.float32)
    neighbours, dist = k_nearest_residues(points, coords, np.arange(3), np.array([0, 0]), 4)
    np.testing.assert_array_equal(neighbours, [[1, 2, -1, -1], [1, 2, -1, -1]])
    np.testing.assert_allclose(dist[0, :2], [np.sqrt(10), np.sqrt(26)], rtol=1e-6)
    np.testing.assert_allclose(dist[1, :2], [2, np.sqrt(26)], rtol=1e-6)
    np.testing.assert_array_equal(dist[:, 2:], -1.0)
    # a single-residue protein has no neighbours at all
    neighbours, dist = k_nearest_residues(points, coords[:1], [0], [0, 0], 2)
    assert (neighbours == -1).all() and (dist == -1.0).all()
    # nor does one without coordinates (NaN positions are ignored)
    neighbours, dist = k_nearest_residues(points, np.full((2, 3), np.nan), [0, 1], [0, 0], 2)
    assert (neighbours == -1).all() and (dist == -1.0).all()
    neighbours, dist = k_nearest_residues(np.zeros((0, 3)), coords, np.arange(3), [], 2)
    assert neighbours.shape == dist.shape == (0, 2)


def test_widening_when_the_centre_residue_hides_the_others():
    # Residue 0 has 1000 atoms around the point, residues 1..10 one atom each
    # further out: the first KD-tree query sees only residue 0 and must widen.
    rng = np.random.default_rng(1)
    big = rng.normal(scale=0.5, size=(1000, 3))
    singles = np.array([[4.0 + r, 0, 0] for r in range(10)])
    coords = np.concatenate([big, singles])
    coord_residue = np.r_[np.zeros(1000, dtype=int), np.arange(1, 11)]
    points = np.zeros((2, 3))
    neighbours, dist = k_nearest_residues(points, coords, coord_residue, [0, 5], 3)
    np.testing.assert_array_equal(neighbours[0], [1, 2, 3])
    np.testing.assert_allclose(dist[0], [4, 5, 6], rtol=1e-6)
    # when residue 0 is a neighbour it counts once, at its nearest atom
    assert neighbours[1, 0] == 0 and neighbours[1, 1:].tolist() == [1, 2]
    assert dist[1, 0] == pytest.approx(np.linalg.norm(big, axis=1).min(), rel=1e-6)


def test_bad_arguments(features_1a82a):
    with pytest.raises(ConfigError, match="unknown definition 'cb'"):
        nearest_residues(features_1a82a, 4, "cb")
    with pytest.raises(ConfigError, match="k must be a positive integer"):
        nearest_residues(features_1a82a, 0, "ca")
    with pytest.raises(ConfigError, match="min_atom"):
        residue_positions(features_1a82a, "min_atom")
