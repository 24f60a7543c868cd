"""Pockets from point probabilities (SCIENCE.md §7) on small hand-made geometry."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from pocknet.errors import ConfigError
from pocknet.predict.pockets import PocketConfig, cluster_points, find_pockets
from pocknet.predict.prediction import Pocket
from pocknet.predict.residues import residue_pocket_ranks, residue_scores, zscores

GRID = np.array([(x, y, 0.0) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0)])  # 9 points, 1 Å apart


def _scene():
    """Blob B (indices 0-8, p 0.7) first, then blob A (9-17, p 0.9), a low point grown into A, a far low point.

    Blob B comes first so that its cluster label (0) is lower than A's although A scores higher:
    the ranking must come from the scores, not from label order.
    """
    b = GRID + [20.0, 0.0, 0.0]
    a = GRID.copy()
    grown = [[0.0, 3.5, 0.0]]  # 2.5 Å from A's (0, 1, 0)
    far = [[10.0, 0.0, 0.0]]  # 9 Å from A, 9 Å from B: joins nothing
    points = np.vstack([b, a, grown, far])
    probs = np.r_[np.full(9, 0.7), np.full(9, 0.9), 0.1, 0.2]
    atoms = np.array(
        [
            [0.0, 0.0, 3.0],  # 0: exposed, 3.0 Å from A's centre point        → residue 0
            [0.0, 0.0, -2.0],  # 1: buried but close to A                       → excluded
            [0.0, 0.0, 3.4],  # 2: exposed, 3.4 Å, same residue as atom 0      → residue 0
            [1.0, 1.0, 4.4],  # 3: exposed, 4.4 Å from the nearest point        → excluded
            [20.0, 0.0, 2.0],  # 4: exposed, near B                             → residue 3
            [50.0, 0.0, 0.0],  # 5: exposed, far from everything                → excluded
            [0.0, 6.5, 0.0],  # 6: exposed, 3 Å from the grown point only      → residue 5
        ]
    )
    residue = np.array([0, 1, 0, 2, 3, 4, 5])
    exposed = np.array([True, False, True, True, True, True, True])
    return points, probs, atoms, residue, exposed


def _pockets(threshold=0.5, config=None, calibrator=None):
    points, probs, atoms, residue, exposed = _scene()
    return find_pockets(
        points, probs, threshold, atoms, residue, exposed, config or PocketConfig(), calibrator
    )


# --------------------------------------------------------------------------- config


def test_config_from_params_and_validation():
    assert PocketConfig.from_params(None) == PocketConfig()
    config = PocketConfig.from_params({"method": "dbscan", "dbscan_eps": 2, "min_points": 4})
    assert config.method == "dbscan" and config.dbscan_eps == 2.0 and isinstance(config.dbscan_eps, float)
    with pytest.raises(ConfigError, match="unknown key"):
        PocketConfig.from_params({"link_distnace": 3.0})
    for bad in (
        {"method": "kmeans"},
        {"link_distance": 0},
        {"grow_distance": -1.0},
        {"residue_distance": float("nan")},
        {"min_points": 0},
        {"min_points": 2.5},
        {"dbscan_min_samples": True},
        {"residue_score_radius": "6.1"},
    ):
        with pytest.raises(ConfigError):
            PocketConfig.from_params(bad)
    assert PocketConfig(grow_distance=0).grow_distance == 0.0


# --------------------------------------------------------------------------- clustering


def test_cluster_labels_single_linkage_ordered_by_first_point():
    coords = np.array(
        [[10, 0, 0], [0, 0, 0], [10, 2.9, 0], [0, 3.0, 0], [5, 50, 0], [0, 6.0, 0], [10, 5.8, 0], [30, 0, 0]],
        dtype=float,
    )
    selected = np.array([True, True, True, True, True, True, True, False])
    labels = cluster_points(coords, selected, PocketConfig())
    # chains at x=10 (indices 0, 2, 6) and x=0 (1, 3, 5; 3 Å links count, <=), singleton 4 dropped, 7 unselected
    np.testing.assert_array_equal(labels, [0, 1, 0, 1, -1, 1, 0, -1])
    assert labels.dtype == np.int64


def test_min_points_drops_small_cluster():
    coords = np.array([[0, 0, 0], [1, 0, 0], [20, 0, 0], [21, 0, 0], [22, 0, 0]], dtype=float)
    labels = cluster_points(coords, np.ones(5, dtype=bool), PocketConfig(min_points=3))
    np.testing.assert_array_equal(labels, [-1, -1, 0, 0, 0])
    labels = cluster_points(coords, np.ones(5, dtype=bool), PocketConfig(min_points=2))
    np.testing.assert_array_equal(labels, [0, 0, 1, 1, 1])


def test_cluster_nothing_selected():
    labels = cluster_points(np.zeros((4, 3)), np.zeros(4, dtype=bool), PocketConfig())
    np.testing.assert_array_equal(labels, [-1] * 4)
    assert cluster_points(np.zeros((0, 3)), np.zeros(0, dtype=bool), PocketConfig()).shape == (0,)


# --------------------------------------------------------------------------- pockets


def test_two_blobs_ranked_by_sum_of_squares():
    pockets = _pockets()
    assert len(pockets) == 2
    first, second = pockets
    assert (first.rank, second.rank) == (1, 2)
    # A (indices 9-17) + its grown low point 18; far point 19 joins nothing
    np.testing.assert_array_equal(first.point_indices, np.r_[np.arange(9, 18), 18])
    np.testing.assert_array_equal(second.point_indices, np.arange(9))
    assert first.score == pytest.approx(9 * 0.81 + 0.01)
    assert second.score == pytest.approx(9 * 0.49)
    # centres: core means; the grown point at y=3.5 does not pull A's centre
    np.testing.assert_allclose(first.centre, [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(second.centre, [20.0, 0.0, 0.0], atol=1e-12)
    assert all(np.isnan(p.probability) for p in pockets)
    for p in pockets:
        assert p.point_indices.dtype == p.residue_indices.dtype == p.atom_indices.dtype == np.int64
        assert p.centre.shape == (3,)


def test_pocket_residues_only_from_exposed_atoms_near_grown_points():
    first, second = _pockets()
    # atom 1 is 2 Å from a pocket point but buried; atom 3 is 4.4 Å away; atom 6 only via growth
    np.testing.assert_array_equal(first.atom_indices, [0, 2, 6])
    np.testing.assert_array_equal(first.residue_indices, [0, 5])
    np.testing.assert_array_equal(second.atom_indices, [4])
    np.testing.assert_array_equal(second.residue_indices, [3])
    # when atom 1 is exposed it joins (residue 1)
    points, probs, atoms, residue, exposed = _scene()
    exposed = exposed.copy()
    exposed[1] = True
    first = find_pockets(points, probs, 0.5, atoms, residue, exposed, PocketConfig())[0]
    np.testing.assert_array_equal(first.atom_indices, [0, 1, 2, 6])
    np.testing.assert_array_equal(first.residue_indices, [0, 1, 5])


def test_growth_distance_bounds_growth():
    # with no growth the low point stays out; A's score is its core's alone
    first, _ = _pockets(config=PocketConfig(grow_distance=0.0))
    np.testing.assert_array_equal(first.point_indices, np.arange(9, 18))
    assert first.score == pytest.approx(9 * 0.81)
    np.testing.assert_array_equal(first.residue_indices, [0])  # atom 6 was reachable only via growth
    # a generous growth radius reaches the far point (9 Å from both cores: the lower label, B, wins the tie)
    pockets = _pockets(config=PocketConfig(grow_distance=9.0))
    assert 19 in pockets[1].point_indices and 19 not in pockets[0].point_indices


def test_grown_pockets_are_disjoint_nearest_core_wins():
    core1 = np.array([[0, -1, 0], [0, 0, 0], [0, 1, 0]], dtype=float)
    core2 = core1 + [5.0, 0.0, 0.0]  # 5 Å apart: two clusters at 3 Å linkage
    low = np.array([[2.0, 0, 0], [2.6, 0, 0], [2.5, 0.0, 0.0]])  # nearer core1, nearer core2, a tie
    points = np.vstack([core1, core2, low])
    probs = np.r_[np.full(3, 0.9), np.full(3, 0.8), 0.3, 0.3, 0.3]
    pockets = find_pockets(points, probs, 0.5, np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, bool))
    assert len(pockets) == 2
    by_first = {int(p.point_indices[0]): p for p in pockets}
    np.testing.assert_array_equal(by_first[0].point_indices, [0, 1, 2, 6, 8])  # tie → lower label (core1)
    np.testing.assert_array_equal(by_first[3].point_indices, [3, 4, 5, 7])
    all_points = np.concatenate([p.point_indices for p in pockets])
    assert len(all_points) == len(np.unique(all_points))
    # every low point is within 3.5 Å of both cores, yet each is counted in one score only
    assert sum(p.score for p in pockets) == pytest.approx(3 * 0.81 + 3 * 0.64 + 3 * 0.09)
    assert all(len(p.residue_indices) == 0 and len(p.atom_indices) == 0 for p in pockets)


def test_threshold_is_inclusive():
    points = GRID[:3]
    atoms, residue, exposed = np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, bool)
    assert len(find_pockets(points, np.full(3, 0.5), 0.5, atoms, residue, exposed)) == 1
    assert find_pockets(points, np.full(3, 0.5), np.nextafter(0.5, 1.0), atoms, residue, exposed) == ()


def test_equal_scores_ranked_by_first_point_index():
    points = np.vstack([GRID[:3] + [30.0, 0, 0], GRID[:3]])
    pockets = find_pockets(
        points, np.full(6, 0.8), 0.5, np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, bool)
    )
    assert pockets[0].score == pockets[1].score
    np.testing.assert_array_equal(pockets[0].point_indices, [0, 1, 2])
    np.testing.assert_array_equal([p.rank for p in pockets], [1, 2])


def test_dbscan_finds_the_same_blobs():
    single = _pockets()
    dbscan = _pockets(config=PocketConfig(method="dbscan"))
    assert len(dbscan) == 2
    for a, b in zip(single, dbscan):
        assert a.rank == b.rank and a.score == pytest.approx(b.score)
        np.testing.assert_array_equal(a.point_indices, b.point_indices)
        np.testing.assert_allclose(a.centre, b.centre)
        np.testing.assert_array_equal(a.residue_indices, b.residue_indices)
    # min_samples above the blob size: everything is noise
    assert _pockets(config=PocketConfig(method="dbscan", dbscan_min_samples=10)) == ()


def test_calibrator_sets_probability():
    pockets = _pockets(calibrator=lambda s: np.minimum(np.asarray(s) / 10.0, 1.0))
    assert pockets[0].probability == pytest.approx((9 * 0.81 + 0.01) / 10)
    assert pockets[1].probability == pytest.approx(9 * 0.49 / 10)


def test_calibrator_changes_only_the_probability():
    """Calibration is for reading: pockets, scores, ranks, centres and members are those without it."""
    import dataclasses

    calibrated = _pockets(calibrator=lambda s: 1.0 / (1.0 + np.exp(-(np.asarray(s) - 5.0))))
    plain = _pockets()
    assert len(calibrated) == len(plain) == 2
    for a, b in zip(calibrated, plain):
        assert 0.0 < a.probability < 1.0 and np.isnan(b.probability)
        for field in dataclasses.fields(a):
            if field.name != "probability":
                np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))


def test_deterministic_on_repeated_calls():
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 25, size=(600, 3))
    probs = rng.uniform(0, 1, size=600)
    atoms = rng.uniform(0, 25, size=(300, 3))
    residue = rng.integers(0, 40, size=300)
    exposed = rng.uniform(size=300) < 0.7
    runs = [find_pockets(points, probs, 0.6, atoms, residue, exposed) for _ in range(2)]
    assert len(runs[0]) > 1
    for a, b in zip(*runs):
        for field in dataclasses.fields(Pocket):
            np.testing.assert_array_equal(getattr(a, field.name), getattr(b, field.name))
    pockets = runs[0]
    assert [p.rank for p in pockets] == list(range(1, len(pockets) + 1))
    assert all(x.score >= y.score for x, y in itertools.pairwise(pockets))
    # brute-force checks of the definitions on random data
    for p in pockets:
        assert p.score == pytest.approx(float(np.sum(probs[p.point_indices] ** 2)))
        near = cdist(atoms, points[p.point_indices]).min(axis=1) <= 3.5
        np.testing.assert_array_equal(p.atom_indices, np.flatnonzero(near & exposed))
        np.testing.assert_array_equal(p.residue_indices, np.unique(residue[near & exposed]))
    all_points = np.concatenate([p.point_indices for p in pockets])
    assert len(all_points) == len(np.unique(all_points))


def test_empty_cases():
    atoms, residue, exposed = np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, bool)
    assert find_pockets(np.zeros((0, 3)), np.zeros(0), 0.5, atoms, residue, exposed) == ()
    points, probs, *_ = _scene()
    assert find_pockets(points, probs, 0.95, atoms, residue, exposed) == ()
    assert find_pockets(points, probs * 0.0, 0.5, atoms, residue, exposed) == ()
    with pytest.raises(ValueError):
        find_pockets(points, probs[:-1], 0.5, atoms, residue, exposed)
    nan_probs = probs.copy()
    nan_probs[0] = np.nan
    with pytest.raises(ValueError):
        find_pockets(points, nan_probs, 0.5, atoms, residue, exposed)


# --------------------------------------------------------------------------- residues


def test_residue_scores_by_hand():
    atoms = np.array([[0, 0, 0], [1, 0, 0], [10, 0, 0]], dtype=float)
    residue = np.array([0, 0, 1])
    points = np.array([[0, 0, 3], [4, 0, 0], [17, 0, 0]], dtype=float)
    probs = np.array([0.5, 0.3, 0.9])
    # point 0: near both atoms of residue 0 → counted once; point 1: residue 0 and, at 6 Å, residue 1;
    # point 2: 7 Å from residue 1 → nothing; residue 2 has no atoms
    score, best = residue_scores(points, probs, atoms, residue, 3, radius=6.1)
    np.testing.assert_allclose(score, [0.25 + 0.09, 0.09, 0.0])
    np.testing.assert_allclose(best, [0.5, 0.3, 0.0])
    assert score.dtype == best.dtype == np.float64


def test_residue_scores_match_brute_force():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 20, size=(400, 3))
    probs = rng.uniform(size=400)
    atoms = rng.uniform(0, 20, size=(150, 3))
    residue = rng.integers(0, 30, size=150)
    score, best = residue_scores(points, probs, atoms, residue, 32)
    near = cdist(points, atoms) <= 6.1  # [P, N]
    for r in range(32):
        hit = near[:, residue == r].any(axis=1)
        assert score[r] == pytest.approx(np.sum(probs[hit] ** 2))
        assert best[r] == pytest.approx(probs[hit].max() if hit.any() else 0.0)


def test_residue_scores_empty():
    score, best = residue_scores(np.zeros((0, 3)), np.zeros(0), np.zeros((2, 3)), np.array([0, 1]), 2)
    np.testing.assert_array_equal(score, [0, 0])
    np.testing.assert_array_equal(best, [0, 0])
    with pytest.raises(ValueError):
        residue_scores(np.zeros((1, 3)), np.zeros(1), np.zeros((1, 3)), np.array([2]), 2)


def test_residue_pocket_ranks():
    def pocket(rank, residues):
        empty = np.zeros(0, dtype=np.int64)
        return Pocket(rank, 1.0, np.nan, np.zeros(3), empty, np.array(residues, dtype=np.int64), empty)

    ranks = residue_pocket_ranks([pocket(2, [3, 5]), pocket(1, [2, 3])], 7)
    np.testing.assert_array_equal(ranks, [0, 0, 1, 1, 0, 2, 0])
    assert ranks.dtype == np.int32
    np.testing.assert_array_equal(residue_pocket_ranks((), 3), [0, 0, 0])
    # from real pockets of the scene
    np.testing.assert_array_equal(residue_pocket_ranks(_pockets(), 6), [1, 0, 0, 2, 0, 1])


def test_zscores():
    np.testing.assert_allclose(zscores([1.0, 2.0, 3.0]), np.array([-1, 0, 1]) * np.sqrt(1.5))
    np.testing.assert_array_equal(zscores([4.0, 4.0]), [0.0, 0.0])
    assert zscores([]).shape == (0,)


# --------------------------------------------------------------------------- two levels


def _three_blob_scene():
    """A (p 0.9), B (p 0.7) and a large lukewarm C (27 points, p 0.6) whose Σ p² beats A's."""
    cube = np.array([(x, y, z) for x in (-1.0, 0.0, 1.0) for y in (-1.0, 0.0, 1.0) for z in (-1.0, 0.0, 1.0)])
    points = np.vstack([GRID, GRID + [20.0, 0.0, 0.0], cube + [0.0, 20.0, 0.0]])
    probs = np.r_[np.full(9, 0.9), np.full(9, 0.7), np.full(27, 0.6)]
    atoms = np.array([[0.0, 0.0, 3.0], [20.0, 0.0, 2.0], [0.0, 20.0, 3.0]])
    return points, probs, atoms, np.arange(3), np.ones(3, dtype=bool)


