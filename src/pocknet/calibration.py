"""Pocket score → probability that the pocket is real (SCIENCE.md §6, §8).

A pocket score (Σ p² over its points) ranks pockets but is not a probability.
Calibration maps it to "the chance this pocket's centre is within 4 Å of a
relevant ligand atom" (the DCA hit criterion, :func:`pocket_hits`).

The map is fitted on **validation** pockets only. Fitting it on test pockets
(BU48, COACH420, HOLO4K) would leak the evaluation labels into the reported
probabilities, just like choosing thresholds or checkpoints on test data.

Fitted calibrators are plain JSON-able dicts so they can be written next to
the model and versioned with it:

* ``{"method": "isotonic", "x": [...], "y": [...]}`` — the knots of a
  monotone, non-decreasing step-linear fit; applied by linear interpolation and
  clipped to the end values outside the fitted range.
* ``{"method": "platt", "a": a, "b": b}`` — ``p = 1 / (1 + exp(a·log1p(s) + b))``.
  Scores are heavy-tailed sums (a few pockets score 50+, most under 5), so the
  logistic is fitted on ``log1p(score)``; on raw scores one large pocket would
  dominate the slope. ``log1p`` keeps 0 at 0 and needs no tuning. Targets are
  Platt's smoothed labels ((N₊+1)/(N₊+2) and 1/(N₋+2)), which keep the fit
  finite when validation hits are perfectly separable.
* ``{"method": "constant", "p": rate}`` — when the validation pockets are all
  hits or all misses there is nothing to fit; the base rate is the best guess.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError

__all__ = [
    "CALIBRATION_METHODS",
    "apply_calibrator",
    "calibrator_function",
    "fit_calibrator",
    "pocket_hits",
]

CALIBRATION_METHODS = ("isotonic", "platt")


def _platt_feature(scores: np.ndarray) -> np.ndarray:
    """``log1p(score)``; scores are Σ p² ≥ 0, the clip only guards against rounding below 0."""
    return np.log1p(np.maximum(scores, 0.0))


def fit_calibrator(scores: np.ndarray, hits: np.ndarray, method: str = "isotonic") -> dict[str, Any]:
    """Fit a score → probability map on validation pockets.

    Parameters
    ----------
    scores
        [n] pocket scores (finite).
    hits
        [n] bool, whether each pocket is a hit (:func:`pocket_hits`).
    method
        ``"isotonic"`` (monotone, non-parametric; default) or ``"platt"``
        (two-parameter logistic on ``log1p(score)``; smoother with few pockets).

    Returns
    -------
    dict
        JSON-able parameters for :func:`apply_calibrator` (see module docstring);
        ``{"method": "constant", "p": rate}`` when all pockets are hits or all misses.

    Raises
    ------
    ValueError
        Empty, mismatched or non-finite input.
    ConfigError
        Unknown ``method``.
    """
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"calibration method must be one of {list(CALIBRATION_METHODS)}, got {method!r}")
    scores = np.asarray(scores, dtype=np.float64)
    hits = np.asarray(hits).astype(bool)
    if scores.ndim != 1 or hits.shape != scores.shape:
        raise ValueError(f"scores {scores.shape} and hits {hits.shape} must be 1-D of equal length")
    if len(scores) == 0:
        raise ValueError("cannot fit a calibrator on no pockets")
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
    from sklearn.linear_model import LogisticRegression

    # Platt's smoothed targets as sample weights: each pocket appears once as a
    # positive with weight t and once as a negative with weight 1 − t.
    target = np.where(hits, (n_hits + 1) / (n_hits + 2), 1.0 / (len(hits) - n_hits + 2))
    feature = _platt_feature(scores)[:, None]
    model = LogisticRegression(C=np.inf)  # unpenalised: the smoothed targets keep it finite
    model.fit(
        np.vstack([feature, feature]),
        np.r_[np.ones(len(scores)), np.zeros(len(scores))],
        sample_weight=np.r_[target, 1.0 - target],
    )
    # sklearn: p = 1 / (1 + exp(−(w·x + c)))  →  a = −w, b = −c.
    return {"method": "platt", "a": float(-model.coef_[0, 0]), "b": float(-model.intercept_[0])}


def _checked(params: Mapping[str, Any]) -> dict[str, Any]:
    """Validated, array-converted copy of calibrator parameters (e.g. read back from JSON)."""
    method = params.get("method") if isinstance(params, Mapping) else None
    required = {"isotonic": ("x", "y"), "platt": ("a", "b"), "constant": ("p",)}
    if method not in required:
        raise ConfigError(f"calibrator method must be one of {sorted(required)}, got {method!r}")
    missing = [key for key in required[method] if key not in params]
    if missing:
        raise ConfigError(f"{method} calibrator is missing {missing}")
    if method == "isotonic":
        x = np.asarray(params["x"], dtype=np.float64)
        y = np.asarray(params["y"], dtype=np.float64)
        if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or np.any(np.diff(x) < 0):
            raise ConfigError("isotonic calibrator needs equal-length, non-empty x (ascending) and y")
        return {"method": method, "x": x, "y": y}
    return {"method": method, **{key: float(params[key]) for key in required[method]}}


def _apply_checked(params: Mapping[str, Any], scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if params["method"] == "isotonic":
        out = np.interp(scores, params["x"], params["y"])  # clamps to end values, as out_of_bounds="clip"
    elif params["method"] == "platt":
        with np.errstate(over="ignore"):  # exp overflow → p = 0, which is the right limit
            out = 1.0 / (1.0 + np.exp(params["a"] * _platt_feature(scores) + params["b"]))
    else:
        out = np.full(scores.shape, params["p"])
    return np.clip(out, 0.0, 1.0)


def apply_calibrator(params: Mapping[str, Any], scores: np.ndarray | float) -> np.ndarray:
    """Probabilities (float64, in [0, 1], shape of ``scores``) from fitted parameters.

    Parameters
    ----------
    params
        Output of :func:`fit_calibrator`, possibly after a JSON round trip.
    scores
        Pocket scores.
    """
    return _apply_checked(_checked(params), scores)


def calibrator_function(params: Mapping[str, Any]) -> Callable[[float | np.ndarray], np.ndarray]:
    """A callable ``scores → probabilities`` for :func:`pocknet.pockets.find_pockets`.

    Parameters are validated once, here, so a bad calibrator file fails at load
    time rather than on the first structure.
    """
    checked = _checked(params)

    def calibrate(scores: float | np.ndarray) -> np.ndarray:
        return _apply_checked(checked, scores)

    return calibrate


def pocket_hits(
    pocket_centres: np.ndarray, ligand_atoms: Sequence[np.ndarray], cutoff: float = 4.0
) -> np.ndarray:
    """DCA hits: pocket centre within ``cutoff`` Å of any atom of any relevant ligand.

    Parameters
    ----------
    pocket_centres
        [n, 3] pocket centres.
    ligand_atoms
        One [k, 3] coordinate array per relevant ligand of the structure.
    cutoff
        DCA distance (4 Å standard, SCIENCE.md §8).

    Returns
    -------
    np.ndarray
        [n] bool; all False when the structure has no ligand atoms.
    """
    centres = np.asarray(pocket_centres, dtype=np.float64).reshape(-1, 3)
    arrays = [np.asarray(a, dtype=np.float64).reshape(-1, 3) for a in ligand_atoms]
    atoms = np.concatenate(arrays) if arrays else np.zeros((0, 3))
    if len(centres) == 0 or len(atoms) == 0:
        return np.zeros(len(centres), dtype=bool)
    distance, _ = cKDTree(atoms).query(centres, distance_upper_bound=cutoff + 1e-9)
    return distance <= cutoff
