"""Per-atom P2Rank property vectors, checked by hand against P2Rank's tables and rules."""

from __future__ import annotations

import numpy as np
import pytest

from pocknet.featurize.atom_properties import atom_property_matrix
from pocknet.featurize.descriptor_columns import (
    ATOM_TABLE_COLUMNS,
    DESCRIPTOR_NAMES,
    PLAIN_COUNT_COLUMNS,
    PLAIN_COUNT_INDEX,
    POINT_COLUMNS,
    POINT_INDEX,
    RESIDUE_TABLE_COLUMNS,
    VOLSITE_FLAGS,
)
from pocknet.featurize.property_tables import residue_table
from pocknet.featurize.radii import vdw_radii

N_COLS = 35


def _row(res: str, atom: str, element: str, bfactor: float = 0.0, **kw) -> dict[str, float]:
    m = atom_property_matrix(
        np.array([res]), np.array([atom]), np.array([element]), np.array([bfactor]), **kw
    )
    return dict(zip(DESCRIPTOR_NAMES, m[0].tolist()))


def test_names_and_column_classes():
    assert len(DESCRIPTOR_NAMES) == N_COLS
    assert DESCRIPTOR_NAMES[0] == "chem.hydrophobic"
    assert DESCRIPTOR_NAMES[2] == "chem.hydrophatyIndex"
    assert DESCRIPTOR_NAMES[17] == "chem.atoms"
    assert DESCRIPTOR_NAMES[23] == "chem.hAcceptorAtoms"
    assert DESCRIPTOR_NAMES[24:30] == (
        "volsite.vsAromatic",
        "volsite.vsCation",
        "volsite.vsAnion",
        "volsite.vsHydrophobic",
        "volsite.vsAcceptor",
        "volsite.vsDonor",
    )
    assert DESCRIPTOR_NAMES[30:] == (
        "protrusion.protrusion",
        "bfactor.bfactor",
        "atom_table.apRawValids",
        "atom_table.apRawInvalids",
        "atom_table.atomicHydrophobicity",
    )
    assert PLAIN_COUNT_COLUMNS == ("chem.atoms",)
    assert POINT_COLUMNS == ("protrusion.protrusion",)
    assert PLAIN_COUNT_INDEX == (17,) and POINT_INDEX == (30,)


def test_shape_dtype_and_constant_columns():
    res = np.array(["ALA", "GLY", "XYZ"])
    atoms = np.array(["CA", "N", "C1"])
    els = np.array(["C", "N", "C"])
    m = atom_property_matrix(res, atoms, els, np.array([10.0, 20.0, 30.0]))
    assert m.shape == (3, N_COLS)
    assert m.dtype == np.float32
    col = DESCRIPTOR_NAMES.index
    np.testing.assert_array_equal(m[:, col("chem.atoms")], 1.0)
    np.testing.assert_array_equal(m[:, col("chem.atomDensity")], 1.0)
    np.testing.assert_array_equal(m[:, col("protrusion.protrusion")], 0.0)
    np.testing.assert_array_equal(m[:, col("bfactor.bfactor")], [10.0, 20.0, 30.0])


def test_empty_input():
    e = np.array([], dtype=str)
    m = atom_property_matrix(e, e, e, np.array([]))
    assert m.shape == (0, N_COLS) and m.dtype == np.float32


def test_lys_nz_donor_cation_positive():
    r = _row("LYS", "NZ", "N")
    assert r["chem.hDonorAtoms"] == 1.0
    assert r["chem.hAcceptorAtoms"] == 0.0
    assert r["volsite.vsCation"] == 1.0
    assert r["volsite.vsDonor"] == 0.0  # VolSite calls NZ a cation, not a donor
    assert r["chem.posCharge"] == 1.0 and r["chem.negCharge"] == 0.0
    assert r["chem.basic"] == 2.0  # ARG 3, LYS 2, HIS 1
    assert r["chem.hBondDonor"] == 1.0
    assert r["chem.hydrophilic"] == 1.0 and r["chem.hydrophobic"] == 0.0
    assert r["chem.hydrophatyIndex"] == pytest.approx(-3.9)
    assert r["chem.atomN"] == 1.0 and r["chem.atomC"] == 0.0


