"""Scores → probabilities people can read: points, residues and pockets (SCIENCE.md §6-§8).

The network was trained with ``pos_weight`` (~40 negatives per positive), so its
sigmoid output over-states the chance that a point is near a ligand; a residue
score and a pocket score (Σ p²) are not probabilities at all. Calibration maps
each to an observed frequency, for three questions:

``point``
    Is this SAS point within 2.6 Å of a relevant ligand atom (the training label,
    SCIENCE.md §4; neutral points are left out)? Input: the model **logit**.
``residue``
    Is this residue a binding residue, i.e. is any of its heavy atoms within
    4 Å of a relevant ligand atom (:func:`binding_residues`; SCIENCE.md has no
    residue-level label, this is the usual contact definition)? Input: the
    residue score (Σ p² of the points within 6.1 Å, :func:`pocknet.predict.pockets.residue_scores`).
``pocket``
    Is the pocket centre within 4 Å of a relevant ligand atom (DCA, :func:`pocket_hits`)?
    Input: the pocket score.

Every map is fitted on **validation** proteins only. Fitting on test pockets
(BU48, COACH420, HOLO4K) would leak the evaluation labels into the reported
probabilities, just like choosing thresholds or checkpoints on test data.
Calibration never changes which points pass the threshold, the pockets, their
scores or ranks: clustering keeps using the raw model probability.

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

Quality is measured by the expected calibration error (:func:`expected_calibration_error`):
Σ over bins of (bin count / N)·|mean predicted − observed frequency|, 10
equal-width bins by default (``strategy="uniform"``) or equal-mass bins
(``"quantile"``). :func:`fit_levels` reports it on the validation data the maps
were fitted on ("in sample") and cross-fitted: 5 folds by protein, each fold's
probabilities from a map fitted on the other folds, the honest number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError

__all__ = [
    "CALIBRATION_METHODS",
    "LEVELS",
    "PROBABILITY_EPS",
    "apply_calibrator",
    "binding_residues",
    "calibration_note",
    "calibrator_function",
    "calibrators",
    "cross_fitted_probabilities",
    "expected_calibration_error",
    "fit_calibrator",
    "fit_levels",
    "pocket_calibration_metrics",
    "pocket_hits",
    "reliability_table",
]

CALIBRATION_METHODS = ("pchip", "platt", "isotonic")
FEATURES = ("identity", "log1p")
LEVELS = ("point", "residue", "pocket")
PROBABILITY_EPS = 1e-3  # calibrated probabilities lie in [eps, 1 − eps]

#: (method, feature) per level; the pocket method comes from params (swa.calibration).
LEVEL_FITS: dict[str, tuple[str, str]] = {
    "point": ("platt", "identity"),  # input: the model logit
    "residue": ("platt", "log1p"),  # input: Σ p² of the points within 6.1 Å
    "pocket": ("pchip", "log1p"),  # input: the pocket score
}
LEVEL_TARGETS = {
    "point": "SAS point within 2.6 Å of a relevant ligand atom (neutral points excluded)",
    "residue": "residue with a heavy atom within 4 Å of a relevant ligand atom",
    "pocket": "pocket centre within 4 Å of a relevant ligand atom (DCA)",
}

_PCHIP_PSEUDO_COUNT = 1.0  # isotonic blocks shrink by this many observations of the base rate
_PCHIP_END_DELTA = 0.05  # logit units: the end knots lie this far below / above the end blocks


def _feature(values: np.ndarray, feature: str) -> np.ndarray:
    if feature == "identity":
        return values
    # log1p: scores are Σ p² ≥ 0, the clip only guards against rounding below 0.
    return np.log1p(np.maximum(values, 0.0))


def _platt_feature(scores: np.ndarray) -> np.ndarray:
    """``log1p(score)`` (kept for callers of the pocket-only API)."""
    return _feature(np.asarray(scores, dtype=np.float64), "log1p")


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
        [n] bool, whether each is a positive (e.g. :func:`pocket_hits`).
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


def _is_old_layout(calibration: Mapping[str, Any]) -> bool:
    """Model files before per-level calibration held the pocket calibrator itself."""
    return "method" in calibration


def calibrators(calibration: Mapping[str, Any] | None) -> dict[str, Callable[[Any], np.ndarray] | None]:
    """Level → calibrating callable (``None``: not calibrated) from a model file's ``calibration``.

    Reads both layouts: ``{"point": …, "residue": …, "pocket": …, …}`` and the
    older pocket-only calibrator dict.
    """
    out: dict[str, Callable[[Any], np.ndarray] | None] = dict.fromkeys(LEVELS)
    if not calibration:
        return out
    if not isinstance(calibration, Mapping):
        raise ConfigError(f"calibration must be a mapping, got {type(calibration).__name__}")
    if _is_old_layout(calibration):
        out["pocket"] = calibrator_function(calibration)
        return out
    for level in LEVELS:
        params = calibration.get(level)
        if params:
            try:
                out[level] = calibrator_function(params)
            except ConfigError as exc:
                raise ConfigError(f"{level} calibrator: {exc}") from exc
    return out


def calibration_note(calibration: Mapping[str, Any] | None) -> str | None:
    """The prediction note for a model file whose probabilities are not all calibrated."""
    if not calibration:
        return "probabilities not calibrated (the model file has no calibration)"
    if _is_old_layout(calibration):
        return "point and residue probabilities not calibrated (old model file)"
    missing = [level for level in LEVELS if not calibration.get(level)]
    if missing:
        return f"{' and '.join(missing)} probabilities not calibrated (no validation data for them)"
    return None


# --------------------------------------------------------------------------- labels


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


def binding_residues(
    atom_coords: np.ndarray,
    atom_residue: np.ndarray,
    n_residues: int,
    ligand_atoms: Sequence[np.ndarray],
    cutoff: float = 4.0,
) -> np.ndarray:
    """[R] bool: residues with a (heavy) atom within ``cutoff`` Å of a relevant ligand atom."""
    out = np.zeros(n_residues, dtype=bool)
    coords = np.asarray(atom_coords, dtype=np.float64).reshape(-1, 3)
    arrays = [np.asarray(a, dtype=np.float64).reshape(-1, 3) for a in ligand_atoms]
    atoms = np.concatenate(arrays) if arrays else np.zeros((0, 3))
    if len(coords) == 0 or len(atoms) == 0:
        return out
    distance, _ = cKDTree(atoms).query(coords, distance_upper_bound=cutoff + 1e-9)
    out[np.asarray(atom_residue, dtype=np.int64)[distance <= cutoff]] = True
    return out


# --------------------------------------------------------------------------- quality


def _checked_pairs(probabilities: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(labels).astype(bool).ravel()
    if p.shape != y.shape:
        raise ValueError(f"{len(p)} probabilities but {len(y)} labels")
    if not np.isfinite(p).all() or (len(p) and (p.min() < 0.0 or p.max() > 1.0)):
        raise ValueError("probabilities must be finite and in [0, 1]")
    return p, y


def reliability_table(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10, strategy: str = "uniform"
) -> pd.DataFrame:
    """Mean predicted probability against observed frequency, per bin.

    Parameters
    ----------
    probabilities, labels
        [n] predicted probabilities and [n] bool outcomes.
    bins
        Number of bins.
    strategy
        ``"uniform"``: equal-width bins on [0, 1] (the last one closed);
        ``"quantile"``: equal-mass bins (sorted probabilities split into ``bins``
        near-equal groups; ties may straddle two bins).

    Returns
    -------
    pandas.DataFrame
        ``bin`` (0-based), ``lower``, ``upper`` (the bin's edges; for quantile bins
        the smallest and largest probability in it), ``mean_predicted``,
        ``observed`` and ``count``; empty bins are left out (no NaN).
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if strategy not in ("uniform", "quantile"):
        raise ValueError(f"strategy must be uniform or quantile, got {strategy!r}")
    p, y = _checked_pairs(probabilities, labels)
    rows = []
    if strategy == "uniform":
        index = np.minimum((p * bins).astype(np.int64), bins - 1)
        groups = [np.flatnonzero(index == b) for b in range(bins)]
        edges = [(b / bins, (b + 1) / bins) for b in range(bins)]
    else:
        groups = np.array_split(np.argsort(p, kind="stable"), bins)
        edges = [(float(p[g].min()), float(p[g].max())) if len(g) else (0.0, 0.0) for g in groups]
    for b, (members, (lower, upper)) in enumerate(zip(groups, edges)):
        if len(members):
            rows.append((b, lower, upper, float(p[members].mean()), float(y[members].mean()), len(members)))
    columns = ["bin", "lower", "upper", "mean_predicted", "observed", "count"]
    return pd.DataFrame(rows, columns=columns).astype({"bin": np.int64, "count": np.int64})


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = 10, strategy: str = "uniform"
) -> float:
    """ECE: Σ over bins of (count / n)·|mean predicted − observed| (:func:`reliability_table` bins).

    NaN for no data. A perfectly calibrated predictor scores 0; one that says
    0.8 where 60 % happen, on every sample, scores 0.2.
    """
    table = reliability_table(probabilities, labels, bins, strategy)
    n = int(table["count"].sum())
    if n == 0:
        return float("nan")
    gap = (table["mean_predicted"] - table["observed"]).abs()
    return float((gap * table["count"]).sum() / n)


