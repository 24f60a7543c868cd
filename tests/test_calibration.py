"""Calibration of point, residue and pocket probabilities; ECE; the DCA hit and binding-residue criteria."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from pocknet.predict.calibration import (
    LEVELS,
    binding_residues,
    calibration_note,
    calibrators,
    fit_levels,
    pocket_hits,
)
from pocknet.predict.calibration_maps import (
    PROBABILITY_EPS,
    apply_calibrator,
    calibrator_function,
    fit_calibrator,
)
from pocknet.predict.calibration_metrics import (
    cross_fitted_probabilities,
    expected_calibration_error,
    pocket_calibration_metrics,
    reliability_table,
)
from pocknet.errors import ConfigError
from pocknet.predict.pockets import find_pockets

EPS = PROBABILITY_EPS


def _true_pocket_rate(scores):
    """A flat-then-rising hit rate, like real pockets (no logistic of log1p fits it exactly)."""
    return 0.07 + 0.85 / (1.0 + np.exp(-(scores - 40.0) / 8.0))


def _validation_pockets(n=300, seed=0):
    """Heavy-tailed scores whose hit rate rises with the score."""
    rng = np.random.default_rng(seed)
    scores = rng.gamma(1.5, 3.0, size=n)
    hits = rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(np.log1p(scores) - 1.5) * 3.0))
    return scores, hits


def _printed_extremes(probabilities, decimals):
    text = np.char.mod(f"%.{decimals}f", np.asarray(probabilities, dtype=np.float64))
    return set(text.tolist()) & {f"{0:.{decimals}f}", f"{1:.{decimals}f}"}


# --------------------------------------------------------------------------- fitting and applying


def test_isotonic_is_monotone_and_matches_sklearn_within_the_clip():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "isotonic")
    assert params["method"] == "isotonic" and len(params["x"]) == len(params["y"]) > 1
    grid = np.linspace(-5.0, scores.max() + 10.0, 500)  # includes both out-of-range ends
    probs = apply_calibrator(params, grid)
    assert np.all(np.diff(probs) >= 0)
    assert probs.min() >= EPS and probs.max() <= 1 - EPS
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(scores, hits.astype(float))
    np.testing.assert_allclose(probs, np.clip(reference.predict(grid), EPS, 1 - EPS), atol=1e-12)


def test_platt_increases_with_score():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "platt")
    assert params["method"] == "platt" and params["feature"] == "log1p"
    assert params["a"] < 0  # p = 1/(1+exp(a·log1p(s)+b)) rises with s
    probs = apply_calibrator(params, np.array([0.0, 1.0, 3.0, 10.0, 30.0, 100.0]))
    assert np.all(np.diff(probs) > 0)
    assert 0.0 < probs[0] < 0.5 < probs[-1] < 1.0
    # roughly calibrated: mean predicted ≈ observed hit rate on the fitting data
    assert apply_calibrator(params, scores).mean() == pytest.approx(hits.mean(), abs=0.03)


def test_platt_without_feature_key_is_log1p():
    """Older model files stored Platt parameters without ``feature``: log1p."""
    old = {"method": "platt", "a": -2.0, "b": 3.0}
    expected = 1.0 / (1.0 + np.exp(-2.0 * np.log1p(5.0) + 3.0))
    assert float(apply_calibrator(old, 5.0)) == pytest.approx(expected)


def test_platt_on_logits_undoes_pos_weight():
    """A model trained with pos_weight w over-states odds by w: Platt on the logit recovers the truth."""
    rng = np.random.default_rng(1)
    true_logit = rng.normal(-4.0, 2.0, 200_000)
    labels = rng.uniform(size=true_logit.size) < 1.0 / (1.0 + np.exp(-true_logit))
    model_logit = 1.3 * (true_logit + np.log(40.0))  # pos_weight 40, and over-confident
    params = fit_calibrator(model_logit, labels, "platt", feature="identity")
    # p = 1/(1+exp(a·z+b)) with z = 1.3(t + log 40)  ⇒  a = −1/1.3, b = log 40
    assert params["a"] == pytest.approx(-1.0 / 1.3, rel=0.05)
    assert params["b"] == pytest.approx(np.log(40.0), abs=0.15)
    fresh = rng.normal(-4.0, 2.0, 200_000)
    fresh_labels = rng.uniform(size=fresh.size) < 1.0 / (1.0 + np.exp(-fresh))
    p = apply_calibrator(params, 1.3 * (fresh + np.log(40.0)))
    raw = 1.0 / (1.0 + np.exp(-1.3 * (fresh + np.log(40.0))))
    assert expected_calibration_error(p, fresh_labels) < 0.01
    assert expected_calibration_error(raw, fresh_labels) > 0.1


def test_pchip_is_smooth_strictly_increasing_and_never_certain():
    rng = np.random.default_rng(2)
    scores = rng.gamma(1.2, 20.0, 400)
    hits = rng.uniform(size=scores.size) < _true_pocket_rate(scores)
    params = fit_calibrator(scores, hits, "pchip")
    assert params["method"] == "pchip" and params["feature"] == "log1p" and len(params["x"]) >= 3
    assert np.all(np.diff(params["x"]) > 0) and np.all(np.diff(params["y"]) > 0)
    grid = np.linspace(0.0, 2.0 * scores.max(), 4001)  # beyond the data on both sides
    probs = apply_calibrator(params, grid)
    unclipped = (probs > EPS) & (probs < 1 - EPS)
    assert unclipped.mean() > 0.9
    assert np.all(np.diff(probs) >= 0)
    assert np.all(np.diff(probs)[unclipped[1:] & unclipped[:-1]] > 0)  # strictly increasing
    assert np.abs(np.diff(probs)).max() < 0.01  # continuous: no steps on a fine grid
    assert probs.min() >= EPS and probs.max() <= 1 - EPS
    assert not _printed_extremes(probs, 3)
    fitted = apply_calibrator(params, scores)
    assert len(np.unique(fitted)) == len(np.unique(scores))  # not a handful of steps
    assert fitted.mean() == pytest.approx(hits.mean(), abs=0.03)


def test_pchip_and_platt_recover_known_probabilities():
    """Fitted on one sample, ECE on a fresh sample from the same truth is small."""
    rng = np.random.default_rng(3)

    def sample(n):
        s = rng.gamma(1.2, 20.0, n)
        return s, rng.uniform(size=n) < _true_pocket_rate(s)

    scores, hits = sample(3000)
    fresh, fresh_hits = sample(20_000)
    pchip = apply_calibrator(fit_calibrator(scores, hits, "pchip"), fresh)
    assert expected_calibration_error(pchip, fresh_hits) < 0.05
    assert expected_calibration_error(pchip, fresh_hits, strategy="quantile") < 0.05
    assert np.abs(pchip - _true_pocket_rate(fresh)).mean() < 0.05


def test_platt_stays_finite_on_separable_data():
    params = fit_calibrator([0.5, 1.0, 2.0, 8.0, 9.0, 12.0], [0, 0, 0, 1, 1, 1], "platt")
    assert np.isfinite(params["a"]) and np.isfinite(params["b"])
    probs = apply_calibrator(params, [0.5, 12.0])
    assert probs[0] < 0.5 < probs[1]


def test_pchip_on_separable_and_tiny_data():
    params = fit_calibrator([0.5, 1.0, 2.0, 8.0, 9.0, 12.0], [0, 0, 0, 1, 1, 1], "pchip")
    probs = apply_calibrator(params, np.linspace(0, 20, 200))
    assert np.all(np.diff(probs) >= 0) and probs[0] < 0.5 < probs[-1]
    assert probs.min() >= EPS and probs.max() <= 1 - EPS
    params = fit_calibrator([1.0, 1.0, 1.0], [0, 1, 0], "pchip")  # one score: a single knot, a constant
    np.testing.assert_allclose(apply_calibrator(params, [0.0, 1.0, 50.0]), 1 / 3)


@pytest.mark.parametrize("method", ["isotonic", "platt", "pchip"])
def test_constant_fallback_is_never_certain(method):
    assert fit_calibrator([1.0, 2.0, 3.0], [True, True, True], method) == {"method": "constant", "p": 1.0}
    params = fit_calibrator([1.0, 2.0], [False, False], method)
    assert params == {"method": "constant", "p": 0.0}
    np.testing.assert_array_equal(apply_calibrator(params, [0.0, 5.0, 50.0]), [EPS] * 3)


def test_bad_input():
    with pytest.raises(ValueError):
        fit_calibrator([], [])
    with pytest.raises(ValueError):
        fit_calibrator([1.0, 2.0], [True])
    with pytest.raises(ValueError):
        fit_calibrator([1.0, np.nan], [True, False])
    with pytest.raises(ConfigError):
        fit_calibrator([1.0, 2.0], [True, False], "beta")
    with pytest.raises(ConfigError):
        fit_calibrator([1.0, 2.0], [True, False], "platt", feature="sqrt")
    with pytest.raises(ConfigError):
        apply_calibrator({"method": "spline"}, [1.0])
    with pytest.raises(ConfigError):
        calibrator_function({"method": "platt", "a": 1.0})
    with pytest.raises(ConfigError):
        calibrator_function({"method": "pchip", "x": [1.0, 0.5], "y": [0.0, 1.0]})
    with pytest.raises(ConfigError):
        calibrator_function({"method": "platt", "a": float("nan"), "b": 0.0})


@pytest.mark.parametrize("method", ["isotonic", "platt", "pchip"])
def test_params_survive_json_round_trip(method):
    scores, hits = _validation_pockets(seed=3)
    params = fit_calibrator(scores, hits, method)
    restored = json.loads(json.dumps(params))
    assert restored == params
    grid = np.linspace(0.0, 40.0, 50)
    np.testing.assert_array_equal(apply_calibrator(restored, grid), apply_calibrator(params, grid))
    constant = json.loads(json.dumps(fit_calibrator([1.0], [True], method)))
    np.testing.assert_array_equal(apply_calibrator(constant, grid), np.full(50, 1 - EPS))


def test_calibrator_function_scalar_and_array():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "pchip")
    calibrate = calibrator_function(params)
    assert float(calibrate(5.0)) == pytest.approx(float(apply_calibrator(params, 5.0)))
    assert calibrate(np.array([1.0, 2.0])).shape == (2,)
    # plugs into find_pockets
    points = np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0]], dtype=float)
    (pocket,) = find_pockets(
        points,
        np.full(3, 0.9),
        0.5,
        np.zeros((0, 3)),
        np.zeros(0, int),
        np.zeros(0, bool),
        calibrator=calibrate,
    )
    assert pocket.probability == pytest.approx(float(apply_calibrator(params, 3 * 0.81)))


# --------------------------------------------------------------------------- model-file layouts


def test_calibrators_read_old_and_new_layouts():
    scores, hits = _validation_pockets()
    old = fit_calibrator(scores, hits, "isotonic")  # what older model files hold
    levels = calibrators(old)
    assert levels["point"] is None and levels["residue"] is None and levels["pocket"] is not None
    assert "old model file" in calibration_note(old)
    assert calibrators(None) == dict.fromkeys(LEVELS)
    assert "not calibrated" in calibration_note(None)
    new = {"point": {"method": "platt", "feature": "identity", "a": -1.0, "b": 3.0}, "residue": None,
           "pocket": fit_calibrator(scores, hits, "pchip"), "ece": {}}  # fmt: skip
    levels = calibrators(new)
    assert levels["residue"] is None and levels["point"] is not None
    assert float(levels["point"](3.0)) == pytest.approx(0.5)
    assert calibration_note(new) == "residue probabilities not calibrated (no validation data for them)"
    with pytest.raises(ConfigError, match="point calibrator"):
        calibrators({"point": {"method": "platt"}, "pocket": None})


# --------------------------------------------------------------------------- ECE and reliability


def test_ece_perfectly_calibrated_is_zero():
    p = np.r_[np.full(4, 0.25), np.full(4, 0.75)]
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0], dtype=bool)
    assert expected_calibration_error(p, y) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(p, y, bins=2, strategy="quantile") == pytest.approx(0.0, abs=1e-12)


def test_ece_known_miscalibration():
    assert expected_calibration_error(np.full(10, 0.8), np.arange(10) < 6) == pytest.approx(0.2)
    # bin [0.1, 0.2): predicts 0.15, observes 0.3; bin [0.9, 1]: predicts 0.95, observes 1.0
    p = np.r_[np.full(10, 0.15), np.full(10, 0.95)]
    y = np.r_[np.arange(10) < 3, np.ones(10, bool)]
    assert expected_calibration_error(p, y) == pytest.approx((10 * 0.15 + 10 * 0.05) / 20)
    assert expected_calibration_error(p, y, bins=2, strategy="quantile") == pytest.approx(0.1)
    # counts weight the bins: 30 samples off by 0.1, 10 samples exact
    p = np.r_[np.full(30, 0.55), np.full(10, 0.05)]
    y = np.r_[np.arange(30) < 19, np.zeros(10, bool)]  # 19/30 = 0.6333 observed vs 0.55
    assert expected_calibration_error(p, y) == pytest.approx(30 / 40 * abs(0.55 - 19 / 30) + 10 / 40 * 0.05)


def test_reliability_table_bins_and_edges():
    p = np.array([0.0, 0.05, 0.12, 0.5, 0.999, 1.0])
    y = np.array([0, 0, 1, 1, 1, 1], dtype=bool)
    table = reliability_table(p, y, bins=10)
    assert list(table.columns) == ["bin", "lower", "upper", "mean_predicted", "observed", "count"]
    assert table["bin"].tolist() == [0, 1, 5, 9]  # empty bins left out, 1.0 in the last bin
    assert table["count"].tolist() == [2, 1, 1, 2]
    assert table.loc[0, "mean_predicted"] == pytest.approx(0.025) and table.loc[0, "observed"] == 0.0
    assert not table.isna().any().any()
    quantile = reliability_table(p, y, bins=3, strategy="quantile")
    assert quantile["count"].tolist() == [2, 2, 2]
    assert quantile["lower"].tolist() == [0.0, 0.12, 0.999]
    assert np.isnan(expected_calibration_error([], []))
    with pytest.raises(ValueError):
        reliability_table([0.5, 1.5], [0, 1])
    with pytest.raises(ValueError):
        reliability_table([0.5], [0], strategy="kmeans")


def test_cross_fitted_probabilities_never_see_their_fold():
    scores = np.arange(20, dtype=float)
    labels = scores >= 10
    groups = np.repeat(np.arange(5), 4)
    seen = []

    def fit(s, y):
        seen.append(set(s.tolist()))
        return fit_calibrator(s, y, "platt")

    out = cross_fitted_probabilities(scores, labels, groups, fit, folds=5)
    assert out.shape == (20,) and len(seen) == 5
    for fold in seen:
        assert len(fold) == 16  # fitted on four of five proteins
    assert cross_fitted_probabilities(scores, labels, np.zeros(20), fit) is None


def test_fit_levels_layout_and_ece():
    rng = np.random.default_rng(5)
    n = 20_000
    true_logit = rng.normal(-3.5, 1.5, n)
    point_y = rng.uniform(size=n) < 1 / (1 + np.exp(-true_logit))
    residue_score = rng.gamma(0.5, 4.0, 3000)
    residue_y = rng.uniform(size=3000) < 1 - np.exp(-residue_score / 6.0)
    pocket_score = rng.gamma(1.2, 20.0, 3000)  # fewer, and sampling noise alone reaches ECE 0.05
    pocket_y = rng.uniform(size=3000) < _true_pocket_rate(pocket_score)
    data = {
        "point": (2.0 * true_logit + 3.0, point_y, rng.integers(0, 40, n)),
        "residue": (residue_score, residue_y, rng.integers(0, 40, 3000)),
        "pocket": (pocket_score, pocket_y, rng.integers(0, 40, 3000)),
    }
    raw = {"point": 1 / (1 + np.exp(-(2.0 * true_logit + 3.0)))}
    calibration, table = fit_levels(data, uncalibrated=raw)
    assert calibration == json.loads(json.dumps(calibration))  # plain JSON values
    assert [calibration[level]["method"] for level in LEVELS] == ["platt", "platt", "pchip"]
    assert calibration["point"]["feature"] == "identity"
    for level in LEVELS:
        stats = calibration["ece"][level]
        assert stats["n"] == len(data[level][0])
        for key in ("ece_val_in_sample", "ece_val_cross_fitted", "ece_val_in_sample_equal_mass",
                    "ece_val_cross_fitted_equal_mass"):  # fmt: skip
            assert 0.0 <= stats[key] < 0.05, (level, key)
        rows = calibration["reliability"][level]
        assert sum(r[4] for r in rows) == stats["n"]
    assert calibration["ece"]["point"]["ece_val_uncalibrated"] > 0.05
    assert set(table["level"]) == set(LEVELS)
    assert list(table.columns) == ["level", "bin", "lower", "upper", "mean_predicted", "observed", "count"]
    # a level without data stays uncalibrated
    empty, _ = fit_levels({"point": data["point"]})
    assert empty["pocket"] is None and empty["residue"] is None and empty["ece"]["pocket"]["n"] == 0
    assert "pocket" in calibration_note(empty)


def test_pocket_calibration_metrics():
    p = np.array([0.2, 0.2, 0.8, 0.8, np.nan])
    hits = np.array([0, 1, 1, 1, 1], dtype=bool)
    m = pocket_calibration_metrics(p, hits)
    assert m["pocket_n"] == 4 and m["pocket_hit_rate"] == 0.75
    assert m["pocket_ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.2)
    assert pocket_calibration_metrics(np.full(3, np.nan), np.ones(3, bool)) == {}


# --------------------------------------------------------------------------- labels


def test_pocket_hits_dca():
    centres = np.array([[0, 0, 0], [10, 0, 0], [20, 0, 0], [40, 0, 0]], dtype=float)
    ligands = [
        np.array([[0.0, 0.0, 3.9]]),  # 3.9 Å from pocket 0
        np.array([[14.0, 0.0, 0.0], [30.0, 0.0, 0.0]]),  # exactly 4 Å from pocket 1 (counts), 6 Å from 2
    ]
    np.testing.assert_array_equal(pocket_hits(centres, ligands), [True, True, False, False])
    np.testing.assert_array_equal(pocket_hits(centres, ligands, cutoff=10.0), [True, True, True, True])
    np.testing.assert_array_equal(pocket_hits(centres, []), [False] * 4)
    assert pocket_hits(np.zeros((0, 3)), ligands).shape == (0,)


def test_binding_residues_any_heavy_atom_within_4_angstrom():
    atoms = np.array([[0, 0, 0], [10, 0, 0], [10, 3, 0], [20, 0, 0], [30, 0, 0]], dtype=float)
    residue = np.array([0, 1, 1, 2, 3])
    ligands = [np.array([[0.0, 0.0, 4.0]]), np.array([[10.0, 7.0, 0.0], [24.1, 0.0, 0.0]])]
    # residue 0: 4.0 Å (counts); residue 1: its second atom 4 Å away; residue 2: 4.1 Å; residue 3: far
    np.testing.assert_array_equal(binding_residues(atoms, residue, 5, ligands), [True, True, False, False, False])
    np.testing.assert_array_equal(binding_residues(atoms, residue, 5, []), [False] * 5)
