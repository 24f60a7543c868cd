"""Structure reading: formats, chains, residue ids, ligands, and clear errors for bad input."""

import gzip
import re
import shutil
import time

import gemmi
import numpy as np
import pytest

from pdbtext import atom_line, write_pdb
from pocknet.errors import ConfigError, StructureError
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.structure.model_checks import densest_cell
from pocknet.structure.paths import structure_stem
from pocknet.structure.reader import load_structure
from pocknet.structure.records import residue_labels


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
    "no_data_block.cif": lambda src: b"#\n",  # was: IndexError from gemmi
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


# --- Malformed fields, odd but valid files, notes, size limits, piles of atoms ---------------------

ATOM_FIELDS = {  # field: (first column, last column), 1-based as in the PDB format
    "atom name": (13, 16),
    "alternate location": (17, 17),
    "residue name": (18, 20),
    "chain id": (22, 22),
    "insertion code": (27, 27),
}


def _src_lines(p2rank_test) -> list[bytes]:
    return (p2rank_test / "liganated" / "1a82a.pdb").read_bytes().splitlines(keepends=True)


def _first_atom(lines: list[bytes]) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(b"ATOM"))


def _with_columns(p2rank_test, first: int, last: int, value: bytes) -> tuple[bytes, int]:
    """1a82a.pdb with columns ``first..last`` of its 41st ATOM record replaced; also that line's number."""
    lines = _src_lines(p2rank_test)
    i = _first_atom(lines) + 40
    line = lines[i]
    lines[i] = line[: first - 1] + value.ljust(last - first + 1)[: last - first + 1] + line[last:]
    return b"".join(lines), i + 1


@pytest.mark.parametrize("field", sorted(ATOM_FIELDS))
def test_non_utf8_byte_in_an_atom_field_names_file_line_and_field(tmp_path, p2rank_test, field):
    first, last = ATOM_FIELDS[field]
    data, line = _with_columns(p2rank_test, first, last, b"\xe9" * (last - first + 1))
    path = tmp_path / "latin1.pdb"
    path.write_bytes(data)
    with pytest.raises(StructureError) as info:  # was: UnicodeDecodeError from gemmi's bindings
        load_structure(path)
    assert str(info.value).startswith(f"{path}: line {line}: non-ASCII byte 0xe9 in the {field}")


def test_non_ascii_outside_atom_records_is_fine(tmp_path, p2rank_test):
    lines = _src_lines(p2rank_test)
    path = tmp_path / "remark.pdb"
    path.write_bytes(b"REMARK   1 AUTHOR M\xfcller, J. \xe9t\xe9\n" + b"".join(lines))
    np.testing.assert_array_equal(
        load_structure(path).atoms.coords,
        load_structure(p2rank_test / "liganated" / "1a82a.pdb").atoms.coords,
    )


def test_blank_residue_number_names_file_and_line(tmp_path, p2rank_test):
    data, line = _with_columns(p2rank_test, 23, 26, b"    ")
    path = tmp_path / "blank.pdb"
    path.write_bytes(data)
    with pytest.raises(StructureError, match=rf"^{re.escape(str(path))}: line {line}: blank residue number"):
        load_structure(path)  # was: TypeError (gemmi reads the number as None)


def test_missing_residue_number_in_mmcif(tmp_path, cif_1a82a):
    lines = cif_1a82a.read_bytes().splitlines(keepends=True)
    header = [line.strip() for line in lines if line.startswith(b"_atom_site.")]
    i = next(k for k, line in enumerate(lines) if line.startswith(b"ATOM"))
    values = lines[i].split()
    values[header.index(b"_atom_site.auth_seq_id")] = b"?"
    lines[i] = b" ".join(values) + b"\n"
    path = tmp_path / "noseq.cif"
    path.write_bytes(b"".join(lines))
    with pytest.raises(
        StructureError, match=rf"^{re.escape(str(path))}: residue \w+ in chain A has no residue number"
    ):
        load_structure(path)


@pytest.mark.parametrize(
    "first, value, message",
    [
        (31, b"     nan", "x coordinate 'nan' is not a number"),
        (39, b"     inf", "y coordinate 'inf' is not a number"),
        (47, b"********", "z coordinate '********' overflowed its 8 columns"),  # gemmi: silently 0.0
        (31, b"        ", "x coordinate '' is not a number"),  # gemmi: silently 0.0
        (39, b"  12.3x5", "y coordinate '12.3x5' is not a number"),
    ],
)
def test_bad_coordinate_text_names_file_line_and_axis(tmp_path, p2rank_test, first, value, message):
    data, line = _with_columns(p2rank_test, first, first + 7, value)
    path = tmp_path / "coords.pdb"
    path.write_bytes(data)
    with pytest.raises(StructureError) as info:
        load_structure(path)
    assert str(info.value) == f"{path}: line {line}: {message}"


