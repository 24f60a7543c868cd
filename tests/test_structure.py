"""Structure reading: formats, chains, residue ids, ligands, and clear errors for bad input."""

import gzip
import shutil

import numpy as np
import pytest

from pdbtext import atom_line, write_pdb
from pocknet.errors import StructureError
from pocknet.features import FeaturizeConfig, featurize_file
from pocknet.structure import load_structure, residue_labels, structure_stem


def _sorted_atoms(structure):
    res = structure.residues
    key = np.char.add(residue_labels(res)[structure.atoms.residue_index], structure.atoms.names)
    order = np.argsort(key, kind="stable")
    return key[order], structure.atoms.coords[order]


def test_1a82a_atp_is_relevant(structure_1a82a):
    s = structure_1a82a
    assert s.name == "1a82a" and s.residues.chain_ids() == ["A"]
    relevant = {lig.name for lig in s.relevant_ligands}
    assert "ATP" in relevant
    atp = next(lig for lig in s.ligands if lig.name == "ATP")
    assert len(atp.coords) == 31
    assert not np.isin(s.atoms.elements, ["H", "D"]).any()


def test_pdb_and_mmcif_of_1fbl_agree(p2rank_test):
    cfg = FeaturizeConfig()
    pdb = featurize_file(p2rank_test / "1fbl.pdb", cfg)
    cif = featurize_file(p2rank_test / "1fbl.cif", cfg)
    a, b = load_structure(p2rank_test / "1fbl.pdb"), load_structure(p2rank_test / "1fbl.cif")
    np.testing.assert_array_equal(a.atoms.names, b.atoms.names)
    np.testing.assert_array_equal(a.atoms.coords, b.atoms.coords)
    np.testing.assert_array_equal(residue_labels(a.residues), residue_labels(b.residues))
    np.testing.assert_array_equal(pdb.points, cif.points)
    np.testing.assert_array_equal(pdb.descriptors, cif.descriptors)
    np.testing.assert_array_equal(pdb.labels, cif.labels)
    assert [lig.name for lig in a.relevant_ligands] == [lig.name for lig in b.relevant_ligands] == ["HTA"]


def test_gzipped_mmcif_matches_pdb_of_2w83(p2rank_test):
    a = load_structure(p2rank_test / "2W83.pdb")
    b = load_structure(p2rank_test / "2W83.cif.gz")
    assert structure_stem(p2rank_test / "2W83.cif.gz") == "2W83"
    ka, ca = _sorted_atoms(a)
    kb, cb = _sorted_atoms(b)
    np.testing.assert_array_equal(ka, kb)
    np.testing.assert_allclose(ca, cb, atol=1e-3)
    assert a.residues.sequences() == b.residues.sequences()


def test_chain_selection(p2rank_test):
    full = load_structure(p2rank_test / "2W83.pdb")
    only_b = load_structure(p2rank_test / "2W83.pdb", chains=["B"])
    assert only_b.residues.chain_ids() == ["B"]
    assert len(only_b.atoms) == int(np.sum(full.residues.chain[full.atoms.residue_index] == "B"))
    with pytest.raises(StructureError, match=r"2W83\.pdb: chain\(s\) Z not found"):
        load_structure(p2rank_test / "2W83.pdb", chains=["Z"])


