import numpy as np
import pytest
from Bio.PDB import PDBParser
from Bio.PDB.SASA import ShrakeRupley

from pocknet.atom_properties import CDK_VDW_RADII, vdw_radii
from pocknet.surface import sas_area, sas_points, sphere_directions


@pytest.mark.parametrize("level, count", [(1, 12), (2, 42), (3, 162)])
def test_icosphere_sizes_and_unit_length(level, count):
    dirs = sphere_directions(level)
    assert dirs.shape == (count, 3)
    np.testing.assert_allclose(np.linalg.norm(dirs, axis=1), 1.0, atol=1e-12)
    # no duplicate directions
    assert len(np.unique(dirs.round(6), axis=0)) == count
    # CDK's orientation (P2Rank's surface): icosahedron vertices are cyclic permutations of (±0.851, ±0.526, 0)
    assert np.any(np.all(np.isclose(dirs, [0.8506508084, 0.5257311121, 0.0]), axis=1))


def test_isolated_atom_keeps_every_direction_at_expanded_radius():
    surf = sas_points(np.zeros((1, 3)), np.array([1.7]), probe=1.6, tessellation=2)
    assert len(surf) == 42
    np.testing.assert_allclose(np.linalg.norm(surf.coords, axis=1), 3.3)
    assert sas_area(surf, np.array([1.7])) == pytest.approx(4 * np.pi * 3.3**2)


def test_points_inside_neighbours_expanded_sphere_are_removed():
    coords = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    radii = np.array([1.7, 1.7])
    surf = sas_points(coords, radii, probe=1.6)
    assert 42 < len(surf) < 84
    dist = np.linalg.norm(surf.coords[:, None, :] - coords[None], axis=2)
    # every point lies on its own sphere and outside (or on) the other's expanded sphere
    assert np.all(dist.min(axis=1) >= 3.3 - 1e-6)
    # the bare-vdW test of the original code would keep points at 1.7 < d < 3.3: none here
    assert not np.any((dist > 1.7) & (dist < 3.3 - 1e-6))


def test_close_points_merge():
    # two identical atoms: every point is duplicated, the duplicates merge
    coords = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.01]])
    surf = sas_points(coords, np.array([1.7, 1.7]), merge_distance=0.05)
    assert len(surf) <= 42 + 10


def test_sas_area_matches_biopython_shrake_rupley(p2rank_test, structure_1a82a):
    atoms = structure_1a82a.atoms
    radii = vdw_radii(atoms.elements, atoms.names)
    ours = sas_area(sas_points(atoms.coords, radii, probe=1.6, tessellation=2), radii, probe=1.6)

    model = PDBParser(QUIET=True).get_structure("1a82a", p2rank_test / "liganated" / "1a82a.pdb")[0]
    for chain in list(model):
        for res in list(chain):
            if res.id[0] != " ":  # protein residues only, as ours
                chain.detach_child(res.id)
        if len(chain) == 0:
            model.detach_child(chain.id)
    assert sum(1 for _ in model.get_atoms()) == len(atoms)
    radii_dict = {k.capitalize(): v for k, v in CDK_VDW_RADII.items()}
    ShrakeRupley(probe_radius=1.6, n_points=200, radii_dict=radii_dict).compute(model, level="A")
    reference = sum(a.sasa for a in model.get_atoms())
    assert ours == pytest.approx(reference, rel=0.03)