def test_asp_od1_acceptor_anion_negative():
    r = _row("ASP", "OD1", "O")
    assert r["chem.hAcceptorAtoms"] == 1.0
    assert r["chem.hDonorAtoms"] == 0.0
    assert r["volsite.vsAnion"] == 1.0
    assert r["volsite.vsAcceptor"] == 0.0
    assert r["chem.negCharge"] == 1.0 and r["chem.posCharge"] == 0.0
    assert r["chem.acidic"] == 1.0 and r["chem.hBondAcceptor"] == 1.0
    assert r["chem.atomO"] == 1.0


def test_phe_cz_aromatic_hydrophobic():
    r = _row("PHE", "CZ", "C")
    assert r["volsite.vsAromatic"] == 1.0
    assert r["volsite.vsHydrophobic"] == 0.0
    assert r["chem.hydrophobic"] == 1.0
    assert r["chem.aromatic"] == 1.0
    assert r["chem.hydrophatyIndex"] == pytest.approx(2.8)
    assert r["chem.atomC"] == 1.0


def test_residue_table_values():
    assert _row("ILE", "CB", "C")["chem.hydrophatyIndex"] == pytest.approx(4.5)
    assert _row("ARG", "CA", "C")["chem.hydrophatyIndex"] == pytest.approx(-4.5)
    his = _row("HIS", "CA", "C")
    assert his["chem.hydrophobic"] == 0.0 and his["chem.hydrophilic"] == 0.0
    assert his["chem.posCharge"] == 1.0 and his["chem.hBondDonorAcceptor"] == 1.0
    # P2Rank's HB_DONOR table spells Tyr "TRY": TYR is no hBondDonor
    tyr = _row("TYR", "OH", "O")
    assert tyr["chem.hBondDonor"] == 0.0 and tyr["chem.hBondDonorAcceptor"] == 1.0
    assert tyr["chem.hDonorAtoms"] == 1.0 and tyr["chem.hAcceptorAtoms"] == 1.0
    assert _row("CYS", "SG", "S")["chem.sulfur"] == 1.0
    pro = _row("PRO", "CD", "C")
    assert pro["chem.aliphatic"] == 1.0 and pro["chem.hydrophilic"] == 1.0


def test_residue_table_is_complete():
    table = residue_table()
    assert len(table) == 20
    assert all(len(v) == len(RESIDUE_TABLE_COLUMNS) for v in table.values())


def test_backbone_volsite_and_no_chem_donor():
    n = _row("GLY", "N", "N")
    assert n["volsite.vsDonor"] == 1.0 and n["chem.hDonorAtoms"] == 0.0
    o = _row("GLY", "O", "O")
    assert o["volsite.vsAcceptor"] == 1.0 and o["chem.hAcceptorAtoms"] == 0.0
    assert _row("GLY", "OXT", "O")["volsite.vsAnion"] == 1.0
    assert _row("PRO", "N", "N")["volsite.vsDonor"] == 1.0  # as in VolSite
    assert _row("MET", "SD", "S")["volsite.vsHydrophobic"] == 1.0
    assert _row("CYS", "SG", "S")["volsite.vsAcceptor"] == 1.0
    his = _row("HIS", "NE2", "N")
    assert his["volsite.vsDonor"] == 1.0 and his["volsite.vsAcceptor"] == 1.0
    assert _row("ARG", "CZ", "C")["volsite.vsHydrophobic"] == 1.0


def test_atom_table_raw_values_match_csv():
    r = _row("ALA", "CB", "C", atom_table_pow=1.0)
    assert r["atom_table.apRawValids"] == pytest.approx(1.551729901, rel=1e-6)
    assert r["atom_table.apRawInvalids"] == pytest.approx(1.052749719, rel=1e-6)
    assert r["atom_table.atomicHydrophobicity"] == -1.0


