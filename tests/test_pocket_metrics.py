"""Pocket-level metrics (SCIENCE.md §8) on hand-made cases with known answers."""

import math

import numpy as np
import pytest

from pocknet.errors import ConfigError
from pocknet.metrics.pockets import (
    STANDARD_CUTOFF,
    dca,
    dcc,
    evaluate_proteins,
    ligand_success,
    protein_success_at_k,
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


def ranks(centres, ligands, criterion: str = "dca", cutoff: float = STANDARD_CUTOFF) -> list[int]:
    """Each ligand's first-hit rank, as :func:`evaluate_proteins` reports it for one protein."""
    out = evaluate_proteins([{"protein": "p", "centres": centres, "ligands": ligands}], cutoff=cutoff)
    return out["per_protein"][0][f"ranks_{criterion}"]


# ------------------------------------------------------------------ DCA / DCC


def test_dca_dcc_values_and_long_ligand():
    ligand = rod()  # centroid (10, 0, 0)
    centres = np.array([[0.0, 0.0, 1.0], [10.0, 0.0, 3.0]])
    assert dca(centres, ligand) == pytest.approx([1.0, 3.0])
    assert dcc(centres, ligand) == pytest.approx([math.hypot(10, 1), 3.0])
    # near one end of a long ligand: found by DCA, missed by DCC
    assert ranks(centres[:1], [ligand], "dca") == [1]
    assert ranks(centres[:1], [ligand], "dcc") == [0]


def test_cutoff_is_inclusive():
    ligand = np.array([[4.0, 0, 0], [5.0, 0, 0], [6.0, 0, 0], [7.0, 0, 0], [8.0, 0, 0]])
    centre = np.zeros((1, 3))
    assert ranks(centre, [ligand], "dca", cutoff=4.0) == [1]
    assert ranks(centre, [ligand], "dca", cutoff=3.999) == [0]
    assert ranks(centre, [ligand], "dcc", cutoff=6.0) == [1]


def test_shape_and_criterion_errors():
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        dca(np.zeros((3, 2)), blob(0))
    with pytest.raises(ValueError, match="no atoms"):
        ranks(np.zeros((1, 3)), [np.zeros((0, 3))])
    with pytest.raises(ConfigError, match="criterion"):
        record = {"protein": "p", "centres": np.zeros((1, 3)), "ligands": [blob(0)]}
        success_curve([record], "dcx")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-finite"):
        dcc(np.array([[np.nan, 0, 0]]), blob(0))


# ------------------------------------------------------------------ ranks


def test_one_pocket_hits_two_ligands():
    ligands = [blob(1.5), blob(0, 1.5)]
    centres = np.array([[0.0, 0, 0], FAR])
    out = evaluate_proteins([{"protein": "p", "centres": centres, "ligands": ligands}])
    assert out["n_ligands"] == 2
    assert out["dca_top_n"] == 1.0  # 2 / 2
    assert out["per_protein"][0]["ranks_dca"] == [1, 1]


def test_ties_take_the_lower_rank():
    ligand = [blob(0)]
    same = np.array([[1.0, 0, 0], [1.0, 0, 0], FAR])  # two pockets with the same centre (tied score)
    assert ranks(same, ligand) == [1]
    later = np.array([FAR, [1.0, 0, 0], [0.5, 0, 0]])  # found by ranks 2 and 3 → 2, even if 3 is closer
    assert ranks(later, ligand) == [2]


def test_no_pockets_means_rank_zero():
    assert ranks(np.zeros((0, 3)), [blob(0), blob(9)]) == [0, 0]
    assert ranks([], [blob(0)]) == [0]


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
            assert ranks(centres, ligands, criterion) == expected


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
            found = np.array(ranks(r["centres"], r["ligands"], criterion, cutoff))
            hits += int(ligand_success(found, len(r["ligands"]), 0).sum())
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
