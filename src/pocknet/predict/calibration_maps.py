"""One score → probability map: fitted on validation data, stored as JSON, applied (SCIENCE.md §6-§8).

The per-level use of these maps (points, residues, pockets) is :mod:`pocknet.predict.calibration`.

Fitted calibrators are plain JSON-able dicts stored in the model file:

* ``{"method": "platt", "feature": f, "a": a, "b": b}`` —
  ``p = 1 / (1 + exp(a·f(s) + b))`` (Platt's convention; ``a < 0`` when the
  probability rises with the score, i.e. ``p = sigmoid(−a·f(s) − b)``). ``f`` is
  ``"identity"`` (points: ``s`` is the logit) or ``"log1p"`` (residue and pocket
  scores are heavy-tailed sums ≥ 0; on raw scores one large value would dominate
  the slope). A dict without ``feature`` (older model files) means ``log1p``.
  Targets are Platt's smoothed labels ((N₊+1)/(N₊+2) and 1/(N₋+2)), which keep
  the fit finite when the validation labels are perfectly separable.
* ``{"method": "pchip", "feature": f, "x": [...], "y": [...]}`` — a smooth,
  strictly increasing map for pockets, where the hit rate is flat over most
  scores and then rises steeply (no logistic fits both): isotonic regression on
  ``f(s)``, each isotonic block shrunk by one pseudo-count towards the base rate
  (so no block is exactly 0 or 1) and re-made monotone, then a monotone cubic
  (PCHIP, Fritsch–Carlson) through the blocks' mean feature values in **logit**
  space, with a knot at each end of the data slightly below / above the end
  blocks (strictly increasing there too) and straight-line logit tails beyond.
  ``x`` are the knots in feature units, ``y`` the logits there.
* ``{"method": "isotonic", "x": [...], "y": [...]}`` — the knots of a monotone
  step-linear fit on raw scores (the pocket calibrator of older model files:
  coarse steps; still read, still available, not the default).
* ``{"method": "constant", "p": rate}`` — when the validation labels are all
  positive or all negative there is nothing to fit; the base rate is the best guess.

Every calibrated probability lies in ``[PROBABILITY_EPS, 1 − PROBABILITY_EPS]``
(0.001 … 0.999), so a 3-decimal CSV never prints 0.000 or 1.000 (nothing here is
certain); writers with fewer decimals clip further.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from pocknet.errors import ConfigError

__all__ = [
    "CALIBRATION_METHODS",
    "PROBABILITY_EPS",
    "apply_calibrator",
    "calibrator_function",
    "fit_calibrator",
]

CALIBRATION_METHODS = ("pchip", "platt", "isotonic")
FEATURES = ("identity", "log1p")
PROBABILITY_EPS = 1e-3  # calibrated probabilities lie in [eps, 1 − eps]

_PCHIP_PSEUDO_COUNT = 1.0  # isotonic blocks shrink by this many observations of the base rate
_PCHIP_END_DELTA = 0.05  # logit units: the end knots lie this far below / above the end blocks


def _feature(values: np.ndarray, feature: str) -> np.ndarray:
    if feature == "identity":
        return values
    # log1p: scores are Σ p² ≥ 0, the clip only guards against rounding below 0.
    return np.log1p(np.maximum(values, 0.0))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def _fit_platt(x: np.ndarray, hits: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    n_hits = int(hits.sum())
    # Platt's smoothed targets as sample weights: each sample appears once as a
    # positive with weight t and once as a negative with weight 1 − t.
    target = np.where(hits, (n_hits + 1) / (n_hits + 2), 1.0 / (len(hits) - n_hits + 2))
    # Standardised for the optimiser (logits and log-scores have very different ranges).
    centre, scale = float(x.mean()), float(x.std()) or 1.0
    feature = ((x - centre) / scale)[:, None]
    model = LogisticRegression(C=np.inf)  # unpenalised: the smoothed targets keep it finite
    model.fit(
        np.vstack([feature, feature]),
        np.r_[np.ones(len(x)), np.zeros(len(x))],
        sample_weight=np.r_[target, 1.0 - target],
    )
    # sklearn: p = 1 / (1 + exp(−(w·(x − c)/s + i)))  →  a = −w/s, b = w·c/s − i.
    w, i = float(model.coef_[0, 0]), float(model.intercept_[0])
    return -w / scale, w * centre / scale - i


def _fit_pchip(x: np.ndarray, hits: np.ndarray) -> tuple[list[float], list[float]]:
    """Knots (feature value, logit) of the smoothed isotonic fit (module docstring)."""
    from sklearn.isotonic import IsotonicRegression

    order = np.argsort(x, kind="stable")
    xs, ys = x[order], hits[order].astype(np.float64)
    fitted = IsotonicRegression(increasing=True).fit(xs, ys).predict(xs)
    bounds = np.r_[0, np.flatnonzero(np.diff(fitted) != 0) + 1, len(xs)]
    n = np.diff(bounds).astype(np.float64)
    k = np.add.reduceat(ys, bounds[:-1])
    centre = np.add.reduceat(xs, bounds[:-1]) / n
    rate = float(ys.mean())
    level = (k + _PCHIP_PSEUDO_COUNT * rate) / (n + _PCHIP_PSEUDO_COUNT)  # in (0, 1): 0 < rate < 1
    # Shrinking can reorder neighbouring small blocks: make monotone again, merge equal levels.
    level = IsotonicRegression(increasing=True).fit(centre, level, sample_weight=n).predict(centre)
    new = np.r_[True, np.diff(level) > 1e-12]
    group = np.cumsum(new) - 1
    weight = np.bincount(group, weights=n)
    centre = np.bincount(group, weights=centre * n) / weight
    logit = _logit(np.clip(level[new], 1e-9, 1 - 1e-9))
    knots_x, knots_y = [float(v) for v in centre], [float(v) for v in logit]
    if xs[0] < knots_x[0]:
        knots_x.insert(0, float(xs[0]))
        knots_y.insert(0, knots_y[0] - _PCHIP_END_DELTA)
    if xs[-1] > knots_x[-1]:
        knots_x.append(float(xs[-1]))
        knots_y.append(knots_y[-1] + _PCHIP_END_DELTA)
    return knots_x, knots_y


def fit_calibrator(
    scores: np.ndarray, hits: np.ndarray, method: str = "pchip", feature: str = "log1p"
) -> dict[str, Any]:
    """Fit a score → probability map on validation data.

    Parameters
    ----------
    scores
        [n] scores (finite): pocket scores, residue scores or point logits.
    hits
        [n] bool, whether each is a positive (e.g. :func:`pocknet.predict.calibration.pocket_hits`).
    method
        ``"pchip"`` (smoothed isotonic, strictly increasing; default), ``"platt"``
        (two-parameter logistic on ``feature(score)``) or ``"isotonic"`` (steps).
    feature
        ``"log1p"`` (scores ≥ 0, default) or ``"identity"`` (logits); not used by isotonic.

    Returns
    -------
    dict
        JSON-able parameters for :func:`apply_calibrator` (see module docstring);
        ``{"method": "constant", "p": rate}`` when all are positives or all negatives.

    Raises
    ------
    ValueError
        Empty, mismatched or non-finite input.
    ConfigError
        Unknown ``method`` or ``feature``.
    """
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"calibration method must be one of {list(CALIBRATION_METHODS)}, got {method!r}")
    if feature not in FEATURES:
        raise ConfigError(f"calibration feature must be one of {list(FEATURES)}, got {feature!r}")
    scores = np.asarray(scores, dtype=np.float64)
    hits = np.asarray(hits).astype(bool)
    if scores.ndim != 1 or hits.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and hits {hits.shape} must be 1-D of equal length")
    if len(scores) == 0:
        raise ValueError("cannot fit a calibrator on no data")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or infinite values")
    n_hits = int(hits.sum())
    if n_hits == 0 or n_hits == len(hits):
        return {"method": "constant", "p": n_hits / len(hits)}
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0, increasing=True)
        iso.fit(scores, hits.astype(np.float64))
        return {
            "method": "isotonic",
            "x": [float(v) for v in iso.X_thresholds_],
            "y": [float(v) for v in iso.y_thresholds_],
        }
    x = _feature(scores, feature)
    if method == "pchip":
        knots_x, knots_y = _fit_pchip(x, hits)
        return {"method": "pchip", "feature": feature, "x": knots_x, "y": knots_y}
    a, b = _fit_platt(x, hits)
    return {"method": "platt", "feature": feature, "a": a, "b": b}


def _checked(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, array-converted copy of calibrator parameters (e.g. read back from JSON)."""
    method = params.get("method") if isinstance(params, Mapping) else None
    required = {"isotonic": ("x", "y"), "pchip": ("x", "y"), "platt": ("a", "b"), "constant": ("p",)}
    if method not in required:
        raise ConfigError(f"calibrator method must be one of {sorted(required)}, got {method!r}")
    missing = [key for key in required[method] if key not in params]
    if missing:
        raise ConfigError(f"{method} calibrator is missing {missing}")
    feature = params.get("feature", "log1p")
    if feature not in FEATURES:
        raise ConfigError(f"calibrator feature must be one of {list(FEATURES)}, got {feature!r}")
    if method in ("isotonic", "pchip"):
        x = np.asarray(params["x"], dtype=np.float64)
        y = np.asarray(params["y"], dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or np.any(np.diff(x) < 0):
            raise ConfigError(f"{method} calibrator needs equal-length, non-empty x (ascending) and y")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ConfigError(f"{method} calibrator has non-finite knots")
        if method == "isotonic":
            return {"method": method, "x": x, "y": y}
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) < 0):
            raise ConfigError("pchip calibrator needs strictly ascending x and non-decreasing y")
        checked: dict[str, Any] = {"method": method, "feature": feature, "x": x, "y": y}
        if len(x) >= 2:
            from scipy.interpolate import PchipInterpolator

            checked["spline"] = PchipInterpolator(x, y, extrapolate=False)
            checked["slopes"] = ((y[1] - y[0]) / (x[1] - x[0]), (y[-1] - y[-2]) / (x[-1] - x[-2]))
        return checked
    values = {key: float(params[key]) for key in required[method]}
    if not all(np.isfinite(v) for v in values.values()):
        raise ConfigError(f"{method} calibrator has non-finite parameters")
    return {"method": method, "feature": feature, **values}