def test_synthetic_pdb_rules(tmp_path):
    """MSE→MET, insertion codes, hydrogens, altlocs, waters, a bonded modified residue, a peptide ligand."""
    lines = []
    serial = iter(range(1, 1000))
    # residue 1 GLY, 1A (insertion) ALA with an H and two altloc CB, 2 MSE (HETATM), 3 SEP bonded
    x = 0.0
    backbone = lambda res, num, het=False, icode=" ": [  # noqa: E731
        atom_line(next(serial), "N", res, "A", num, (x + 0.0, 0, 0), "N", het, icode),
        atom_line(next(serial), "CA", res, "A", num, (x + 1.46, 0, 0), "C", het, icode),
        atom_line(next(serial), "C", res, "A", num, (x + 2.0, 0.5, 0), "C", het, icode),
        atom_line(next(serial), "O", res, "A", num, (x + 2.0, 1.7, 0), "O", het, icode),
    ]
    lines += backbone("GLY", 1)
    x = 3.25  # peptide bond C(i)–N(i+1) ≈ 1.35 Å
    lines += backbone("ALA", 1, icode="A")
    lines.append(atom_line(next(serial), "CB", "ALA", "A", 1, (x + 1.5, -1.5, 0), "C", icode="A", altloc="A"))
    lines.append(atom_line(next(serial), "CB", "ALA", "A", 1, (x + 1.5, -1.5, 0.5), "C", icode="A", altloc="B"))
    lines.append(atom_line(next(serial), "H", "ALA", "A", 1, (x - 0.5, -0.8, 0), "H", icode="A"))
    x += 3.25
    lines += backbone("MSE", 2, het=True)
    lines.append(atom_line(next(serial), "SE", "MSE", "A", 2, (x + 1.5, -1.8, 0), "SE", het=True))
    x += 3.25
    lines += backbone("SEP", 3, het=True)
    lines.append(atom_line(next(serial), "O", "HOH", "A", 101, (x, 3.5, 3.0), "O", het=True))
    # a HETATM peptide (two ALA) not bonded to the chain: a ligand, merged into one
    for k, num in enumerate((201, 202)):
        base = (x - 4 + 3.3 * k, 0, 3.6)
        lines.append(atom_line(next(serial), "N", "ALA", "B", num, (base[0], 0, 3.6), "N", het=True))
        lines.append(atom_line(next(serial), "CA", "ALA", "B", num, (base[0] + 1.4, 0, 3.6), "C", het=True))
        lines.append(atom_line(next(serial), "C", "ALA", "B", num, (base[0] + 2.0, 0, 3.6), "C", het=True))
    s = load_structure(write_pdb(tmp_path / "toy.pdb", lines))
    assert residue_labels(s.residues).tolist() == ["A_1", "A_1A", "A_2", "A_3"]
    assert s.residues.name.tolist() == ["GLY", "ALA", "MET", "SEP"]
    assert s.residues.sequences() == {"A": "GAMS"}
    assert "H" not in s.atoms.elements
    assert int(np.sum(s.atoms.names == "CB")) == 1  # first altloc only
    assert s.atoms.names[s.atoms.elements == "SE"].tolist() == ["SD"]
    assert [lig.codes for lig in s.ligands] == [("ALA", "ALA")]
    assert s.ligands[0].residue_ids == ("B_201", "B_202")


BAD_INPUTS = {
    "empty.pdb": lambda src: b"",
    "junk.pdb": lambda src: bytes(range(256)) * 20,
    "truncated.pdb": lambda src: src.read_bytes()[:20000],
    "truncated.cif": lambda src: (src.parents[1] / "1fbl.cif").read_bytes()[:30000],
    "words.pdb": lambda src: b"hello\nthis is not a structure\n",
    "ligand_only.pdb": lambda src: b"".join(
        line + b"\n" for line in src.read_bytes().splitlines() if line.startswith(b"HETATM")
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_raise_one_clear_error(tmp_path, p2rank_test, name):
    path = tmp_path / name
    path.write_bytes(BAD_INPUTS[name](p2rank_test / "liganated" / "1a82a.pdb"))
    with pytest.raises(StructureError) as info:
        load_structure(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_and_missing_file(tmp_path, p2rank_test):
    whole = (p2rank_test / "apoholo" / "holo" / "1ef0.cif.gz").read_bytes()
    cut = tmp_path / "cut.cif.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(StructureError, match="cut.cif.gz: cannot read file"):
        load_structure(cut)
    with pytest.raises(StructureError, match="no such structure file"):
        load_structure(tmp_path / "absent.pdb")


def test_gzipped_pdb_reads_like_plain(tmp_path, p2rank_test):
    src = p2rank_test / "liganated" / "1a82a.pdb"
    gz = tmp_path / "1a82a.pdb.gz"
    with open(src, "rb") as fin, gzip.open(gz, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    a, b = load_structure(src), load_structure(gz)
    assert b.name == "1a82a"
    np.testing.assert_array_equal(a.atoms.coords, b.atoms.coords)
