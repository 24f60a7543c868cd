"""Pocket-level metrics (SCIENCE.md §8) on hand-made cases with known answers."""

import math

import numpy as np
import pytest

from pocknet.errors import ConfigError
from pocknet.metrics import (
    dca,
    dcc,
    evaluate_proteins,
    ligand_ranks,
    ligand_success,
    pocket_point_overlap,
    protein_success_at_k,
    sas_point_variant,
    success_curve,
)

FAR = [100.0, 100.0, 100.0]


def blob(x: float, y: float = 0.0, z: float = 0.0, n: int = 5) -> np.ndarray:
    """A compact 5-atom 'ligand' centred at (x, y, z), atoms within 0.5 Å of the centre."""
    offsets = np.array([[0, 0, 0], [0.5, 0, 0], [-0.5, 0, 0], [0, 0.5, 0], [0, -0.5, 0]])[:n]
    return offsets + np.array([x, y, z])


def rod(length: float = 20.0, n: int = 21) -> np.ndarray:
    """A long straight 'ligand' on the x axis from 0 to ``length``."""
    return np.column_stack([np.linspace(0.0, length, n), np.zeros(n), np.zeros(n)])


# ------------------------------------------------------------------ DCA / DCC


def test_dca_dcc_values_and_long_ligand():
    ligand = rod()  # centroid (10, 0, 0)
    centres = np.array([[0.0, 0.0, 1.0], [10.0, 0.0, 3.0]])
    assert dca(centres, ligand) == pytest.approx([1.0, 3.0])
    assert dcc(centres, ligand) == pytest.approx([math.hypot(10, 1), 3.0])
    # near one end of a long ligand: found by DCA, missed by DCC
    assert ligand_ranks(centres[:1], [ligand], "dca").tolist() == [1]
    assert ligand_ranks(centres[:1], [ligand], "dcc").tolist() == [0]


def test_cutoff_is_inclusive():
    ligand = np.array([[4.0, 0, 0], [5.0, 0, 0], [6.0, 0, 0], [7.0, 0, 0], [8.0, 0, 0]])
    centre = np.zeros((1, 3))
    assert ligand_ranks(centre, [ligand], "dca", cutoff=4.0).tolist() == [1]
    assert ligand_ranks(centre, [ligand], "dca", cutoff=3.999).tolist() == [0]
    assert ligand_ranks(centre, [ligand], "dcc", cutoff=6.0).tolist() == [1]


def test_shape_and_criterion_errors():
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        dca(np.zeros((3, 2)), blob(0))
    with pytest.raises(ValueError, match="no atoms"):
        ligand_ranks(np.zeros((1, 3)), [np.zeros((0, 3))])
    with pytest.raises(ConfigError, match="criterion"):
        ligand_ranks(np.zeros((1, 3)), [blob(0)], "dcx")
    with pytest.raises(ValueError, match="non-finite"):
        dcc(np.array([[np.nan, 0, 0]]), blob(0))


# ------------------------------------------------------------------ ranks


def test_one_pocket_hits_two_ligands():
    ligands = [blob(1.5), blob(0, 1.5)]
    centres = np.array([[0.0, 0, 0], FAR])
    assert ligand_ranks(centres, ligands).tolist() == [1, 1]
    out = evaluate_proteins([{"protein": "p", "centres": centres, "ligands": ligands}])
    assert out["n_ligands"] == 2
    assert out["dca_top_n"] == 1.0  # 2 / 2
    assert out["per_protein"][0]["ranks_dca"] == [1, 1]


def test_ties_take_the_lower_rank():
    ligand = [blob(0)]
    same = np.array([[1.0, 0, 0], [1.0, 0, 0], FAR])  # two pockets with the same centre (tied score)
    assert ligand_ranks(same, ligand).tolist() == [1]
    later = np.array([FAR, [1.0, 0, 0], [0.5, 0, 0]])  # found by ranks 2 and 3 → 2, even if 3 is closer
    assert ligand_ranks(later, ligand).tolist() == [2]


def test_no_pockets_means_rank_zero():
    assert ligand_ranks(np.zeros((0, 3)), [blob(0), blob(9)]).tolist() == [0, 0]
    assert ligand_ranks([], [blob(0)]).tolist() == [0]
    assert ligand_ranks(np.zeros((2, 3)), []).tolist() == []


def test_ranks_match_bruteforce():
    rng = np.random.default_rng(0)
    for _ in range(20):
        centres = rng.uniform(0, 20, (rng.integers(0, 8), 3))
        ligands = [rng.uniform(0, 20, (rng.integers(1, 9), 3)) for _ in range(rng.integers(1, 4))]
        for criterion, fn in (("dca", dca), ("dcc", dcc)):
            expected = []
            for lig in ligands:
                d = fn(centres, lig)
                hit = np.flatnonzero(d <= 4.0)
                expected.append(int(hit[0]) + 1 if len(hit) else 0)
            assert ligand_ranks(centres, ligands, criterion).tolist() == expected


# ------------------------------------------------------------------ success rules