def test_atom_table_default_is_squared_like_p2rank():
    r = _row("ALA", "CB", "C")
    assert r["atom_table.apRawValids"] == pytest.approx(1.551729901**2, rel=1e-6)
    assert r["atom_table.apRawInvalids"] == pytest.approx(1.052749719**2, rel=1e-6)
    assert r["atom_table.atomicHydrophobicity"] == 1.0  # (-1)^2, sign not kept
    signed = _row("ALA", "CB", "C", atom_table_keep_sign=True)
    assert signed["atom_table.atomicHydrophobicity"] == -1.0


def test_unknown_residue_zero_tables_but_flags_kept():
    r = _row("UNK", "CA", "C", 7.5)
    for name in RESIDUE_TABLE_COLUMNS:
        assert r[f"chem.{name}"] == 0.0
    for name in ATOM_TABLE_COLUMNS:
        assert r[f"atom_table.{name}"] == 0.0
    assert r["chem.hDonorAtoms"] == 0.0 and r["chem.hAcceptorAtoms"] == 0.0
    assert r["chem.atomC"] == 1.0
    assert r["volsite.vsHydrophobic"] == 1.0  # CA is hydrophobic in any residue
    assert r["chem.atoms"] == 1.0 and r["chem.atomDensity"] == 1.0
    assert r["bfactor.bfactor"] == 7.5


def test_unknown_atom_name_in_known_residue():
    r = _row("LYS", "XX1", "C", atom_table_pow=1.0)
    assert r["chem.basic"] == 2.0  # residue-level values still apply
    assert r["atom_table.apRawValids"] == 0.0
    assert all(r[f"volsite.vs{f[0].upper()}{f[1:]}"] == 0.0 for f in VOLSITE_FLAGS)


def test_mse_is_treated_as_met():
    mse = _row("MSE", "CE", "C")
    met = _row("MET", "CE", "C")
    assert mse == met


def test_element_fallback_to_atom_name():
    # element C/O/N decides; for any other element the first letter of the name does
    assert _row("MET", "SD", "S")["chem.atomC"] == 0.0
    se = _row("MET", "SE", "SE")
    assert se["chem.atomC"] == se["chem.atomO"] == se["chem.atomN"] == 0.0
    x = _row("ALA", "CB", "X")
    assert x["chem.atomC"] == 1.0


def test_vectorised_matches_single_rows():
    res = np.array(["LYS", "ASP", "PHE", "ALA", "UNK", "LYS", "ASP"])
    atoms = np.array(["NZ", "OD1", "CZ", "CB", "CA", "NZ", "OD2"])
    els = np.array(["N", "O", "C", "C", "C", "N", "O"])
    bf = np.arange(7, dtype=np.float32)
    m = atom_property_matrix(res, atoms, els, bf)
    for i in range(len(res)):
        single = atom_property_matrix(res[i : i + 1], atoms[i : i + 1], els[i : i + 1], bf[i : i + 1])
        np.testing.assert_array_equal(m[i], single[0])


def test_no_bfactors_gives_zero_column():
    m = atom_property_matrix(np.array(["ALA"]), np.array(["CA"]), np.array(["C"]), None)
    assert m[0, DESCRIPTOR_NAMES.index("bfactor.bfactor")] == 0.0


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        atom_property_matrix(np.array(["ALA", "GLY"]), np.array(["CA"]), np.array(["C"]), None)
    with pytest.raises(ValueError):
        atom_property_matrix(np.array(["ALA"]), np.array(["CA"]), np.array(["C"]), np.zeros(2))


def test_vdw_radii():
    r = vdw_radii(np.array(["C", "N", "O", "S", "SE", "X"]), np.array(["CA", "N", "O", "SG", "SE", "NZ"]))
    np.testing.assert_allclose(r, [1.70, 1.60, 1.55, 1.80, 1.90, 1.60])
