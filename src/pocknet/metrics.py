"""Evaluation metrics (SCIENCE.md §8).

Point level (this section): PR-AUC (average precision), ROC-AUC, and IoU / F1 /
precision / recall at a threshold, pooled over points and as per-protein means;
plus the exact best threshold on validation data.

Conventions shared by every point-level function:

* ``labels`` are ints: 1 positive, 0 negative, -1 neutral (SCIENCE.md §4).
  Neutral points are **dropped first**, whatever their scores: the band between
  2.6 Å and 8.1 Å is neither right nor wrong, so it must not move any metric.
* ``scores`` are probabilities in [0, 1] (any finite reals for the ranking
  metrics). NaN or infinite scores are a bug upstream and raise ``ValueError``.
* A point is predicted positive when ``score >= threshold``.
* Undefined values are NaN, never an exception: a protein or split with a single
  class has no PR/ROC-AUC, and an empty prediction of an empty truth has no IoU.
  Callers aggregate with NaN-aware means and report how many were defined.

Pocket level (second section): DCA / DCC per pocket centre, P2Rank's
ligand-centric top-n and top-(n+2) success, protein-level success@k, the
success-vs-cutoff curve, pocket/ground-truth point overlap, and — labelled as
secondary — the original PockNet's non-standard SAS-point "DCA/DCC". Its
conventions:

* Pocket centres come **in rank order** (row 0 = rank 1). Ranks are 1-based;
  rank 0 means "no pocket meets the criterion". Ties in score are already
  resolved by that order: a ligand found by two pockets takes the lower rank.
* Cutoffs are inclusive (``distance <= cutoff``), as P2Rank's criteria.
* Only *relevant* ligands (SCIENCE.md §1) are passed in; every one of them is
  in the denominator of the ligand-centric numbers, found or not.
* Undefined fractions (nothing to divide by) are NaN, as in the point level.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.spatial.distance import cdist
from sklearn.metrics import average_precision_score, roc_auc_score

from pocknet.errors import ConfigError

__all__ = [
    "POCKET_CRITERIA",
    "STANDARD_CUTOFF",
    "best_threshold",
    "dca",
    "dcc",
    "evaluate_proteins",
    "f1",
    "iou",
    "ligand_ranks",
    "ligand_success",
    "pocket_point_overlap",
    "point_metrics",
    "pr_auc",
    "precision_recall_at",
    "protein_success_at_k",
    "roc_auc",
    "sas_point_variant",
    "success_curve",
]

Criterion = Literal["iou", "f1"]
_CRITERIA = ("iou", "f1")
_NO_POSITIVE_THRESHOLD = 0.5


# --------------------------------------------------------------------------------------
# Point level
# --------------------------------------------------------------------------------------


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


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve over non-neutral points; NaN with a single class."""
    y, s = _labelled(labels, scores)
    if not _both_classes(y):
        return float("nan")
    return float(roc_auc_score(y, s))


