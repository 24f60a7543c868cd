import subprocess
import sys

import numpy as np
import pytest
from Bio.PDB import PDBParser
from Bio.PDB.SASA import ShrakeRupley
from scipy.spatial import cKDTree

from pocknet.featurize import surface
from pocknet.featurize.radii import CDK_VDW_RADII, vdw_radii
from pocknet.featurize.surface import _chunks, _neighbour_bound, sas_area, sas_points, sphere_directions


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


def test_neighbour_bound_never_undercounts():
    rng = np.random.default_rng(0)
    coords = np.concatenate(
        [rng.uniform(-20, 20, (2000, 3)), np.zeros((50, 3)), rng.normal(5, 0.2, (100, 3))]
    )
    for radius in (0.05, 3.0, 7.1):
        true = cKDTree(coords).query_ball_point(coords, radius, return_length=True)
        assert np.all(_neighbour_bound(coords, radius) >= true)
    assert np.all(
        _neighbour_bound(np.array([[1e9, 0, 0], [0, 0, 0]]), 1.0) == 2
    )  # beyond the grid: worst case


def test_chunks_respect_the_pair_budget():
    bound = np.array([5, 5, 5, 30, 1, 1, 1, 1])
    ranges = _chunks(bound, max_pairs=10, max_len=3)
    assert ranges == [(0, 2), (2, 3), (3, 4), (4, 7), (7, 8)]
    assert [b for a, b in ranges][-1] == len(bound)


def test_bounded_chunks_give_identical_points(structure_1a82a, monkeypatch):
    atoms = structure_1a82a.atoms
    radii = vdw_radii(atoms.elements, atoms.names)
    reference = sas_points(atoms.coords, radii)
    monkeypatch.setattr(surface, "_MAX_PAIRS", 20_000)  # ~900 burial chunks instead of 5
    small = sas_points(atoms.coords, radii)
    np.testing.assert_array_equal(small.coords, reference.coords)
    np.testing.assert_array_equal(small.atom, reference.atom)
    np.testing.assert_array_equal(small.exposed_samples, reference.exposed_samples)


def test_chunked_merge_matches_the_single_query(structure_1a82a, monkeypatch):
    points = sas_points(structure_1a82a.atoms.coords, np.full(len(structure_1a82a.atoms), 1.7)).coords
    rng = np.random.default_rng(0)
    twins = points[rng.integers(0, len(points), 400)]
    points = np.concatenate([points, twins, twins + rng.normal(0, 0.02, twins.shape), np.zeros((300, 3))])
    reference = surface._merge_close(points, 0.05)
    monkeypatch.setattr(surface, "_MAX_PAIRS", 1_000)  # the path piles of coincident atoms take
    np.testing.assert_array_equal(surface._merge_close(points, 0.05), reference)


def test_coincident_atoms_use_bounded_memory():
    """800 atoms at one point: every sample pairs with all 800 atoms (and 800 twins when merging).

    Before the pair budget this peaked at ~850 MB (1 500 atoms: 3.7 GB); now at
    one chunk of pairs (~200 MB) above the interpreter's own ~80 MB.
    """
    # VmHWM of this process image; ru_maxrss would also count the forked test runner's
    # pre-exec peak (Linux keeps it across execve), which is ~600 MB once torch is imported.
    code = (
        "import numpy as np\n"
        "from pocknet.featurize.surface import sas_points\n"
        "s = sas_points(np.zeros((800, 3)), np.full(800, 1.7))\n"
        "hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(len(s), int(hwm.split()[1]) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    points, peak_mb = map(int, out.stdout.split())
    assert points == 42  # all 800 spheres coincide: one sphere's worth of points
    assert peak_mb < 450


def _samples(coords: np.ndarray, radii: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    expanded = np.asarray(radii, dtype=np.float64) + 1.6
    samples = (coords[:, None, :] + expanded[:, None, None] * sphere_directions(2)[None]).reshape(-1, 3)
    return samples, np.repeat(np.arange(len(coords), dtype=np.int32), 42), expanded


def test_nearest_atoms_pass_gives_the_exhaustive_mask_bit_for_bit(structure_1a82a):
    """The fast pass buries only what the exhaustive test buries, with the KD-tree's own distances."""
    rng = np.random.default_rng(1)
    atoms = structure_1a82a.atoms
    gas = rng.uniform(-8, 8, (300, 3))
    cases = [
        (atoms.coords, vdw_radii(atoms.elements, atoms.names)),  # a protein
        (gas, rng.choice([1.52, 1.55, 1.7, 1.8], len(gas))),  # random packing, mixed radii
        (np.concatenate([gas[:40], gas[:40], np.zeros((30, 3))]), np.r_[np.full(80, 1.7), np.linspace(1.5, 1.9, 30)]),
        (np.zeros((1, 3)), np.array([1.7])),  # twins and piles above; one and two atoms here
        (np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]]), np.array([1.7, 1.52])),
    ]
    for coords, radii in cases:
        samples, owner, expanded = _samples(np.asarray(coords, dtype=np.float64), radii)
        fast = surface._buried(samples, owner, coords, expanded)
        np.testing.assert_array_equal(fast, surface._buried_exhaustive(samples, owner, coords, expanded))
    buried, rest = surface._buried_by_nearest(*_samples(atoms.coords, cases[0][1])[:2], atoms.coords,
                                              cases[0][1] + 1.6)  # fmt: skip
    assert len(rest) < 0.1 * len(buried)  # the point of the pass: the exhaustive test sees < 10 % of samples


def test_burial_distances_are_the_kd_trees(structure_1a82a):
    """``sqrt((dx² + dy²) + dz²)`` in float64 is bit for bit what scipy's KD-tree reports (the premise above)."""
    atoms = structure_1a82a.atoms
    samples, _, expanded = _samples(atoms.coords, vdw_radii(atoms.elements, atoms.names))
    pairs = cKDTree(samples[::7]).sparse_distance_matrix(cKDTree(atoms.coords), expanded.max(), output_type="ndarray")
    d = samples[::7][pairs["i"]] - atoms.coords[pairs["j"]]
    ours = np.sqrt((d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1]) + d[:, 2] * d[:, 2])
    assert len(pairs) > 10_000
    np.testing.assert_array_equal(ours, pairs["v"])
