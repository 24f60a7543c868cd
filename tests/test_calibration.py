"""Pocket-score calibration and the DCA hit criterion."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

from pocknet.calibration import apply_calibrator, calibrator_function, fit_calibrator, pocket_hits
from pocknet.errors import ConfigError
from pocknet.pockets import find_pockets


def _validation_pockets(n=300, seed=0):
    """Heavy-tailed scores whose hit rate rises with the score."""
    rng = np.random.default_rng(seed)
    scores = rng.gamma(1.5, 3.0, size=n)
    hits = rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-(np.log1p(scores) - 1.5) * 3.0))
    return scores, hits


def test_isotonic_is_monotone_and_matches_sklearn():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "isotonic")
    assert params["method"] == "isotonic" and len(params["x"]) == len(params["y"]) > 1
    grid = np.linspace(-5.0, scores.max() + 10.0, 500)  # includes both out-of-range ends
    probs = apply_calibrator(params, grid)
    assert np.all(np.diff(probs) >= 0)
    assert probs.min() >= 0.0 and probs.max() <= 1.0
    reference = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(scores, hits.astype(float))
    np.testing.assert_allclose(probs, reference.predict(grid), atol=1e-12)
    np.testing.assert_allclose(apply_calibrator(params, scores), reference.predict(scores), atol=1e-12)


def test_platt_increases_with_score():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "platt")
    assert params["method"] == "platt"
    assert params["a"] < 0  # p = 1/(1+exp(a·log1p(s)+b)) rises with s
    probs = apply_calibrator(params, np.array([0.0, 1.0, 3.0, 10.0, 30.0, 100.0]))
    assert np.all(np.diff(probs) > 0)
    assert 0.0 < probs[0] < 0.5 < probs[-1] < 1.0
    # roughly calibrated: mean predicted ≈ observed hit rate on the fitting data
    assert apply_calibrator(params, scores).mean() == pytest.approx(hits.mean(), abs=0.03)


def test_platt_stays_finite_on_separable_data():
    params = fit_calibrator([0.5, 1.0, 2.0, 8.0, 9.0, 12.0], [0, 0, 0, 1, 1, 1], "platt")
    assert np.isfinite(params["a"]) and np.isfinite(params["b"])
    probs = apply_calibrator(params, [0.5, 12.0])
    assert probs[0] < 0.5 < probs[1]


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_constant_fallback(method):
    assert fit_calibrator([1.0, 2.0, 3.0], [True, True, True], method) == {"method": "constant", "p": 1.0}
    params = fit_calibrator([1.0, 2.0], [False, False], method)
    assert params == {"method": "constant", "p": 0.0}
    np.testing.assert_array_equal(apply_calibrator(params, [0.0, 5.0, 50.0]), [0.0, 0.0, 0.0])


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
        apply_calibrator({"method": "spline"}, [1.0])
    with pytest.raises(ConfigError):
        calibrator_function({"method": "platt", "a": 1.0})


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_params_survive_json_round_trip(method):
    scores, hits = _validation_pockets(seed=3)
    params = fit_calibrator(scores, hits, method)
    restored = json.loads(json.dumps(params))
    assert restored == params
    grid = np.linspace(0.0, 40.0, 50)
    np.testing.assert_array_equal(apply_calibrator(restored, grid), apply_calibrator(params, grid))
    constant = json.loads(json.dumps(fit_calibrator([1.0], [True], method)))
    np.testing.assert_array_equal(apply_calibrator(constant, grid), np.ones(50))


def test_calibrator_function_scalar_and_array():
    scores, hits = _validation_pockets()
    params = fit_calibrator(scores, hits, "platt")
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