def test_ligand_success_top_n_and_n_plus_2():
    ranks = np.array([1, 3, 0, 4])  # n = 2: top-n allows ranks 1-2, top-(n+2) ranks 1-4
    assert ligand_success(ranks, 2, 0).tolist() == [True, False, False, False]
    assert ligand_success(ranks, 2, 2).tolist() == [True, True, False, True]
    # pooled over proteins: n per ligand
    assert ligand_success(np.array([2, 2]), np.array([1, 2]), 0).tolist() == [False, True]
    with pytest.raises(ValueError):
        ligand_success(ranks, 2, -1)


def test_protein_success_at_k():
    assert protein_success_at_k(np.array([0, 3]), 1) is False
    assert protein_success_at_k(np.array([0, 3]), 3) is True
    assert protein_success_at_k(np.array([0, 0]), 10) is False
    assert protein_success_at_k(np.array([], dtype=int), 1) is False


def test_evaluate_top_n_versus_n_plus_2_and_success_at_k():
    # p1: one ligand, found only by pocket 3 → top-n fails, top-(n+2) and success@3 succeed
    p1 = {"protein": "p1", "centres": np.array([FAR, FAR, [0.0, 0, 1]]), "ligands": [blob(0)]}
    # p2: two ligands, A found by pocket 1, B by pocket 2 (both within n = 2)
    p2 = {
        "protein": "p2",
        "centres": np.array([[0.0, 0, 1], [30.0, 0, 1]]),
        "ligands": [blob(0), blob(30)],
    }
    # p3: no relevant ligand → skipped, counted
    p3 = {"protein": "p3", "centres": np.array([[0.0, 0, 0]]), "ligands": []}
    out = evaluate_proteins([p1, p2, p3])
    assert out["n_proteins"] == 2
    assert out["n_ligands"] == 3
    assert out["n_skipped_no_ligand"] == 1
    assert out["skipped_no_ligand"] == ["p3"]
    assert out["dca_top_n"] == pytest.approx(2 / 3)
    assert out["dca_top_n2"] == pytest.approx(3 / 3)
    assert out["dca_success_at_1"] == pytest.approx(1 / 2)
    assert out["dca_success_at_3"] == pytest.approx(2 / 2)
    assert [p["protein"] for p in out["per_protein"]] == ["p1", "p2"]
    assert out["per_protein"][0] == {
        "protein": "p1",
        "n_ligands": 1,
        "n_pockets": 3,
        "ranks_dca": [3],
        "ranks_dcc": [3],
    }
    assert out["per_protein"][1]["ranks_dca"] == [1, 2]
    # compact ligands: DCC agrees with DCA here
    for key in ("top_n", "top_n2", "success_at_1", "success_at_3"):
        assert out[f"dcc_{key}"] == out[f"dca_{key}"]


def test_evaluate_dca_vs_dcc_long_ligand():
    record = {"protein": "rod", "centres": np.array([[0.0, 0.0, 1.0]]), "ligands": [rod()]}
    out = evaluate_proteins([record])
    assert out["dca_top_n"] == 1.0
    assert out["dcc_top_n"] == 0.0
    assert out["per_protein"][0]["ranks_dcc"] == [0]


def test_evaluate_empty_and_all_skipped_give_nan():
    for records in ([], [{"protein": "x", "centres": np.zeros((1, 3)), "ligands": []}]):
        out = evaluate_proteins(records)
        assert out["n_proteins"] == 0 and out["n_ligands"] == 0
        assert math.isnan(out["dca_top_n"]) and math.isnan(out["dcc_success_at_1"])
        assert out["per_protein"] == []


def test_evaluate_record_errors_name_the_protein():
    with pytest.raises(ValueError, match="lacks key"):
        evaluate_proteins([{"protein": "x", "centres": np.zeros((1, 3))}])
    with pytest.raises(ValueError, match="bad"):
        evaluate_proteins([{"protein": "bad", "centres": np.zeros((1, 2)), "ligands": [blob(0)]}])


# ------------------------------------------------------------------ success curve


def _random_records(seed: int, n: int = 15) -> list[dict]:
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        n_lig = int(rng.integers(0, 4))
        records.append(
            {
                "protein": f"p{i}",
                "centres": rng.uniform(0, 25, (int(rng.integers(0, 6)), 3)),
                "ligands": [rng.uniform(0, 25, (int(rng.integers(5, 12)), 3)) for _ in range(n_lig)],
            }
        )
    return records


@pytest.mark.parametrize("criterion", ["dca", "dcc"])
def test_success_curve_monotone_and_consistent(criterion):
    records = _random_records(3)
    cutoffs = np.arange(0.0, 12.5, 0.5)
    curve = success_curve(records, criterion, cutoffs)
    assert curve.shape == cutoffs.shape
    assert np.all(np.diff(curve) >= 0)
    assert 0.0 <= curve[0] and curve[-1] <= 1.0
    # each point equals the rank-based definition at that cutoff
    for cutoff, value in zip(cutoffs, curve):
        hits, total = 0, 0
        for r in records:
            if not r["ligands"]:
                continue
            ranks = ligand_ranks(r["centres"], r["ligands"], criterion, cutoff)
            hits += int(ligand_success(ranks, len(r["ligands"]), 0).sum())
            total += len(r["ligands"])
        assert value == pytest.approx(hits / total)
    at4 = success_curve(records, criterion, [4.0])[0]
    assert at4 == pytest.approx(evaluate_proteins(records)[f"{criterion}_top_n"])
    at4_n2 = success_curve(records, criterion, [4.0], tolerance=2)[0]
    assert at4_n2 == pytest.approx(evaluate_proteins(records)[f"{criterion}_top_n2"])