def _pchip_logit(params: Mapping[str, Any], x: np.ndarray) -> np.ndarray:
    knots_x, knots_y = params["x"], params["y"]
    if len(knots_x) == 1:
        return np.full(x.shape, knots_y[0])
    low, high = params["slopes"]
    inside = params["spline"](np.clip(x, knots_x[0], knots_x[-1]))
    out = np.where(x < knots_x[0], knots_y[0] + low * (x - knots_x[0]), inside)
    return np.where(x > knots_x[-1], knots_y[-1] + high * (x - knots_x[-1]), out)


def _apply_checked(params: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    method = params["method"]
    if method == "isotonic":
        out = np.interp(scores, params["x"], params["y"])  # clamps to end values, as out_of_bounds="clip"
    elif method == "pchip":
        logit = _pchip_logit(params, _feature(scores, params["feature"]))
        with np.errstate(over="ignore"):  # exp overflow → p = 0, the right limit (clipped below)
            out = 1.0 / (1.0 + np.exp(-logit))
    elif method == "platt":
        with np.errstate(over="ignore"):
            out = 1.0 / (1.0 + np.exp(params["a"] * _feature(scores, params["feature"]) + params["b"]))
    else:
        out = np.full(scores.shape, params["p"])
    return np.clip(out, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)


def apply_calibrator(params: Mapping[str, Any], scores: np.ndarray | float) -> np.ndarray:
    """Probabilities (float64, in [0.001, 0.999], shape of ``scores``) from fitted parameters.

    Parameters
    ----------
    params
        Output of :func:`fit_calibrator`, possibly after a JSON round trip.
    scores
        Scores of the kind the calibrator was fitted on.
    """
    return _apply_checked(_checked(params), scores)


def calibrator_function(params: Mapping[str, Any]) -> Callable[[float | np.ndarray], np.ndarray]:
    """A callable ``scores → probabilities`` (e.g. for :func:`pocknet.predict.pockets.find_pockets`).

    Parameters are validated once, here, so a bad calibrator file fails at load
    time rather than on the first structure.
    """
    checked = _checked(params)

    def calibrate(scores: float | np.ndarray) -> np.ndarray:
        return _apply_checked(checked, scores)

    return calibrate
