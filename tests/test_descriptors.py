"""Descriptor aggregation checked on a hand-made four-atom structure."""

import numpy as np
import pytest

from pocknet.featurize.descriptors import DESCRIPTOR_NAMES, DescriptorConfig, exposed_atoms, point_descriptors
from pocknet.structure.records import ProteinAtoms


def _atoms() -> tuple[ProteinAtoms, np.ndarray]:
    # distances from the point at the origin: 3 (w=1/2), 4 (w=1/3), 5 (w=1/6, not exposed), 8
    coords = np.array([[3.0, 0, 0], [0, 4.0, 0], [0, 0, 5.0], [8.0, 0, 0]])
    atoms = ProteinAtoms(
        coords=coords,
        elements=np.array(["C", "O", "N", "C"]),
        names=np.array(["CB", "OG", "NZ", "CA"]),
        residue_index=np.arange(4, dtype=np.int32),
        bfactors=np.array([10.0, 20.0, 30.0, 40.0], dtype=np.float32),
        serials=np.arange(1, 5, dtype=np.int32),
    )
    return atoms, np.array(["ALA", "SER", "LYS", "GLY"])


POINTS = np.array([[0.0, 0.0, 0.0], [100.0, 100.0, 100.0]])


def test_exposed_atoms_are_within_4_1_of_a_point():
    atoms, _ = _atoms()
    assert exposed_atoms(POINTS, atoms.coords, 4.1).tolist() == [True, True, False, False]


def test_hand_computed_descriptors():
    atoms, residues = _atoms()
    out = point_descriptors(POINTS, atoms, residues, DescriptorConfig())
    assert out.shape == (2, 35) and out.dtype == np.float32
    d = dict(zip(DESCRIPTOR_NAMES, out[0].astype(float)))
    w_cb, w_og = 0.5, 1.0 / 3.0  # 1 - 3/6, 1 - 4/6; LYS NZ is not exposed, GLY CA beyond 6 Å
    expected = {
        "chem.atoms": 2.0,
        "chem.atomDensity": w_cb + w_og,
        "chem.hydrophatyIndex": w_cb * 1.8 + w_og * -0.8,  # Kyte-Doolittle ALA, SER
        "chem.hydrophobic": w_cb * 1.0,
        "chem.hydroxyl": w_og * 1.0,
        "chem.atomC": w_cb,
        "chem.atomO": w_og,
        "chem.atomN": 0.0,
        "chem.hDonorAtoms": w_og,  # SER OG
        "chem.hAcceptorAtoms": w_og,
        "chem.posCharge": 0.0,  # LYS would add 1/6 if its NZ were exposed
        "volsite.vsHydrophobic": w_cb,
        "volsite.vsDonor": w_og,
        "volsite.vsAcceptor": w_og,
        "volsite.vsCation": 0.0,
        "bfactor.bfactor": w_cb * 10.0 + w_og * 20.0,
        "atom_table.apRawValids": w_cb * 1.551729901**2 + w_og * 2.0452038**2,
        "atom_table.apRawInvalids": w_cb * 1.052749719**2 + w_og * 1.427272727**2,
        "protrusion.protrusion": 4.0,  # all heavy atoms within 10 Å, buried or not
    }
    for name, value in expected.items():
        assert d[name] == pytest.approx(value, rel=1e-5, abs=1e-6), name
    # the far point has no neighbours at all
    np.testing.assert_array_equal(out[1], 0.0)


def test_options_change_only_their_columns():
    atoms, residues = _atoms()
    base = point_descriptors(POINTS, atoms, residues, DescriptorConfig())
    no_b = point_descriptors(POINTS, atoms, residues, DescriptorConfig(bfactor=False))
    col = DESCRIPTOR_NAMES.index("bfactor.bfactor")
    assert no_b[0, col] == 0.0
    np.testing.assert_array_equal(np.delete(no_b, col, axis=1), np.delete(base, col, axis=1))
    wide = point_descriptors(POINTS, atoms, residues, DescriptorConfig(exposed_distance=5.5))
    # with LYS NZ exposed it joins the sums at weight 1/6
    d = dict(zip(DESCRIPTOR_NAMES, wide[0].astype(float)))
    assert d["chem.atoms"] == 3.0
    assert d["chem.atomN"] == pytest.approx(1.0 / 6.0)


def test_descriptors_on_a_real_protein_are_finite_and_plausible(features_1a82a):
    x = features_1a82a.descriptors
    assert x.shape == (features_1a82a.n_points, 35)
    assert np.isfinite(x).all()
    atoms = x[:, DESCRIPTOR_NAMES.index("chem.atoms")]
    protrusion = x[:, DESCRIPTOR_NAMES.index("protrusion.protrusion")]
    assert atoms.min() >= 1  # every SAS point has its own atom within 6 Å
    assert np.all(protrusion >= atoms)
    assert np.array_equal(atoms, np.round(atoms))


def test_protrusion_counts_every_atom_within_10_angstrom(structure_1a82a):
    """The protrusion tree's larger leaves change no count (a count does not depend on the tree's shape)."""
    from scipy.spatial import cKDTree

    from pocknet.featurize.radii import vdw_radii
    from pocknet.featurize.surface import sas_points

    atoms = structure_1a82a.atoms
    points = sas_points(atoms.coords, vdw_radii(atoms.elements, atoms.names)).coords
    names = structure_1a82a.residues.name[atoms.residue_index]
    protrusion = point_descriptors(points, atoms, names)[:, DESCRIPTOR_NAMES.index("protrusion.protrusion")]
    for tree in (cKDTree(atoms.coords), cKDTree(atoms.coords, leafsize=1)):  # scipy's default leaves; one atom each
        np.testing.assert_array_equal(protrusion, tree.query_ball_point(points, r=10.0, return_length=True))
