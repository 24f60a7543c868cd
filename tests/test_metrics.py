import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from pocknet.errors import ConfigError
from pocknet.metrics.points import best_threshold, point_metrics, pr_auc

# Six points, sorted by score:   0.9  0.8  0.7  0.6  0.4  0.2
#                       label:    1    0    1    0    1    0      (P = 3, N = 3)
# AP  = Σ ΔR·P:  t=0.9 R 1/3 P 1 → 1/3 ; t=0.7 R 2/3 P 2/3 → 2/9 ; t=0.4 R 1 P 3/5 → 1/5
#     = 15/45 + 10/45 + 9/45 = 34/45
# ROC = correctly ordered (pos, neg) pairs / 9 = (3 + 2 + 1) / 9 = 2/3
# t = 0.5: pred = {.9 .8 .7 .6}, true = {.9 .7 .4}: TP 2, FP 2, FN 1
#     IoU = 2/5, F1 = 4/7, precision 1/2, recall 2/3
# IoU per threshold: .9 1/3, .8 1/4, .7 2/4, .6 2/5, .4 3/5, .2 3/6 → best 0.4 (0.6)
# F1  per threshold: .9 2/4, .8 2/5, .7 4/6, .6 4/7, .4 6/8, .2 6/9 → best 0.4 (0.75)
LABELS = np.array([1, 0, 1, 0, 1, 0])
SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.4, 0.2])


def test_hand_example():
    assert pr_auc(LABELS, SCORES) == pytest.approx(34 / 45)
    m = point_metrics(LABELS, SCORES, 0.5)
    assert m["pr_auc"] == pr_auc(LABELS, SCORES)
    assert m["roc_auc"] == pytest.approx(2 / 3)
    assert m["iou"] == pytest.approx(2 / 5)
    assert m["f1"] == pytest.approx(4 / 7)
    assert (m["precision"], m["recall"]) == pytest.approx((1 / 2, 2 / 3))
    assert best_threshold(LABELS, SCORES, "iou") == pytest.approx((0.4, 0.6))
    assert best_threshold(LABELS, SCORES, "f1") == pytest.approx((0.4, 0.75))


def test_threshold_is_inclusive():
    # a score equal to the threshold is predicted positive
    assert point_metrics(LABELS, SCORES, 0.4)["iou"] == pytest.approx(3 / 5)
    assert point_metrics(LABELS, SCORES, 0.4000001)["iou"] == pytest.approx(2 / 5)


def test_against_sklearn_random():
    rng = np.random.default_rng(0)
    labels = (rng.random(500) < 0.1).astype(int)
    scores = np.round(rng.random(500) * 0.5 + 0.4 * labels, 2)  # ties on purpose
    assert pr_auc(labels, scores) == pytest.approx(average_precision_score(labels, scores))
    assert point_metrics(labels, scores, 0.5)["roc_auc"] == pytest.approx(roc_auc_score(labels, scores))


def test_neutral_points_change_nothing():
    rng = np.random.default_rng(1)
    labels = np.concatenate([LABELS, -np.ones(50, dtype=int)])
    for scores in (np.concatenate([SCORES, rng.random(50)]), np.concatenate([SCORES, np.ones(50)])):
        order = rng.permutation(len(labels))
        lab, sc = labels[order], scores[order]
        assert pr_auc(lab, sc) == pr_auc(LABELS, SCORES)
        assert point_metrics(lab, sc, 0.5) == point_metrics(LABELS, SCORES, 0.5)
        for criterion in ("iou", "f1"):
            assert best_threshold(lab, sc, criterion) == best_threshold(LABELS, SCORES, criterion)
        protein = np.zeros(len(lab), dtype=int)
        assert point_metrics(lab, sc, 0.5, protein) == point_metrics(LABELS, SCORES, 0.5, np.zeros(6, int))


def test_nan_cases():
    only_neg = np.array([0, 0, -1])
    only_pos = np.array([1, 1, -1])
    s = np.array([0.2, 0.7, 0.9])
    for lab in (only_neg, only_pos):
        assert math.isnan(pr_auc(lab, s))
        assert math.isnan(point_metrics(lab, s, 0.5)["roc_auc"])
    # nothing predicted, nothing true → IoU / F1 / precision / recall undefined
    m = point_metrics(only_neg, s, 0.95)
    assert all(math.isnan(m[k]) for k in ("iou", "f1", "precision", "recall"))
    # predicted but no positive: IoU 0, precision 0, recall undefined
    m = point_metrics(only_neg, s, 0.5)
    assert m["iou"] == 0.0 and m["precision"] == 0.0 and math.isnan(m["recall"])
    thr, val = best_threshold(only_neg, s)
    assert thr == 0.5 and math.isnan(val)
    thr, val = best_threshold(np.array([-1, -1]), np.array([0.1, 0.2]), "f1")
    assert thr == 0.5 and math.isnan(val)
    m = point_metrics(np.array([-1, -1]), np.array([0.1, 0.2]), 0.5, protein=np.array([0, 0]))
    assert m["n_points"] == 0 and m["n_proteins"] == 0
    assert all(math.isnan(m[k]) for k in m if not k.startswith("n_"))