def cross_fitted_probabilities(
    scores: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray], Mapping[str, Any]],
    folds: int = 5,
) -> np.ndarray | None:
    """Out-of-fold probabilities: each group fold (by protein) calibrated by a map fitted on the others.

    ``None`` when there are fewer than two groups.
    """
    from sklearn.model_selection import GroupKFold

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    groups = np.asarray(groups)
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        return None
    out = np.empty(len(scores))
    for train, test in GroupKFold(n_splits=min(folds, n_groups)).split(scores, labels, groups):
        out[test] = apply_calibrator(fit(scores[train], labels[train]), scores[test])
    return out


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _ece_metrics(p: np.ndarray, y: np.ndarray, oof: np.ndarray | None, bins: int) -> dict[str, float | None]:
    def ece(q: np.ndarray | None, strategy: str) -> float | None:
        return None if q is None else _none_if_nan(expected_calibration_error(q, y, bins, strategy))

    return {
        "ece_val_in_sample": ece(p, "uniform"),
        "ece_val_in_sample_equal_mass": ece(p, "quantile"),
        "ece_val_cross_fitted": ece(oof, "uniform"),
        "ece_val_cross_fitted_equal_mass": ece(oof, "quantile"),
    }


def fit_levels(
    data: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    pocket_method: str = "pchip",
    bins: int = 10,
    folds: int = 5,
    uncalibrated: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit every level on validation data and measure it.

    Parameters
    ----------
    data
        Level → (scores, labels, groups) from validation proteins: point logits,
        residue scores, pocket scores; bool labels; protein index per sample (folds).
        A level with no samples stays uncalibrated (``None``).
    pocket_method
        ``pchip`` (default), ``platt`` or ``isotonic``.
    bins, folds
        ECE bins; protein folds for the cross-fitted ECE.
    uncalibrated
        Optional level → the probabilities users read without calibration
        (points: the model's sigmoid; residues: the best point nearby), for the
        "before" ECE.

    Returns
    -------
    calibration : dict
        The model file's ``calibration``: ``point``, ``residue``, ``pocket``
        (calibrator dicts or None), ``ece`` (level → ECE numbers and counts),
        ``reliability`` (level → rows ``[lower, upper, mean_predicted, observed, count]``
        of the in-sample equal-width table), ``targets`` (what each probability means),
        ``bins`` and ``folds``.
    reliability : pandas.DataFrame
        The in-sample equal-width tables of all levels: ``level`` + :func:`reliability_table`'s columns.
    """
    calibration: dict[str, Any] = {
        "bins": int(bins),
        "folds": int(folds),
        "targets": dict(LEVEL_TARGETS),
        "ece": {},
        "reliability": {},
    }
    tables = []
    for level in LEVELS:
        scores, labels, groups = (np.asarray(a) for a in data.get(level, ([], [], [])))
        labels = labels.astype(bool)
        method, feature = LEVEL_FITS[level]
        if level == "pocket":
            method = pocket_method
        stats: dict[str, Any] = {"method": method, "n": len(scores), "positives": int(labels.sum())}
        if len(scores) == 0:
            calibration[level] = None
            calibration["ece"][level] = stats
            continue

        def fit(s: np.ndarray, y: np.ndarray, method: str = method, feature: str = feature) -> dict[str, Any]:
            return fit_calibrator(s, y, method, feature)

        params = fit(scores, labels)
        p = apply_calibrator(params, scores)
        oof = cross_fitted_probabilities(scores, labels, groups, fit, folds)
        stats.update(_ece_metrics(p, labels, oof, bins))
        if uncalibrated is not None and level in uncalibrated:
            raw = np.clip(np.asarray(uncalibrated[level], dtype=np.float64), 0.0, 1.0)
            stats["ece_val_uncalibrated"] = _none_if_nan(expected_calibration_error(raw, labels, bins))
        table = reliability_table(p, labels, bins)
        calibration[level] = params
        calibration["ece"][level] = stats
        calibration["reliability"][level] = [
            [float(r.lower), float(r.upper), float(r.mean_predicted), float(r.observed), int(r.count)]
            for r in table.itertuples()
        ]
        tables.append(table.assign(level=level))
    columns = ["level", "bin", "lower", "upper", "mean_predicted", "observed", "count"]
    reliability = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    return calibration, reliability


def pocket_calibration_metrics(probabilities: np.ndarray, hits: np.ndarray, bins: int = 10) -> dict[str, float | int]:
    """ECE of pocket probabilities against DCA hits on an evaluation set (evaluation only, never fitted).

    Pockets without a probability (NaN: a model file without a pocket calibrator)
    are left out; no keys at all when none has one.
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(hits).astype(bool).ravel()
    keep = np.isfinite(p)
    if not keep.any():
        return {}
    p, y = np.clip(p[keep], 0.0, 1.0), y[keep]
    return {
        "pocket_ece": expected_calibration_error(p, y, bins, "uniform"),
        "pocket_ece_equal_mass": expected_calibration_error(p, y, bins, "quantile"),
        "pocket_mean_probability": float(p.mean()),
        "pocket_hit_rate": float(y.mean()),
        "pocket_n": len(p),
    }