def test_success_curve_defaults_and_empty():
    curve = success_curve(_random_records(4))
    assert len(curve) == 25  # 0..12 Å in 0.5 Å steps
    assert np.isnan(success_curve([], "dca", [1.0, 2.0])).all()


# ------------------------------------------------------------------ point overlap


def test_pocket_point_overlap_tiny_example():
    # positives {2,3,4,5}; pockets {1,2,3} and {5,6}
    # union of pockets {1,2,3,5,6}: ∩ pos = {2,3,5} (3), ∪ pos = {1..6} (6) → IoU 1/2, coverage 3/4
    # pocket 1: 2 / (3 + 4 - 2) = 0.4; pocket 2: 1 / (2 + 4 - 1) = 0.2
    pockets = [np.array([1, 2, 3]), np.array([5, 6, 6])]  # duplicate index counts once
    for positive in (np.array([2, 3, 4, 5]), np.isin(np.arange(10), [2, 3, 4, 5])):
        out = pocket_point_overlap(pockets, positive, 10)
        assert out["pocket_iou"] == pytest.approx(0.5)
        assert out["coverage"] == pytest.approx(0.75)
        assert out["pocket_ious"] == pytest.approx([0.4, 0.2])
        assert out["best_pocket_iou"] == pytest.approx(0.4)
        assert out["best_pocket_rank"] == 1
        assert out["n_pockets"] == 2 and out["n_positive"] == 4 and out["n_pocket_points"] == 5


def test_pocket_point_overlap_edge_cases():
    none = pocket_point_overlap([], np.array([1, 2]), 5)
    assert none["pocket_iou"] == 0.0 and none["coverage"] == 0.0
    assert math.isnan(none["best_pocket_iou"]) and none["best_pocket_rank"] == 0
    empty = pocket_point_overlap([], np.array([], dtype=int), 5)
    assert math.isnan(empty["pocket_iou"]) and math.isnan(empty["coverage"])
    no_truth = pocket_point_overlap([np.array([0, 1])], np.zeros(5, dtype=bool), 5)
    assert no_truth["pocket_iou"] == 0.0 and math.isnan(no_truth["coverage"])
    assert no_truth["best_pocket_iou"] == 0.0
    with pytest.raises(ValueError, match="range"):
        pocket_point_overlap([np.array([7])], np.array([1]), 5)
    with pytest.raises(ValueError, match="mask"):
        pocket_point_overlap([np.array([1])], np.ones(4, dtype=bool), 5)


# ------------------------------------------------------------------ original PockNet variant


def test_sas_point_variant():
    positive = np.array([[0.0, 0, 0], [8.0, 0, 0]])  # centroid (4, 0, 0)
    near_end = np.array([[0.0, 0, 3.0], FAR])
    out = sas_point_variant(near_end, positive)
    assert out["has_ground_truth"] is True
    assert out["sas_dca_at_1"] is True and out["sas_dca_distance"] == pytest.approx(3.0)
    assert out["sas_dcc_at_1"] is False and out["sas_dcc_distance"] == pytest.approx(5.0)
    # k counts pockets: the far pocket first, the good one second
    swapped = near_end[::-1]
    assert sas_point_variant(swapped, positive)["sas_dca_at_1"] is False
    assert sas_point_variant(swapped, positive, k=2)["sas_dca_at_2"] is True
    blank = sas_point_variant(near_end, np.zeros((0, 3)))
    assert blank["has_ground_truth"] is False and blank["sas_dca_at_1"] is False
    assert math.isnan(blank["sas_dca_distance"])
    assert sas_point_variant(np.zeros((0, 3)), positive)["sas_dca_at_1"] is False


def test_sas_variant_in_evaluate_counts_proteins_with_truth():
    positive = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    records = [
        {
            "protein": "a",
            "centres": np.array([[0.0, 0, 1]]),
            "ligands": [blob(0)],
            "positive_points": positive,
        },
        {"protein": "b", "centres": np.array([FAR]), "ligands": [blob(0)], "positive_points": positive},
        {"protein": "c", "centres": np.array([FAR]), "ligands": [], "positive_points": np.zeros((0, 3))},
    ]
    out = evaluate_proteins(records)
    assert out["n_sas_ground_truth"] == 2
    assert out["sas_dca_at_1"] == pytest.approx(0.5)
    assert out["sas_dcc_at_1"] == pytest.approx(0.5)
    assert "sas_dca_at_1" not in evaluate_proteins(
        [{k: v for k, v in records[0].items() if k != "positive_points"}]
    )