def _same(a: Pocket, b: Pocket, **replaced) -> bool:
    """Field-by-field equality (arrays included), after replacing ``replaced`` fields of ``a``."""
    a = dataclasses.replace(a, **replaced)
    return all(
        np.array_equal(getattr(a, f.name), getattr(b, f.name), equal_nan=True)
        for f in dataclasses.fields(Pocket)
    )


def test_second_level_pockets_come_after_the_first_and_never_overlap_it():
    points, probs, atoms, residue, exposed = _three_blob_scene()
    config = PocketConfig(second_seed_threshold=0.5)
    pockets = find_pockets(points, probs, 0.8, atoms, residue, exposed, config)
    assert [(p.rank, p.level) for p in pockets] == [(1, 1), (2, 2), (3, 2)]
    first, lukewarm, weak = pockets
    np.testing.assert_array_equal(first.point_indices, np.arange(9))  # A, seeded at 0.8
    # C outscores A (27 × 0.36 > 9 × 0.81) but is ranked after it; then B
    np.testing.assert_array_equal(lukewarm.point_indices, np.arange(18, 45))
    assert lukewarm.score == pytest.approx(27 * 0.36) and lukewarm.score > first.score
    np.testing.assert_array_equal(weak.point_indices, np.arange(9, 18))
    # the level-2 copy of A shares its points, so it is left out; the rest equals one level at 0.5
    low = find_pockets(points, probs, 0.5, atoms, residue, exposed, PocketConfig())
    assert [p.score for p in low] == [
        pytest.approx(27 * 0.36),
        pytest.approx(9 * 0.81),
        pytest.approx(9 * 0.49),
    ]
    assert _same(lukewarm, low[0], rank=1, level=1) and _same(weak, low[2], rank=3, level=1)
    # the first level is exactly the one-level result at the seed threshold
    (alone,) = find_pockets(points, probs, 0.8, atoms, residue, exposed, PocketConfig())
    assert _same(first, alone)


def test_second_level_only_below_the_seed_threshold():
    points, probs, atoms, residue, exposed = _three_blob_scene()
    one_level = find_pockets(points, probs, 0.8, atoms, residue, exposed, PocketConfig())
    for second in (0.8, 0.95, "none", "validation"):  # at or above the seed, off, or unresolved
        config = PocketConfig(second_seed_threshold=second)
        pockets = find_pockets(points, probs, 0.8, atoms, residue, exposed, config)
        assert len(pockets) == len(one_level) == 1 and _same(pockets[0], one_level[0])
    # a seed threshold below the second one (e.g. a user's --threshold) also gives one level
    config = PocketConfig(second_seed_threshold=0.65)
    low = find_pockets(points, probs, 0.5, atoms, residue, exposed, config)
    assert [p.level for p in low] == [1, 1, 1]
