"""Point-level metrics (SCIENCE.md §8): how well SAS-point scores separate ligand points.

PR-AUC (average precision), ROC-AUC, and IoU / F1 / precision / recall at a threshold,
pooled over points and as per-protein means (:func:`point_metrics`); plus the exact
best threshold on validation data. Training uses them for its validation PR-AUC and
threshold, evaluation for the point rows of the report.

Conventions shared by every function here:

* ``labels`` are ints: 1 positive, 0 negative, -1 neutral (SCIENCE.md §4).
  Neutral points are **dropped first**, whatever their scores: the band between
  2.6 Å and 8.1 Å is neither right nor wrong, so it must not move any metric.
* ``scores`` are probabilities in [0, 1] (any finite reals for the ranking
  metrics). NaN or infinite scores are a bug upstream and raise ``ValueError``.
* A point is predicted positive when ``score >= threshold``.
* Undefined values are NaN, never an exception: a protein or split with a single
  class has no PR/ROC-AUC, and an empty prediction of an empty truth has no IoU.
  Callers aggregate with NaN-aware means and report how many were defined.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from pocknet.errors import ConfigError

__all__ = ["best_threshold", "point_metrics", "pr_auc"]

Criterion = Literal["iou", "f1"]
_CRITERIA = ("iou", "f1")
_NO_POSITIVE_THRESHOLD = 0.5


def _labelled(labels: np.ndarray, scores: np.ndarray, *extra: np.ndarray) -> tuple[np.ndarray, ...]:
    """Validate, drop neutral points; return ``(is_positive, scores, *extra)`` without neutrals.

    Centralised so that every metric ignores neutrals in exactly the same way.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.ndim != 1:
        raise ValueError(f"labels and scores must be 1-D, got shapes {labels.shape} and {scores.shape}")
    if len(labels) != len(scores):
        raise ValueError(f"labels ({len(labels)}) and scores ({len(scores)}) differ in length")
    for e in extra:
        if len(e) != len(labels):
            raise ValueError(f"per-point array of length {len(e)} does not match {len(labels)} labels")
    bad = ~np.isin(labels, (-1, 0, 1))
    if bad.any():
        raise ValueError(f"labels must be 1, 0 or -1; found {np.unique(labels[bad])[:5].tolist()}")
    if not np.isfinite(scores).all():
        raise ValueError(f"scores contain {int((~np.isfinite(scores)).sum())} non-finite value(s)")
    keep = labels != -1
    return (labels[keep] == 1, scores[keep], *(np.asarray(e)[keep] for e in extra))


def _both_classes(y: np.ndarray) -> bool:
    """True when positives and negatives are both present (AUCs are defined)."""
    n_pos = int(y.sum())
    return 0 < n_pos < len(y)


def _counts(y: np.ndarray, s: np.ndarray, threshold: float) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) with ``pred = s >= threshold``."""
    pred = s >= threshold
    tp = int(np.count_nonzero(pred & y))
    fp = int(np.count_nonzero(pred)) - tp
    fn = int(np.count_nonzero(y)) - tp
    return tp, fp, fn


def _ratio(num: int, den: int) -> float:
    """num / den, NaN for an empty denominator (the quantity is undefined, not zero)."""
    return num / den if den else float("nan")


def pr_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (sklearn ``average_precision_score``) over non-neutral points.

    Preferred over ROC-AUC as the headline number because positives are rare
    (~2–3 %): ROC-AUC is dominated by the easy negatives. NaN with a single class.
    """
    y, s = _labelled(labels, scores)
    if not _both_classes(y):
        return float("nan")
    return float(average_precision_score(y, s))


