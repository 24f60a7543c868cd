"""How good calibrated probabilities are: reliability tables and the expected calibration error.

Quality is measured by the expected calibration error (:func:`expected_calibration_error`):
Σ over bins of (bin count / N)·|mean predicted − observed frequency|, 10
equal-width bins by default (``strategy="uniform"``) or equal-mass bins
(``"quantile"``). :func:`pocknet.predict.calibration.fit_levels` reports it on
the validation data the maps were fitted on ("in sample") and cross-fitted: 5
folds by protein, each fold's probabilities from a map fitted on the other
folds, the honest number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from pocknet.predict.calibration_maps import apply_calibrator

__all__ = [
    "cross_fitted_probabilities",
    "expected_calibration_error",
    "pocket_calibration_metrics",
    "reliability_table",
]


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