def iou(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """|pred ∧ true| / |pred ∨ true| with ``pred = score >= threshold``.

    NaN when both sets are empty: a protein without positives that is correctly
    left empty is neither a perfect nor a failed segmentation.
    """
    y, s = _labelled(labels, scores)
    tp, fp, fn = _counts(y, s, threshold)
    return _ratio(tp, tp + fp + fn)


def f1(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """F1 = 2·TP / (2·TP + FP + FN) at ``score >= threshold``; NaN when both sets are empty."""
    y, s = _labelled(labels, scores)
    tp, fp, fn = _counts(y, s, threshold)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def precision_recall_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[float, float]:
    """(precision, recall) at ``score >= threshold``.

    Precision is NaN when nothing is predicted, recall NaN when nothing is
    positive: both are undefined there, and a 0 would bias averages.
    """
    y, s = _labelled(labels, scores)
    tp, fp, fn = _counts(y, s, threshold)
    return _ratio(tp, tp + fp), _ratio(tp, tp + fn)


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


# --------------------------------------------------------------------------------------
# Pocket level
# --------------------------------------------------------------------------------------

PocketCriterion = Literal["dca", "dcc"]
POCKET_CRITERIA: tuple[str, ...] = ("dca", "dcc")
STANDARD_CUTOFF = 4.0  # Å, P2Rank's DCA(4) / DCC(4)
_TOP_N_TOLERANCES = {"top_n": 0, "top_n2": 2}  # P2Rank's top-n and top-(n+2)
_SUCCESS_AT_K = (1, 3)
_DEFAULT_CURVE_CUTOFFS = np.arange(0.0, 12.0 + 1e-9, 0.5)


def _coords(array: Any, what: str) -> np.ndarray:
    """``[n, 3]`` float64 coordinates; an empty input of any shape is ``[0, 3]``.

    Shapes are checked here so that a transposed ``[3, n]`` array fails loudly
    instead of silently producing distances between the wrong things.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, 3)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{what} must have shape [n, 3], got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contain non-finite coordinates")
    return a


def _ligand_list(ligands: Sequence[Any]) -> list[np.ndarray]:
    """Validated ligand atom arrays; a ligand without atoms has no DCA/DCC and is a bug upstream."""
    out = [_coords(lig, f"ligand {i} atoms") for i, lig in enumerate(ligands)]
    for i, lig in enumerate(out):
        if len(lig) == 0:
            raise ValueError(f"ligand {i} has no atoms")
    return out


def _check_criterion(criterion: str) -> None:
    if criterion not in POCKET_CRITERIA:
        raise ConfigError(f"pocket criterion must be one of {POCKET_CRITERIA}, got {criterion!r}")


def dca(centres: np.ndarray, ligand_atoms: np.ndarray) -> np.ndarray:
    """Distance from each pocket centre to the **closest** ligand atom, ``[n]``.

    P2Rank's DCA: a pocket whose centre sits against any part of the ligand
    counts, so large ligands are easy to hit anywhere along their length.
    """
    c = _coords(centres, "pocket centres")
    atoms = _ligand_list([ligand_atoms])[0]
    return cdist(c, atoms).min(axis=1) if len(c) else np.zeros(0)


def dcc(centres: np.ndarray, ligand_atoms: np.ndarray) -> np.ndarray:
    """Distance from each pocket centre to the ligand's **centroid**, ``[n]``.

    Stricter than :func:`dca` for long ligands: the centre must be near the
    middle of the ligand, not just near one end of it.
    """
    c = _coords(centres, "pocket centres")
    atoms = _ligand_list([ligand_atoms])[0]
    return np.linalg.norm(c - atoms.mean(axis=0), axis=1)


def _distance_matrix(centres: np.ndarray, ligands: list[np.ndarray], criterion: str) -> np.ndarray:
    """``[n_ligands, n_pockets]`` DCA or DCC for all ligands of a protein at once.

    One ``cdist`` over the concatenated ligand atoms and a segmented minimum
    (``np.minimum.reduceat``) replace a Python loop over ligands.
    """
    _check_criterion(criterion)
    if not ligands:
        return np.zeros((0, len(centres)))
    sizes = np.array([len(lig) for lig in ligands])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    atoms = np.concatenate(ligands)
    if criterion == "dca":
        return np.minimum.reduceat(cdist(atoms, centres), starts, axis=0)
    centroids = np.add.reduceat(atoms, starts, axis=0) / sizes[:, None]
    return cdist(centroids, centres)


def _first_hit_ranks(distances: np.ndarray, cutoff: float) -> np.ndarray:
    """1-based index of the first column with ``distance <= cutoff`` per row, 0 if none."""
    if distances.shape[1] == 0:
        return np.zeros(distances.shape[0], dtype=np.int64)
    hit = distances <= cutoff
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)


def ligand_ranks(
    centres_ranked: np.ndarray,
    ligands: Sequence[np.ndarray],
    criterion: PocketCriterion = "dca",
    cutoff: float = STANDARD_CUTOFF,
) -> np.ndarray:
    """Rank of the first pocket that finds each ligand (P2Rank's ligand-centric rank).

    Parameters
    ----------
    centres_ranked
        ``[n, 3]`` pocket centres of one protein, best pocket first. The order
        is the ranking: equal scores must already be broken by the caller, and
        a ligand found by several pockets takes the lowest rank among them.
    ligands
        Atom coordinates (``[m_i, 3]``) of the protein's relevant ligands.
    criterion
        ``"dca"`` (closest ligand atom) or ``"dcc"`` (ligand centroid).
    cutoff
        Distance in Å; a pocket meets the criterion at ``distance <= cutoff``.

    Returns
    -------
    np.ndarray
        ``[len(ligands)]`` int64, 1-based rank, 0 when no pocket meets the
        criterion. Several ligands may share one pocket (as in P2Rank).
    """
    c = _coords(centres_ranked, "pocket centres")
    return _first_hit_ranks(_distance_matrix(c, _ligand_list(ligands), criterion), cutoff)


def ligand_success(
    ranks: np.ndarray, n_ligands_in_protein: int | np.ndarray, tolerance: int = 0
) -> np.ndarray:
    """Per-ligand success: ``1 <= rank <= n + tolerance``.

    ``n`` is the number of relevant ligands of the ligand's protein (a scalar
    for one protein, or one value per ligand when ranks are pooled). P2Rank's
    top-n is ``tolerance=0``, top-(n+2) ``tolerance=2``: a protein with n
    binding sites is allowed n pockets, so proteins with many sites are not
    penalised for reporting each of them. The mean of the result over all
    relevant ligands is the success rate (unfound ligands count as failures).
    """
    r = np.asarray(ranks, dtype=np.int64)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return (r >= 1) & (r <= np.asarray(n_ligands_in_protein) + tolerance)


def protein_success_at_k(ranks: np.ndarray, k: int) -> bool:
    """True when one of the protein's top ``k`` pockets finds any of its ligands.

    Protein-centric (one vote per structure), unlike :func:`ligand_success`.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    r = np.asarray(ranks, dtype=np.int64)
    return bool(np.any((r >= 1) & (r <= k)))


def _mean(values: list[bool] | np.ndarray) -> float:
    """Fraction true; NaN for an empty list (no denominator, no rate)."""
    return float(np.mean(values)) if len(values) else float("nan")


def _record(record: Mapping[str, Any]) -> tuple[str, np.ndarray, list[np.ndarray]]:
    """Validated ``(protein, centres, ligands)`` of one per-protein record."""
    try:
        name = str(record["protein"])
        centres, ligands = record["centres"], record["ligands"]
    except KeyError as exc:
        raise ValueError(f"pocket-metric record lacks key {exc}; needs protein, centres, ligands") from exc
    try:
        return name, _coords(centres, "pocket centres"), _ligand_list(ligands)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def evaluate_proteins(
    records: Iterable[Mapping[str, Any]], cutoff: float = STANDARD_CUTOFF
) -> dict[str, Any]:
    """DCA and DCC success rates of a dataset, P2Rank style.

    Parameters
    ----------
    records
        One mapping per protein: ``protein`` (name), ``centres`` (``[n, 3]``
        pocket centres in rank order, possibly empty) and ``ligands`` (list of
        ``[m_i, 3]`` atom arrays of its *relevant* ligands). Proteins without a
        relevant ligand cannot be evaluated: they are skipped and counted
        (``n_skipped_no_ligand``, names in ``skipped_no_ligand``) so that a
        dataset-size mismatch is visible rather than silent. A record may also
        carry ``positive_points`` (``[p, 3]`` coordinates of its positive SAS
        points); then the secondary :func:`sas_point_variant` numbers are added.
    cutoff
        DCA/DCC distance in Å (4 Å standard).

    Returns
    -------
    dict
        ``n_proteins`` (evaluated proteins, the success@k denominator),
        ``n_ligands`` (the top-n denominator), ``n_skipped_no_ligand``,
        ``skipped_no_ligand``, ``cutoff``; for ``c`` in (dca, dcc):
        ``{c}_top_n``, ``{c}_top_n2`` (ligand-centric, over all relevant
        ligands), ``{c}_success_at_1``, ``{c}_success_at_3`` (per protein), all
        fractions in [0, 1] or NaN when nothing was evaluated; ``per_protein``:
        dicts with ``protein, n_ligands, n_pockets, ranks_dca, ranks_dcc``
        (ranks as lists of ints, JSON-ready). With ``positive_points`` also
        ``sas_dca_at_1``, ``sas_dcc_at_1`` and ``n_sas_ground_truth`` (see
        :func:`sas_point_variant`; not comparable with P2Rank numbers).
    """
    per_protein: list[dict[str, Any]] = []
    skipped: list[str] = []
    ligand_hits: dict[str, list[np.ndarray]] = {
        f"{c}_{t}": [] for c in POCKET_CRITERIA for t in _TOP_N_TOLERANCES
    }
    protein_hits: dict[str, list[bool]] = {
        f"{c}_success_at_{k}": [] for c in POCKET_CRITERIA for k in _SUCCESS_AT_K
    }
    sas: list[dict[str, Any]] = []
    for record in records:
        name, centres, ligands = _record(record)
        if "positive_points" in record:
            sas.append(sas_point_variant(centres, record["positive_points"], cutoff=cutoff, k=1))
        if not ligands:
            skipped.append(name)
            continue
        entry: dict[str, Any] = {"protein": name, "n_ligands": len(ligands), "n_pockets": len(centres)}
        for c in POCKET_CRITERIA:
            ranks = _first_hit_ranks(_distance_matrix(centres, ligands, c), cutoff)
            entry[f"ranks_{c}"] = ranks.tolist()
            for t, tol in _TOP_N_TOLERANCES.items():
                ligand_hits[f"{c}_{t}"].append(ligand_success(ranks, len(ligands), tol))
            for k in _SUCCESS_AT_K:
                protein_hits[f"{c}_success_at_{k}"].append(protein_success_at_k(ranks, k))
        per_protein.append(entry)

    out: dict[str, Any] = {
        "n_proteins": len(per_protein),
        "n_ligands": sum(p["n_ligands"] for p in per_protein),
        "n_skipped_no_ligand": len(skipped),
        "skipped_no_ligand": skipped,
        "cutoff": float(cutoff),
    }
    for key, hits in ligand_hits.items():
        out[key] = _mean(np.concatenate(hits)) if hits else float("nan")
    for key, flags in protein_hits.items():
        out[key] = _mean(flags)
    if sas:
        with_truth = [s for s in sas if s["has_ground_truth"]]
        out["n_sas_ground_truth"] = len(with_truth)
        out["sas_dca_at_1"] = _mean([s["sas_dca_at_1"] for s in with_truth])
        out["sas_dcc_at_1"] = _mean([s["sas_dcc_at_1"] for s in with_truth])
    out["per_protein"] = per_protein
    return out


def success_curve(
    records: Iterable[Mapping[str, Any]],
    criterion: PocketCriterion = "dca",
    cutoffs: Sequence[float] | np.ndarray | None = None,
    tolerance: int = 0,
) -> np.ndarray:
    """Ligand-centric top-(n + tolerance) success rate at each cutoff (report's curve).

    A ligand succeeds at cutoff d exactly when one of its protein's first
    ``n + tolerance`` pockets lies within d, so the per-ligand minimum distance
    over those pockets is computed once and compared with every cutoff: the
    curve is non-decreasing in d by construction, and at 4 Å equals
    :func:`evaluate_proteins`' ``{criterion}_top_n`` (tolerance 0). Proteins
    without relevant ligands are skipped, as there. ``cutoffs`` defaults to
    0–12 Å in 0.5 Å steps. NaN everywhere when there is no ligand.
    """
    _check_criterion(criterion)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    grid = _DEFAULT_CURVE_CUTOFFS if cutoffs is None else np.asarray(cutoffs, dtype=np.float64).reshape(-1)
    best: list[np.ndarray] = []
    for record in records:
        _, centres, ligands = _record(record)
        if not ligands:
            continue
        allowed = centres[: len(ligands) + tolerance]
        if len(allowed) == 0:
            best.append(np.full(len(ligands), np.inf))
        else:
            best.append(_distance_matrix(allowed, ligands, criterion).min(axis=1))
    if not best:
        return np.full(len(grid), np.nan)
    closest = np.concatenate(best)
    return (closest[None, :] <= grid[:, None]).mean(axis=1)


def _point_mask(points: Any, n_points: int, what: str) -> np.ndarray:
    """Boolean mask from a mask of length ``n_points`` or from integer indices."""
    a = np.asarray(points)
    if a.dtype == bool:
        if a.shape != (n_points,):
            raise ValueError(f"{what} mask has shape {a.shape}, expected ({n_points},)")
        return a
    idx = a.reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"{what} must be a boolean mask or integer indices, got dtype {idx.dtype}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= n_points):
        raise ValueError(f"{what} indices out of range [0, {n_points})")
    mask = np.zeros(n_points, dtype=bool)
    mask[idx] = True
    return mask


def pocket_point_overlap(
    pocket_points: Sequence[np.ndarray],
    positive_points: np.ndarray,
    n_points: int,
) -> dict[str, Any]:
    """Overlap of predicted pockets with the ligand-labelled SAS points of one protein.

    Parameters
    ----------
    pocket_points
        Per pocket (rank order), integer indices of its SAS points.
    positive_points
        Positive (ligand-labelled) points: a boolean mask of length
        ``n_points`` or integer indices. For a label vector pass
        ``labels == 1`` — an int 0/1 vector would be read as indices.
    n_points
        Number of SAS points of the protein.

    Returns
    -------
    dict
        ``pocket_iou``: |∪pockets ∩ pos| / |∪pockets ∪ pos| — how well the
        pockets as a whole reproduce the labelled binding region;
        ``coverage``: fraction of positive points inside some pocket (recall of
        the pocket segmentation); ``best_pocket_iou`` and ``best_pocket_rank``
        (1-based): the single pocket that matches the truth best;
        ``pocket_ious``: ``[n_pockets]`` per-pocket IoU; plus ``n_pockets``,
        ``n_positive``, ``n_pocket_points``. Undefined ratios (empty union,
        no positives, no pockets) are NaN; ``best_pocket_rank`` is then 0.
    """
    if n_points < 0:
        raise ValueError(f"n_points must be >= 0, got {n_points}")
    pos = _point_mask(positive_points, n_points, "positive points")
    n_pockets = len(pocket_points)
    per = [np.asarray(p).reshape(-1) for p in pocket_points]
    for i, p in enumerate(per):
        if p.size and (not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() >= n_points):
            raise ValueError(f"pocket {i + 1}: point indices must be integers in range [0, {n_points})")
    sizes = np.array([p.size for p in per], dtype=np.int64)
    owner = np.repeat(np.arange(n_pockets, dtype=np.int64), sizes)
    idx = np.concatenate(per).astype(np.int64) if n_pockets else np.zeros(0, dtype=np.int64)
    # A point listed twice in one pocket counts once.
    key = np.unique(owner * max(n_points, 1) + idx)
    owner, idx = key // max(n_points, 1), key % max(n_points, 1)
    in_pocket = np.zeros(n_points, dtype=bool)
    in_pocket[idx] = True
    n_pos = int(pos.sum())
    inter = int(np.count_nonzero(in_pocket & pos))
    union = int(np.count_nonzero(in_pocket | pos))
    size_k = np.bincount(owner, minlength=n_pockets)
    inter_k = np.bincount(owner, weights=pos[idx], minlength=n_pockets)
    union_k = size_k + n_pos - inter_k
    with np.errstate(invalid="ignore", divide="ignore"):
        ious = np.where(union_k > 0, inter_k / np.where(union_k > 0, union_k, 1), np.nan)
    defined = ~np.isnan(ious)
    best = int(np.flatnonzero(defined)[np.argmax(ious[defined])]) if defined.any() else -1
    return {
        "pocket_iou": _ratio(inter, union),
        "coverage": _ratio(inter, n_pos),
        "best_pocket_iou": float(ious[best]) if best >= 0 else float("nan"),
        "best_pocket_rank": best + 1,
        "pocket_ious": ious,
        "n_pockets": n_pockets,
        "n_positive": n_pos,
        "n_pocket_points": int(in_pocket.sum()),
    }


def sas_point_variant(
    centres_ranked: np.ndarray,
    positive_point_coords: np.ndarray,
    cutoff: float = STANDARD_CUTOFF,
    k: int = 1,
) -> dict[str, Any]:
    """The original PockNet's "DCA/DCC" for one protein — **secondary, non-standard**.

    Reported only so that our numbers can be set beside the original release's
    (SCIENCE.md §8, §9: "DCA@1 75 %, DCC@1 39 %"). Definitions:

    * ``sas_dca_at_{k}``: one of the top ``k`` pocket centres lies within
      ``cutoff`` of the nearest *positive SAS point* (not a ligand atom);
    * ``sas_dcc_at_{k}``: one of them lies within ``cutoff`` of the centroid of
      all the protein's positive points;
    * all positive points of a protein form one ground-truth pocket, so the
      rate is taken over proteins with any positive point
      (``has_ground_truth``), one vote each.

    Why it is not DCA/DCC: positive points are the *labels* (points ≤ 2.6 Å
    from a ligand atom, on the 1.6 Å probe surface), so the metric measures
    agreement with the training target rather than with the ligand, and a
    centre can be near a labelled point yet farther than 4 Å from every atom;
    merging several binding sites into one centroid puts the "DCC" target
    between sites; and counting per protein at a fixed k ignores P2Rank's
    per-ligand top-n rule. Numbers are therefore not comparable with P2Rank's.

    Returns
    -------
    dict
        ``has_ground_truth``, ``sas_dca_at_{k}`` and ``sas_dcc_at_{k}``
        (bool; False without ground truth), ``sas_dca_distance`` and
        ``sas_dcc_distance`` (smallest distance over the top ``k`` centres; NaN
        without ground truth or pockets).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    centres = _coords(centres_ranked, "pocket centres")[:k]
    positive = _coords(positive_point_coords, "positive point coordinates")
    has_truth = len(positive) > 0
    d_dca = d_dcc = float("nan")
    if has_truth and len(centres):
        d_dca = float(cdist(centres, positive).min())
        d_dcc = float(np.linalg.norm(centres - positive.mean(axis=0), axis=1).min())
    return {
        "has_ground_truth": has_truth,
        f"sas_dca_at_{k}": bool(d_dca <= cutoff),
        f"sas_dcc_at_{k}": bool(d_dcc <= cutoff),
        "sas_dca_distance": d_dca,
        "sas_dcc_distance": d_dcc,
    }