@pytest.mark.parametrize(
    "column, value", [("Cartn_x", b"nan"), ("Cartn_z", b"inf"), ("B_iso_or_equiv", b"nan")]
)
def test_non_finite_values_in_mmcif(tmp_path, cif_1a82a, column, value):
    lines = cif_1a82a.read_bytes().splitlines(keepends=True)
    header = [line.strip() for line in lines if line.startswith(b"_atom_site.")]
    i = next(k for k, line in enumerate(lines) if line.startswith(b"ATOM")) + 10
    values = lines[i].split()
    values[header.index(b"_atom_site." + column.encode())] = value
    lines[i] = b" ".join(values) + b"\n"
    path = tmp_path / "nan.cif"
    path.write_bytes(b"".join(lines))
    with pytest.raises(
        StructureError, match=rf"^{re.escape(str(path))}: atom \w+ of residue A_\d+ has a non-finite"
    ):
        load_structure(path)  # was: accepted, NaN coordinates or B-factors downstream


@pytest.fixture
def cif_1a82a(tmp_path, p2rank_test):
    """1a82a as mmCIF, written by gemmi."""
    st = gemmi.read_structure(str(p2rank_test / "liganated" / "1a82a.pdb"))
    st.setup_entities()
    path = tmp_path / "1a82a.cif"
    st.make_mmcif_document().write_file(str(path))
    return path


def test_files_without_a_final_newline_are_not_truncated(tmp_path, p2rank_test, cif_1a82a):
    reference = load_structure(p2rank_test / "liganated" / "1a82a.pdb")
    lines = [line for line in _src_lines(p2rank_test) if not line.startswith(b"TER")]
    pdb = tmp_path / "nonl.pdb"
    pdb.write_bytes(b"".join(lines).rstrip(b"\n"))  # ends in a complete HETATM record
    cif = tmp_path / "nonl.cif"
    cif.write_bytes(cif_1a82a.read_bytes().rstrip(b"\n"))  # ends in a complete atom_site row
    assert cif.read_bytes().splitlines()[-1].startswith(b"HETATM")
    for path in (pdb, cif):
        s = load_structure(path)  # was: "truncated file (last record incomplete)"
        np.testing.assert_array_equal(s.atoms.coords, reference.atoms.coords)
    assert load_structure(pdb).notes == (
        "no END record after the last ATOM/HETATM line: the file may be truncated",
    )


def test_a_record_cut_mid_line_is_truncated(tmp_path, p2rank_test):
    data = b"".join(line for line in _src_lines(p2rank_test) if not line.startswith(b"TER")).rstrip(b"\n")
    for cut in (3, 20, 40):  # element column gone; B-factor gone; coordinates cut
        path = tmp_path / "cut.pdb"
        path.write_bytes(data[:-cut])
        with pytest.raises(StructureError) as info:
            load_structure(path)
        assert str(info.value).startswith(f"{path}: ") and "truncated file" in str(info.value)


def test_leading_whitespace_is_not_empty(tmp_path, p2rank_test):
    path = tmp_path / "spaces.pdb"
    path.write_bytes(b" \n" * 5000 + (p2rank_test / "liganated" / "1a82a.pdb").read_bytes())
    assert len(load_structure(path).atoms) == 1692  # was: "file is empty" (only 4 KB looked at)
    blank = tmp_path / "blank.pdb"
    blank.write_bytes(b" \n\t\r\n" * 5000)
    with pytest.raises(StructureError, match="blank.pdb: file is empty"):
        load_structure(blank)