def _threshold_sweep(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every distinct score as threshold, highest first, with TP and FP at ``s >= t``.

    One sort and two cumulative sums: the counts at the last point of each block
    of tied scores are the counts for that score used as threshold.
    """
    order = np.argsort(-s, kind="stable")
    s_sorted = s[order]
    tp = np.cumsum(y[order], dtype=np.int64)
    fp = np.arange(1, len(s) + 1, dtype=np.int64) - tp
    block_end = np.append(s_sorted[1:] != s_sorted[:-1], True)
    return s_sorted[block_end], tp[block_end], fp[block_end]


def best_threshold(
    labels: np.ndarray, scores: np.ndarray, criterion: Criterion = "iou"
) -> tuple[float, float]:
    """Threshold maximising IoU or F1 exactly, and the value reached: ``(threshold, value)``.

    Only the distinct score values matter (between two of them the prediction
    does not change), so all of them are evaluated at once in O(n log n).
    Predict positive when ``score >= threshold``. Ties in value go to the
    **higher** threshold: fewer predicted points for the same quality gives
    tighter pockets. With no positive point the criterion is undefined:
    ``(0.5, nan)``. To be chosen on validation data only (SCIENCE.md §6).
    """
    if criterion not in _CRITERIA:
        raise ConfigError(f"best_threshold: criterion must be one of {_CRITERIA}, got {criterion!r}")
    y, s = _labelled(labels, scores)
    n_pos = int(y.sum())
    if n_pos == 0:
        return _NO_POSITIVE_THRESHOLD, float("nan")
    thresholds, tp, fp = _threshold_sweep(y, s)
    # union = TP + FP + FN = n_pos + FP;  2TP + FP + FN = n_pos + TP + FP
    value = tp / (n_pos + fp) if criterion == "iou" else 2 * tp / (n_pos + tp + fp)
    best = int(np.argmax(value))  # first maximum = highest threshold among ties
    return float(thresholds[best]), float(value[best])


def _grouped_average_precision(group: np.ndarray, y: np.ndarray, s: np.ndarray, n_groups: int) -> np.ndarray:
    """Average precision of every group at once (same definition as sklearn).

    AP = Σ_k (TP_k − TP_{k−1}) / P · TP_k / (TP_k + FP_k) over the distinct
    scores k of a group, highest first. One lexsort by (group, −score) and
    group-wise cumulative sums replace a per-protein sklearn call. NaN for a
    group without positives or without negatives, as :func:`pr_auc`.
    """
    order = np.lexsort((-s, group))
    g, yy, ss = group[order], y[order].astype(np.int64), s[order]
    n = len(g)
    first = np.ones(n, dtype=bool)
    first[1:] = g[1:] != g[:-1]
    start = np.flatnonzero(first)
    seg = np.cumsum(first) - 1  # index of each point's segment in ``start``
    ctp = np.cumsum(yy)
    tp = ctp - (ctp[start] - yy[start])[seg]
    rank = np.arange(n) - start[seg] + 1
    fp = rank - tp
    end = np.ones(n, dtype=bool)  # last point of a block of tied scores within a group
    end[:-1] = (g[1:] != g[:-1]) | (ss[1:] != ss[:-1])
    ge, tpe, fpe = g[end], tp[end], fp[end]
    prev_tp = np.zeros_like(tpe)
    prev_tp[1:] = tpe[:-1]
    prev_tp[np.append(True, ge[1:] != ge[:-1])] = 0
    n_pos = np.bincount(g, weights=yy, minlength=n_groups)
    n_all = np.bincount(g, minlength=n_groups)
    contrib = (tpe - prev_tp) * tpe / (tpe + fpe)
    total = np.bincount(ge, weights=contrib, minlength=n_groups)
    defined = (n_pos > 0) & (n_pos < n_all)
    return np.where(defined, total / np.where(defined, n_pos, 1), np.nan)


def _nanmean(values: np.ndarray) -> float:
    """Mean over defined values; NaN (without a warning) when none is defined."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if len(values) else float("nan")


def point_metrics(
    labels: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    protein: np.ndarray | None = None,
) -> dict[str, float]:
    """All point-level metrics in one dict, neutrals ignored.

    Pooled over points: ``pr_auc``, ``roc_auc``, ``iou``, ``f1``, ``precision``,
    ``recall``, ``prevalence`` (fraction positive, reported because every other
    number depends on it) and ``n_points`` (non-neutral points).

    With a per-point ``protein`` id (any dtype), also per-protein means
    ``pr_auc_protein_mean`` and ``iou_protein_mean`` over the ``n_proteins``
    proteins with at least one positive point: pooled numbers are dominated by
    large proteins, the per-protein mean weighs every structure equally.
    Proteins without positives are left out because their IoU and AP are
    undefined; a protein whose points are all positive has no AP and is left out
    of that mean only.
    """
    extra = () if protein is None else (np.asarray(protein),)
    y, s, *rest = _labelled(labels, scores, *extra)
    n = len(y)
    tp, fp, fn = _counts(y, s, threshold)
    out: dict[str, float] = {
        "pr_auc": float(average_precision_score(y, s)) if _both_classes(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, s)) if _both_classes(y) else float("nan"),
        "iou": _ratio(tp, tp + fp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "prevalence": _ratio(int(y.sum()), n),
        "n_points": n,
    }
    if protein is not None:
        ids, group = np.unique(rest[0], return_inverse=True)
        group = group.reshape(-1)
        n_groups = len(ids)
        pred = s >= threshold
        n_pos = np.bincount(group, weights=y, minlength=n_groups)
        inter = np.bincount(group, weights=pred & y, minlength=n_groups)
        union = np.bincount(group, weights=pred | y, minlength=n_groups)
        has_pos = n_pos > 0
        ap = _grouped_average_precision(group, y, s, n_groups) if n else np.zeros(0)
        out["pr_auc_protein_mean"] = _nanmean(ap[has_pos])
        out["iou_protein_mean"] = _nanmean(inter[has_pos] / union[has_pos])
        out["n_proteins"] = int(has_pos.sum())
    return out
