"""Pocket rescoring: per-pocket features, the exported trees, and re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from pocknet.errors import ConfigError, PockNetError
from pocknet.predict.pocket_rescoring import (
    POCKET_STRUCTURE_NAMES,
    POCKET_SUMMARY_NAMES,
    PocketRescorer,
    pocket_feature_names,
    pocket_features,
    rescore,
)
from pocknet.predict.prediction import Pocket
from pocknet.train.pocket_rescorer import RescorerSettings, fit_pocket_rescorer

DESCRIPTORS = ("protrusion.protrusion", "bfactor.bfactor", "chem.atoms")


def _pocket(
    rank: int, points: list[int], probabilities: np.ndarray, level: int = 1, residues: int = 2
) -> Pocket:
    index = np.asarray(points, dtype=np.int64)
    return Pocket(
        rank=rank,
        score=float(np.sum(probabilities[index] ** 2)),
        probability=float("nan"),
        centre=np.zeros(3),
        point_indices=index,
        residue_indices=np.arange(residues, dtype=np.int64),
        atom_indices=np.arange(residues, dtype=np.int64),
        level=level,
    )


def _scene():
    probabilities = np.array([0.9, 0.8, 0.5, 0.6, 0.6, 0.1, 0.0])
    descriptors = np.array([[1.0, 50.0, 10.0], [3.0, 60.0, 20.0], [5.0, 70.0, 30.0],
                            [7.0, 80.0, 40.0], [9.0, 90.0, 50.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # fmt: skip
    pockets = (_pocket(1, [0, 1, 2], probabilities), _pocket(2, [3, 4], probabilities, level=2, residues=5))
    return pockets, probabilities, descriptors


CHAINS = np.array(["A", "A", "B", "B", "C"])  # pocket 1 holds residues 0-1 (one chain), pocket 2 0-4 (three)


def test_feature_names_skip_bfactor():
    names = pocket_feature_names(DESCRIPTORS)
    assert (
        names
        == POCKET_SUMMARY_NAMES + ("mean:protrusion.protrusion", "mean:chem.atoms") + POCKET_STRUCTURE_NAMES
    )


def test_pocket_features_by_hand():
    pockets, probabilities, descriptors = _scene()
    got = pocket_features(pockets, probabilities, descriptors, DESCRIPTORS, CHAINS)
    names = pocket_feature_names(DESCRIPTORS)
    assert got.shape == (2, len(names))
    column = dict(zip(names, got.T, strict=True))
    score_a, score_b = 0.81 + 0.64 + 0.25, 0.36 + 0.36
    total = float(np.sum(probabilities**2))
    np.testing.assert_allclose(column["log_score"], np.log1p([score_a, score_b]))
    np.testing.assert_allclose(column["log_points"], np.log([3, 2]))
    np.testing.assert_allclose(column["mean_p"], [(0.9 + 0.8 + 0.5) / 3, 0.6])
    np.testing.assert_allclose(column["max_p"], [0.9, 0.6])
    np.testing.assert_allclose(column["mean_p2"], [score_a / 3, score_b / 2])
    np.testing.assert_allclose(column["relative_score"], [1.0, score_b / score_a])
    np.testing.assert_allclose(column["score_share"], [score_a / total, score_b / total])
    np.testing.assert_array_equal(column["level2"], [0.0, 1.0])
    np.testing.assert_allclose(column["log_residues"], np.log1p([2, 5]))
    np.testing.assert_allclose(column["log_structure_points"], np.log(7))
    np.testing.assert_allclose(column["mean:protrusion.protrusion"], [3.0, 8.0])
    np.testing.assert_allclose(column["mean:chem.atoms"], [20.0, 45.0])
    np.testing.assert_array_equal(column["chains"], [1.0, 3.0])


def test_no_pockets_no_rows():
    _, probabilities, descriptors = _scene()
    assert pocket_features((), probabilities, descriptors, DESCRIPTORS, CHAINS).shape == (0, 13)


def _fitted():
    settings = RescorerSettings(max_iter=30, min_samples_leaf=10)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = x[:, 1] + 0.5 * x[:, 0] ** 2 + rng.normal(scale=0.5, size=400) > 0.5
    return x, y, fit_pocket_rescorer(x, y, ("a", "b", "c"), settings)


def test_exported_trees_equal_scikit_learn_to_the_bit():
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y, rescorer = _fitted()
    model = HistGradientBoostingClassifier(max_iter=30, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=10,
                                           l2_regularization=1.0, early_stopping=False, random_state=0).fit(x, y)  # fmt: skip
    probe = np.random.default_rng(1).normal(size=(200, 3)) * 2
    probe[:5, 1] = np.nan  # missing values follow each node's learned side
    np.testing.assert_array_equal(rescorer.logits(probe), model.decision_function(probe))
    assert rescorer.n_trees == 30
    again = PocketRescorer.from_dict(rescorer.to_dict())
    np.testing.assert_array_equal(again.logits(probe), rescorer.logits(probe))
    # one OpenMP thread: the same data give the same trees
    np.testing.assert_array_equal(_fitted()[2].value, rescorer.value)


def test_fit_and_load_reject_bad_input():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="both hit and missed"):
        fit_pocket_rescorer(x, np.ones(4, dtype=bool), ("a", "b"))
    with pytest.raises(ValueError, match="shape"):
        fit_pocket_rescorer(x, np.array([True, False, True, False]), ("a",))
    good = _fitted()[2].to_dict()
    with pytest.raises(ValueError, match="differ in length"):
        PocketRescorer.from_dict({**good, "value": good["value"][:-1]})
    with pytest.raises(ValueError, match="outside its 2 features"):
        PocketRescorer.from_dict({**good, "feature_names": ["a", "b"]})
    with pytest.raises(ValueError, match="non-finite"):
        PocketRescorer.from_dict({**good, "baseline": float("nan")})
    with pytest.raises(ValueError, match="shape"):
        PocketRescorer.from_dict(good).logits(np.zeros((2, 4)))
    with pytest.raises(ConfigError, match="learning_rate"):
        RescorerSettings.from_params({"learning_rate": 0})
    with pytest.raises(ConfigError, match="unknown key"):
        RescorerSettings.from_params({"depth": 3})


def _stump(feature_names, column: int, cut: float, low: float, high: float) -> PocketRescorer:
    """One split: column <= cut → ``low``, else ``high``."""
    return PocketRescorer(
        feature_names=tuple(feature_names), baseline=0.0, roots=np.array([0]), feature=np.array([column, 0, 0]),
        threshold=np.array([cut, 0.0, 0.0]), missing_left=np.array([True, False, False]), left=np.array([1, 0, 0]),
        right=np.array([2, 0, 0]), is_leaf=np.array([False, True, True]), value=np.array([0.0, low, high]),
    )  # fmt: skip


def test_rescore_ranks_by_logit_and_calibrates_it():
    pockets, probabilities, descriptors = _scene()
    names = pocket_feature_names(DESCRIPTORS)
    third = _pocket(3, [5], probabilities, level=2)
    # the larger the mean protrusion, the surer: pocket 2 (mean 8) before pocket 1 (mean 3) and 3 (mean 0)
    rescorer = _stump(names, names.index("mean:protrusion.protrusion"), 5.0, -1.0, 2.0)
    got = rescore((*pockets, third), rescorer, probabilities, descriptors, DESCRIPTORS, CHAINS)
    assert [p.rank for p in got] == [1, 2, 3]
    assert [list(p.point_indices) for p in got] == [[3, 4], [0, 1, 2], [5]]  # ties keep the former order
    assert [p.level for p in got] == [2, 1, 2]  # levels travel with their pockets
    assert [p.rescore for p in got] == [2.0, -1.0, -1.0]
    assert all(np.isnan(p.probability) for p in got)
    calibrated = rescore(
        pockets, rescorer, probabilities, descriptors, DESCRIPTORS, CHAINS, lambda z: 1 / (1 + np.exp(-z))
    )
    assert calibrated[0].probability == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert rescore((), rescorer, probabilities, descriptors, DESCRIPTORS, CHAINS) == ()
    # without chem.atoms there is no mean:chem.atoms column to read
    atoms = _stump(names, names.index("mean:chem.atoms"), 5.0, -1.0, 2.0)
    with pytest.raises(PockNetError, match="does not compute: mean:chem.atoms"):
        rescore(pockets, atoms, probabilities, descriptors[:, :2], DESCRIPTORS[:2], CHAINS)


def test_a_rescorer_reads_its_own_columns_by_name():
    """A rescorer fitted on fewer (or reordered) features than this version computes still works."""
    pockets, probabilities, descriptors = _scene()
    names = pocket_feature_names(DESCRIPTORS)
    older = tuple(n for n in names if n not in POCKET_STRUCTURE_NAMES)[::-1]  # before "chains", any order
    by_chains = _stump(names, names.index("chains"), 2.0, 1.0, -1.0)  # one chain first
    by_protrusion = _stump(older, older.index("mean:protrusion.protrusion"), 5.0, -1.0, 2.0)
    assert [p.score for p in rescore(pockets, by_chains, probabilities, descriptors, DESCRIPTORS, CHAINS)] == [
        pockets[0].score, pockets[1].score]  # fmt: skip
    assert [p.score for p in rescore(pockets, by_protrusion, probabilities, descriptors, DESCRIPTORS, CHAINS)] == [
        pockets[1].score, pockets[0].score]  # fmt: skip
    with pytest.raises(PockNetError, match="does not compute: chains_v2"):
        rescore(pockets, _stump((*names, "chains_v2"), 0, 0.0, 0.0, 0.0), probabilities, descriptors, DESCRIPTORS,
                CHAINS)  # fmt: skip