def _brute_force(labels, scores, criterion):
    best_t, best_v = None, -1.0
    for t in np.unique(scores[labels != -1])[::-1]:  # highest first: strict > keeps the higher on ties
        v = point_metrics(labels, scores, t)[criterion]
        if v > best_v:
            best_t, best_v = float(t), v
    return best_t, best_v


@pytest.mark.parametrize("criterion", ["iou", "f1"])
@pytest.mark.parametrize("seed", range(6))
def test_best_threshold_equals_brute_force(seed, criterion):
    rng = np.random.default_rng(seed)
    n = 300
    labels = rng.choice([-1, 0, 1], size=n, p=[0.2, 0.7, 0.1])
    scores = rng.random(n) * 0.6 + 0.3 * (labels == 1)
    if seed % 2:
        scores = np.round(scores, 2)  # many ties
    assert best_threshold(labels, scores, criterion) == _brute_force(labels, scores, criterion)


def test_best_threshold_ties_go_to_higher_threshold():
    # IoU: t=.9 → 1/2, .8 → 1/3, .7 → 1/4, .6 → 2/4; F1: t=.9 → 2/3, .6 → 4/6
    labels = np.array([1, 0, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    assert best_threshold(labels, scores, "iou") == (0.9, 0.5)
    assert best_threshold(labels, scores, "f1") == pytest.approx((0.9, 2 / 3))
    with pytest.raises(ConfigError):
        best_threshold(labels, scores, "mcc")  # type: ignore[arg-type]


def test_point_metrics_pooled_and_per_protein():
    # protein A: scores .9 .8 .3 .1, labels 1 0 1 0 → AP = 1/2·1 + 1/2·2/3 = 5/6; IoU@.5 = 1/3
    # protein B: scores .7 .6 .2,    labels 0 1 0   → AP = 1·1/2 = 1/2;         IoU@.5 = 1/2
    # protein C: no positive → left out of the per-protein means
    # neutral points of A and B must not count
    labels = np.array([1, 0, 1, 0, -1, 0, 1, 0, 0, 0, -1])
    scores = np.array([0.9, 0.8, 0.3, 0.1, 0.99, 0.7, 0.6, 0.2, 0.9, 0.1, 0.0])
    protein = np.array(["A", "A", "A", "A", "A", "B", "B", "B", "C", "C", "B"])
    m = point_metrics(labels, scores, 0.5, protein)
    keep = labels != -1
    y, s = labels[keep], scores[keep]
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, s))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, s))
    # pooled at .5: pred {.9 .8 .7 .6 .9(C)}, true {.9 .3 .6} → TP 2, FP 3, FN 1
    assert m["iou"] == pytest.approx(2 / 6)
    assert m["f1"] == pytest.approx(4 / 8)
    assert m["precision"] == pytest.approx(2 / 5)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["prevalence"] == pytest.approx(3 / 9)
    assert m["n_points"] == 9
    assert m["pr_auc_protein_mean"] == pytest.approx((5 / 6 + 1 / 2) / 2)
    assert m["iou_protein_mean"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert m["n_proteins"] == 2
    assert "pr_auc_protein_mean" not in point_metrics(labels, scores, 0.5)


def test_per_protein_means_match_per_protein_calls():
    rng = np.random.default_rng(7)
    n = 2000
    protein = rng.integers(0, 40, size=n)
    labels = rng.choice([-1, 0, 1], size=n, p=[0.1, 0.85, 0.05])
    labels[protein == 3] = 1  # an all-positive protein: no AP, but an IoU
    scores = np.round(rng.random(n) * 0.7 + 0.3 * (labels == 1), 2)
    m = point_metrics(labels, scores, 0.55, protein)
    aps, ious = [], []
    for p in np.unique(protein):
        sel = protein == p
        if (labels[sel] == 1).any():
            aps.append(pr_auc(labels[sel], scores[sel]))
            ious.append(point_metrics(labels[sel], scores[sel], 0.55)["iou"])
    assert np.isnan(aps).sum() == 1
    assert m["pr_auc_protein_mean"] == pytest.approx(np.nanmean(aps))
    assert m["iou_protein_mean"] == pytest.approx(np.mean(ious))
    assert m["n_proteins"] == len(ious)


def test_bad_input_raises():
    with pytest.raises(ValueError):
        pr_auc(np.array([1, 0]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError):
        point_metrics(np.array([1, 2]), np.array([0.1, 0.2]), 0.5)
    with pytest.raises(ValueError):
        best_threshold(np.array([1, 0]), np.array([np.nan, 0.2]))
    with pytest.raises(ValueError):
        point_metrics(np.array([1, 0]), np.array([0.1, 0.2]), 0.5, protein=np.array([0]))