def test_pdb_cut_at_a_line_boundary_is_accepted_with_a_note(tmp_path, p2rank_test):
    lines = _src_lines(p2rank_test)
    half = tmp_path / "half.pdb"
    half.write_bytes(b"".join(lines[: len(lines) // 2]))
    s = load_structure(half)
    assert 0 < len(s.atoms) < 1692
    assert s.notes == ("no END record after the last ATOM/HETATM line: the file may be truncated",)
    ended = tmp_path / "ended.pdb"
    ended.write_bytes(b"".join(lines[: len(lines) // 2]) + b"END\n")
    assert load_structure(ended).notes == ()
    # P2Rank's dataset copies end with TER and no END: complete, no note
    assert load_structure(p2rank_test / "liganated" / "1a82a.pdb").notes == ()


def test_ca_only_model_gets_a_note(tmp_path, p2rank_test):
    lines = [line for line in _src_lines(p2rank_test) if line.startswith(b"ATOM") and line[12:16] == b" CA "]
    path = tmp_path / "ca.pdb"
    path.write_bytes(b"".join(lines) + b"END\n")
    s = load_structure(path)
    assert len(s.atoms) == len(s.residues) > 100
    assert s.notes == ("CA-only model: surface and descriptors are unreliable",)


def test_predict_file_carries_structure_notes(tmp_path, p2rank_test):
    from pocknet.predict.predictor import Predictor

    lines = _src_lines(p2rank_test)
    path = tmp_path / "half.pdb"
    path.write_bytes(b"".join(lines[: len(lines) // 2]))
    prediction = Predictor().predict_file(path)
    assert "no END record after the last ATOM/HETATM line: the file may be truncated" in prediction.notes


def _bomb(path, megabytes: int, head: bytes = b"") -> None:
    """A gzip of ``head`` plus ``megabytes`` MB of blank lines: ~1/1000 of that on disk."""
    block = (b" " * 79 + b"\n") * 13107  # ~1 MB
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(head)
        for _ in range(megabytes):
            out.write(block)


def test_decompression_bomb_is_refused_before_gemmi(tmp_path, p2rank_test, monkeypatch):
    path = tmp_path / "bomb.pdb.gz"
    _bomb(path, 50, (p2rank_test / "liganated" / "1a82a.pdb").read_bytes())
    assert path.stat().st_size < 1_000_000
    start = time.perf_counter()
    with pytest.raises(
        StructureError, match=rf"^{re.escape(str(path))}: decompresses to more than 10000000 bytes"
    ):
        load_structure(path, max_bytes=10_000_000)
    assert time.perf_counter() - start < 2.0  # stopped at the limit, not after inflating all of it
    monkeypatch.setenv("POCKNET_MAX_STRUCTURE_BYTES", "20000000")
    with pytest.raises(StructureError, match="decompresses to more than 20000000 bytes"):
        load_structure(path)
    monkeypatch.setenv("POCKNET_MAX_STRUCTURE_BYTES", "60000000")
    assert len(load_structure(path).atoms) == 1692
    monkeypatch.setenv("POCKNET_MAX_STRUCTURE_BYTES", "lots")
    with pytest.raises(ConfigError, match="POCKNET_MAX_STRUCTURE_BYTES"):
        load_structure(path)


def test_plain_file_over_the_limit(tmp_path, p2rank_test):
    src = p2rank_test / "liganated" / "1a82a.pdb"
    with pytest.raises(StructureError, match=r"1a82a\.pdb: larger than 1000 bytes"):
        load_structure(src, max_bytes=1000)


def test_corrupt_gzip_stream(tmp_path, p2rank_test):
    raw = bytearray(gzip.compress((p2rank_test / "liganated" / "1a82a.pdb").read_bytes()))
    raw[200:260] = bytes(60)  # damage the deflate data, keep the header
    path = tmp_path / "bad.pdb.gz"
    path.write_bytes(bytes(raw))
    with pytest.raises(StructureError, match=r"bad\.pdb\.gz: cannot read file"):
        load_structure(path)


@pytest.mark.parametrize("spread", [0.0, 0.4], ids=["coincident", "within-0.4A"])
def test_piles_of_atoms_are_refused_fast(tmp_path, p2rank_test, spread):
    n = 3000
    coords = np.random.default_rng(1).uniform(-spread, spread, (n, 3)) + 0.5
    base = (p2rank_test / "liganated" / "1a82a.pdb").read_text().replace("TER", "").splitlines(keepends=True)
    extra = [
        atom_line(k % 99999, "CA", "GLY", "B", 1 + k // 3, tuple(xyz), "C") for k, xyz in enumerate(coords)
    ]
    path = write_pdb(tmp_path / "pile.pdb", base + extra)
    start = time.perf_counter()
    with pytest.raises(StructureError) as info:  # was: accepted; featurising took GBs (3.7 GB at 1500 atoms)
        load_structure(path)
    assert time.perf_counter() - start < 3.0
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    if spread:
        assert "atoms within one 1 Å cube near" in message
    else:
        assert f"{n} atoms share one position (0.500, 0.500, 0.500); unplaced atoms? remove them" in message


def test_a_few_coincident_atoms_get_a_note(tmp_path, p2rank_test):
    base = (p2rank_test / "liganated" / "1a82a.pdb").read_text().replace("TER", "").splitlines(keepends=True)
    extra = [
        atom_line(5000 + k, name, "GLY", "B", 900, (0.0, 0.0, 0.0), name[0])
        for k, name in enumerate(("N", "CA", "C", "O"))
    ]
    s = load_structure(write_pdb(tmp_path / "origin.pdb", base + extra))
    assert s.notes == (
        "4 atoms share one position (0.000, 0.000, 0.000): unplaced atoms? their surface is meaningless",
    )


def test_real_structures_are_not_crowded(structure_1a82a):
    assert len(densest_cell(structure_1a82a.atoms.coords)) <= 3


def test_hydrogen_only_residue_is_not_a_residue(tmp_path, p2rank_test):
    """Found by fuzzing: a residue of hydrogens only was kept, empty, after hydrogens were removed."""
    lines = _src_lines(p2rank_test)
    i = _first_atom(lines)
    lines.insert(i, atom_line(0, "H", "GLY", "A", 0, (10.0, 40.0, 26.0), "H").encode())
    path = tmp_path / "h_only.pdb"
    path.write_bytes(b"".join(lines))
    s = load_structure(path)
    reference = load_structure(p2rank_test / "liganated" / "1a82a.pdb")
    np.testing.assert_array_equal(residue_labels(s.residues), residue_labels(reference.residues))
    np.testing.assert_array_equal(s.atoms.residue_index, reference.atoms.residue_index)
