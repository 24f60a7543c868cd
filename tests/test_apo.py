"""Apo evaluation: residue matching, Kabsch superposition, ligand transfer (BU48 apo/holo)."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pocknet.evaluate.apo import kabsch, match_residues, transfer_ligands
from pocknet.errors import PockNetError
from pocknet.structure.reader import load_structure
from pocknet.structure.records import Residues


def random_rigid(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return Rotation.random(random_state=seed).as_matrix(), rng.uniform(-30, 30, 3)


# ------------------------------------------------------------------ kabsch


def test_kabsch_recovers_random_rigid_motion():
    rng = np.random.default_rng(0)
    mobile = rng.normal(0, 10, (50, 3))
    for seed in range(5):
        rotation, shift = random_rigid(seed)
        target = mobile @ rotation.T + shift
        fit = kabsch(mobile, target)
        assert np.linalg.det(fit.rotation) == pytest.approx(1.0)
        assert fit.rotation == pytest.approx(rotation, abs=1e-10)
        assert fit.translation == pytest.approx(shift, abs=1e-9)
        assert fit.rmsd < 1e-9
        assert fit.kept.all()
        assert fit.apply(mobile) == pytest.approx(target, abs=1e-9)
        r, t, rmsd, kept = fit  # unpacks like a tuple
        assert r is fit.rotation and t is fit.translation and rmsd == fit.rmsd and kept.all()


def test_kabsch_never_reflects():
    rng = np.random.default_rng(1)
    mobile = rng.normal(0, 5, (30, 3))
    mirrored = mobile * np.array([1.0, 1.0, -1.0])  # a reflection would fit exactly
    fit = kabsch(mobile, mirrored)
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)
    assert fit.rotation @ fit.rotation.T == pytest.approx(np.eye(3), abs=1e-12)
    assert fit.rmsd > 1.0  # the best proper rotation cannot undo a mirror image
    # planar points: the reflection ambiguity (zero singular value) must still give the rotation
    planar = np.column_stack([rng.normal(0, 5, (20, 2)), np.zeros(20)])
    rotation, shift = random_rigid(7)
    fit = kabsch(planar, planar @ rotation.T + shift)
    assert np.linalg.det(fit.rotation) == pytest.approx(1.0)
    assert fit.rotation == pytest.approx(rotation, abs=1e-9)


def test_refinement_ignores_a_displaced_domain():
    rng = np.random.default_rng(2)
    mobile = rng.normal(0, 8, (100, 3))
    rotation, shift = random_rigid(3)
    target = mobile @ rotation.T + shift
    domain = np.zeros(100, dtype=bool)
    domain[70:] = True  # 30 % of the pairs moved as a block (hinge motion)
    hinge = Rotation.from_euler("z", 35, degrees=True).as_matrix()
    pivot = target[domain].mean(axis=0) + np.array([6.0, 0, 0])
    target[domain] = (target[domain] - pivot) @ hinge.T + pivot + np.array([0, 4.0, 0])
    plain = kabsch(mobile, target)
    assert plain.rmsd > 1.0
    fit = kabsch(mobile, target, refine=True)
    assert fit.kept.tolist() == (~domain).tolist()
    assert fit.rmsd < 1e-8
    assert fit.rotation == pytest.approx(rotation, abs=1e-9)
    assert fit.translation == pytest.approx(shift, abs=1e-8)


def test_refinement_keeps_a_good_noisy_fit_whole():
    rng = np.random.default_rng(4)
    mobile = rng.normal(0, 10, (200, 3))
    rotation, shift = random_rigid(5)
    target = mobile @ rotation.T + shift + rng.normal(0, 0.3, (200, 3))
    fit = kabsch(mobile, target, refine=True)
    assert fit.kept.all()  # all deviations are well under the 2 Å floor


def test_seeded_fit_grows_to_the_seeds_rigid_body():
    rng = np.random.default_rng(6)
    mobile = rng.normal(0, 8, (100, 3))
    body_a, body_b = np.arange(100) < 60, np.arange(100) >= 60
    (ra, ta), (rb, tb) = random_rigid(8), random_rigid(9)
    target = np.where(body_a[:, None], mobile @ ra.T + ta, mobile @ rb.T + tb)
    seed = np.zeros(100, dtype=bool)
    seed[60:70] = True  # ten pairs of the smaller body
    fit = kabsch(mobile, target, refine=True, start=seed)
    assert fit.kept.tolist() == body_b.tolist()
    assert fit.rotation == pytest.approx(rb, abs=1e-9)
    # from all pairs, the larger body wins
    assert kabsch(mobile, target, refine=True).kept.tolist() == body_a.tolist()


def test_kabsch_input_errors():
    with pytest.raises(ValueError, match="at least 3"):
        kabsch(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"\[n, 3\]"):
        kabsch(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        kabsch(np.full((4, 3), np.nan), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least 3"):
        kabsch(np.ones((5, 3)), np.ones((5, 3)), start=np.array([1, 1, 0, 0, 0], dtype=bool))


# ------------------------------------------------------------------ match_residues


def toy_residues(sequence: str, missing_ca: tuple[int, ...] = (), chains: str | None = None) -> Residues:
    n = len(sequence)
    ca = np.column_stack([np.arange(n) * 3.8, np.zeros(n), np.zeros(n)])
    ca[list(missing_ca)] = np.nan
    return Residues(
        chain=np.array(list(chains) if chains else ["A"] * n, dtype="<U4"),
        number=np.arange(1, n + 1, dtype=np.int32),
        icode=np.full(n, "", dtype="<U1"),
        name=np.full(n, "ALA", dtype="<U3"),
        one_letter=np.array(list(sequence), dtype="<U1"),
        ca=ca,
    )


def test_match_residues_with_insertion_and_missing_ca():
    apo = toy_residues("ACDEFGHIKLMNPQRSTVWY", missing_ca=(4,))
    holo = toy_residues("ACDEFGHIKL" + "WWW" + "MNPQRSTVWY")
    apo_rows, holo_rows = match_residues(apo, holo)
    expected_apo = [i for i in range(20) if i != 4]
    expected_holo = [i if i < 10 else i + 3 for i in expected_apo]
    assert apo_rows.tolist() == expected_apo
    assert holo_rows.tolist() == expected_holo


def test_match_residues_mismatches_kept_and_chains_concatenated():
    # a point mutation stays paired; two chains are matched as one concatenated sequence
    apo = toy_residues("MKTAYIAKQRQISFVKSHFSRQ" + "GSHMLEDPV", chains="A" * 22 + "B" * 9)
    holo = toy_residues("MKTAYIAKQRWISFVKSHFSRQ" + "GSHMLEDPV", chains="A" * 22 + "B" * 9)
    apo_rows, holo_rows = match_residues(apo, holo)
    assert apo_rows.tolist() == holo_rows.tolist() == list(range(31))


def test_one_chain_apo_against_a_holo_dimer_stays_on_one_chain():
    # Holo chains differ from the apo chain by one mutation each, at opposite ends. With
    # penalised end gaps, jumping from chain A to chain B mid-way costs what the overhang
    # costs and dodges both mutations, scrambling the pairs; free end gaps keep one chain.
    chain = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    holo_a = chain[:-3] + "G" + chain[-2:]
    holo_b = chain[:2] + "G" + chain[3:]
    apo = toy_residues(chain)
    holo = toy_residues(holo_a + holo_b, chains="A" * len(chain) + "B" * len(chain))
    apo_rows, holo_rows = match_residues(apo, holo)
    assert len(apo_rows) == len(chain)
    assert np.all(np.diff(holo_rows) == 1)  # consecutive residues of a single holo chain


def test_match_residues_too_few_pairs_names_both_files():
    apo = toy_residues("ACDEF", missing_ca=(0, 1, 2))
    holo = toy_residues("ACDEF")
    with pytest.raises(PockNetError, match=r"apo\.pdb vs holo\.pdb.*only 2"):
        match_residues(apo, holo, apo_name="apo.pdb", holo_name="holo.pdb")


# ------------------------------------------------------------------ transfer_ligands


def transformed_copy(source: Path, dest: Path, rotation: np.ndarray, shift: np.ndarray) -> Path:
    """The same PDB with every ATOM/HETATM coordinate moved by ``x @ R.T + t``."""
    lines = []
    for line in source.read_text().splitlines(keepends=True):
        if line.startswith(("ATOM", "HETATM")):
            xyz = np.array([float(line[30:38]), float(line[38:46]), float(line[46:54])])
            x, y, z = xyz @ rotation.T + shift
            line = f"{line[:30]}{x:8.3f}{y:8.3f}{z:8.3f}{line[54:]}"
        lines.append(line)
    dest.write_text("".join(lines))
    return dest


@pytest.fixture(scope="module")
def bu48(datasets: Path) -> Path:
    return datasets / "bu48"


def test_transfer_recovers_a_known_rigid_motion(bu48: Path, tmp_path: Path):
    holo = load_structure(bu48 / "holo" / "1a6w.pdb")
    rotation = Rotation.from_euler("xyz", [40, -75, 120], degrees=True).as_matrix()
    shift = np.array([25.0, -40.0, 12.5])
    apo = load_structure(transformed_copy(holo.path, tmp_path / "moved.pdb", rotation, shift))
    ligands, stats = transfer_ligands(apo, holo)
    expected = [lig.coords @ rotation.T + shift for lig in holo.relevant_ligands]
    assert len(ligands) == len(expected) == 1
    for got, want in zip(ligands, expected):
        np.testing.assert_allclose(got, want, atol=1e-3)
    assert stats["pairs"] == len(holo.residues) == stats["kept_pairs"]
    assert stats["rmsd"] < 1e-2
    assert stats["identity"] == 1.0
    assert stats["ligand_names"] == ["NIP"] and stats["dropped_ligands"] == []
    # the single whole-structure fit gives the same here
    whole, _ = transfer_ligands(apo, holo, site_radius=None)
    np.testing.assert_allclose(whole[0], expected[0], atol=1e-3)


def test_transfer_real_bu48_pair(bu48: Path):
    apo = load_structure(bu48 / "apo" / "1a6u.pdb")
    holo = load_structure(bu48 / "holo" / "1a6w.pdb")
    assert not apo.relevant_ligands
    ligands, stats = transfer_ligands(apo, holo)
    assert stats["pairs"] >= 50 and stats["kept_pairs"] >= 50
    assert stats["rmsd"] < 2.0
    assert stats["ligand_names"] == ["NIP"] and len(ligands) == 1
    assert all(r < 2.0 for r in stats["ligand_rmsd"])
    assert ligands[0].shape == holo.relevant_ligands[0].coords.shape


def test_ligands_of_chains_missing_from_apo_are_dropped(bu48: Path):
    # 5cna is a tetramer with one MMA per chain; the apo 2ctv file holds one chain
    apo = load_structure(bu48 / "apo" / "2ctv.pdb")
    holo = load_structure(bu48 / "holo" / "5cna.pdb")
    ligands, stats = transfer_ligands(apo, holo)
    assert len(ligands) == 1 and stats["ligand_names"] == ["MMA"]
    assert stats["dropped_ligands"] == ["MMA"] * 3
    # without site fits every ligand is moved, three of them far from the monomer
    everything, stats_all = transfer_ligands(apo, holo, site_radius=None)
    assert len(everything) == 4 and stats_all["dropped_ligands"] == []
