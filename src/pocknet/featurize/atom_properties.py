"""Per-atom property vectors behind P2Rank's 35 SAS-point descriptors.

P2Rank (Krivák & Hoksza, *J Cheminform* 10:39, 2018; https://github.com/rdk/p2rank, MIT licence)
describes every SAS point by a vector that is mostly a distance weighted sum of per-atom vectors.
This module builds those per-atom vectors, one row per atom in
:data:`~pocknet.featurize.descriptor_columns.DESCRIPTOR_NAMES` order; how they are aggregated onto
points is specified in :mod:`pocknet.featurize.descriptor_columns`. The code here is our own,
written from the facts in P2Rank's sources (file names are given for each fact).

Per-atom values (this module)
-----------------------------
Residue codes are first corrected as P2Rank does (``utils/PdbUtils.correctResidueCode``:
``MSE -> MET``, ``MEN -> ASN``).

* ``chem.hydrophobic`` ... ``chem.ionizable`` (17 columns): residue-level table
  (``features/implementation/chem/ChemDefaults.groovy``), shipped as ``data/residue_properties.csv``;
  every atom of a residue gets its residue's row, unknown residues get 0.
* ``chem.atoms``: 1 (plain count, see :mod:`~pocknet.featurize.descriptor_columns`). In P2Rank
  the atom value is 0 and the point value is overwritten by ``n``; the result is the same.
* ``chem.atomDensity``: 1 for every atom (``ChemVector.setFromResidueAtom``).
* ``chem.atomC`` / ``chem.atomO`` / ``chem.atomN``: 1 if the element is C / O / N; for any other
  element (S, SE, unknown ...) the first letter of the atom name decides instead
  (``ChemVector.forAtom``), so SD, SG and SE atoms are none of the three.
* ``chem.hDonorAtoms`` / ``chem.hAcceptorAtoms``: side-chain rules by residue and atom name
  (``ChemVector.setFromResidueAtom``), see :data:`CHEM_DONOR_ATOMS`, :data:`CHEM_ACCEPTOR_ATOMS`.
  Backbone N and O are *not* counted here (they are in the VolSite flags).
* ``volsite.*`` (6 flags): VolSite pharmacophore rules by atom and residue name
  (``features/implementation/volsite/VolSitePharmacophore.java``); the first matching rule sets
  the flags, see :data:`VOLSITE_RULES`. Backbone C/CA/CB are hydrophobic, N donor, O acceptor and
  OXT anion in any residue, so unknown residues still get flags.
* ``bfactor.bfactor``: the atom's B-factor (``BfactorFeature``); 0 if no B-factors are given.
* ``atom_table.*`` (3 columns): values for ``RES.ATOM`` from ``data/atomic_properties.csv``
  (``table/AtomTableFeature.groovy``; Khazanov & Carlson 2013, Kapcha & Rossky 2014), 0 for atom
  types not in the table (OXT, non-standard residues), **then raised to the power
  ``atom_table_feat_pow = 2`` without keeping the sign** (``atom_table_feat_keep_sgn = false``).
  So ``atomicHydrophobicity`` (+1 / -1 in the table) becomes 1 for every tabulated atom type: at
  the point level it is a weighted count of tabulated atoms, not a hydrophobicity.
  ``atom_table_pow=1`` gives the raw table values.
* ``protrusion.protrusion``: 0 (point-level column).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from pocknet.featurize.descriptor_columns import (
    ATOM_TABLE_COLUMNS,
    DESCRIPTOR_NAMES,
    RESIDUE_TABLE_COLUMNS,
    VOLSITE_FLAGS,
)
from pocknet.featurize.property_tables import atom_table, residue_table

__all__ = [
    "ATOM_TABLE_POW",
    "RESIDUE_CODE_CORRECTIONS",
    "CHEM_DONOR_ATOMS",
    "CHEM_ACCEPTOR_ATOMS",
    "VOLSITE_RULES",
    "volsite_flags",
    "atom_property_matrix",
]

_COL = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}

#: Exponent P2Rank applies to atom-table values (sign not kept).
ATOM_TABLE_POW: float = 2.0

#: Residue-code corrections applied before any lookup (``PdbUtils.correctResidueCode``).
RESIDUE_CODE_CORRECTIONS: Mapping[str, str] = MappingProxyType({"MSE": "MET", "MEN": "ASN"})

# ---------------------------------------------------------------------------------------------
# Atom-level rules
# ---------------------------------------------------------------------------------------------

#: Side-chain hydrogen-bond donor atoms counted in ``chem.hDonorAtoms`` (``ChemVector``).
CHEM_DONOR_ATOMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ARG": frozenset({"NE", "NH1", "NH2"}),
        "ASN": frozenset({"ND2"}),
        "GLN": frozenset({"NE2"}),
        "HIS": frozenset({"ND1", "NE2"}),
        "LYS": frozenset({"NZ"}),
        "SER": frozenset({"OG"}),
        "THR": frozenset({"OG1"}),
        "TRP": frozenset({"NE1"}),
        "TYR": frozenset({"OH"}),
    }
)

#: Side-chain hydrogen-bond acceptor atoms counted in ``chem.hAcceptorAtoms`` (``ChemVector``).
CHEM_ACCEPTOR_ATOMS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "ASN": frozenset({"OD1"}),
        "ASP": frozenset({"OD1", "OD2"}),
        "GLN": frozenset({"OE1"}),
        "GLU": frozenset({"OE1", "OE2"}),
        "HIS": frozenset({"ND1", "NE2"}),
        "SER": frozenset({"OG"}),
        "THR": frozenset({"OG1"}),
        "TYR": frozenset({"OH"}),
    }
)

_HIS = frozenset({"HIS", "HID", "HIE"})
_AROM = frozenset({"PHE", "TRP", "TYR"})


def _fs(*names: str) -> frozenset[str]:
    return frozenset(names)


# (atom names, residue names or None = any residue, flags set); the first rule whose atom name
# and residue both match decides, later rules are not consulted. Order and content follow
# VolSitePharmacophore.getAtomProperties. P2Rank tests membership by substring of a
# comma-separated list; with set membership the results agree for all standard atom names and
# all 3-letter residue codes (see docs/p2rank_features.md, section 4).
#: VolSite pharmacophore rules: ``(atom names, residues or None for any, flags)``, first match wins.
VOLSITE_RULES: tuple[tuple[frozenset[str], frozenset[str] | None, frozenset[str]], ...] = (
    (_fs("C"), None, _fs("hydrophobic")),
    (_fs("CA", "CB"), None, _fs("hydrophobic")),  # not for a residue named CA (calcium)
    (_fs("CD"), _fs("ARG", "GLN", "GLU", "LYS", "PRO"), _fs("hydrophobic")),
    (_fs("CD1"), _fs("ILE", "LEU"), _fs("hydrophobic")),
    (_fs("CD1"), _AROM, _fs("aromatic")),
    (_fs("CD2"), _fs("LEU"), _fs("hydrophobic")),
    (_fs("CD2"), _AROM, _fs("aromatic")),
    (_fs("CD2"), _HIS, _fs("aromatic")),
    (_fs("CE"), _fs("LYS", "MET"), _fs("hydrophobic")),
    (_fs("CE1"), _HIS, _fs("aromatic")),
    (_fs("CE1"), _fs("PHE", "TYR"), _fs("aromatic")),
    (_fs("CE2"), _AROM, _fs("aromatic")),
    (_fs("CE3"), _fs("TRP"), _fs("aromatic")),
    (
        _fs("CG"),
        _fs("ARG", "ASN", "ASP", "CYS", "CYX", "GLN", "GLU", "LEU", "LYS", "MET", "PRO"),
        _fs("hydrophobic"),
    ),
    (_fs("CG"), _HIS | _AROM, _fs("aromatic")),
    (_fs("CG1"), _fs("ILE", "VAL"), _fs("hydrophobic")),
    (_fs("CG2"), _fs("ILE", "THR", "VAL"), _fs("hydrophobic")),
    (_fs("CH2"), _fs("TRP"), _fs("aromatic")),
    (_fs("CZ"), _fs("ARG"), _fs("hydrophobic")),
    (_fs("CZ"), _fs("PHE", "TYR"), _fs("aromatic")),
    (_fs("CZ2", "CZ3"), _fs("TRP"), _fs("aromatic")),
    (_fs("N"), None, _fs("donor")),
    (_fs("ND1"), _HIS, _fs("donor", "acceptor")),
    (_fs("ND2"), _fs("ASN"), _fs("donor")),
    (_fs("NE"), _fs("ARG", "LYS"), _fs("cation")),
    (_fs("NE1"), _fs("TRP"), _fs("donor")),
    (_fs("NE2"), _fs("GLN"), _fs("donor")),
    (_fs("NE2"), _HIS, _fs("donor", "acceptor")),
    (_fs("NH1", "NH2"), _fs("ARG"), _fs("cation")),
    (_fs("NZ"), _fs("LYS"), _fs("cation")),
    (_fs("O"), None, _fs("acceptor")),
    (_fs("OD1", "OD2"), _fs("ASP"), _fs("anion")),
    (_fs("OD1"), _fs("ASN"), _fs("acceptor")),
    (_fs("OE1"), _fs("GLN"), _fs("acceptor")),
    (_fs("OE1", "OE2"), _fs("GLU"), _fs("anion")),
    (_fs("OG"), _fs("SER"), _fs("donor", "acceptor")),
    (_fs("OG1"), _fs("THR"), _fs("donor", "acceptor")),
    (_fs("OH"), _fs("TYR"), _fs("donor", "acceptor")),
    (_fs("OXT"), None, _fs("anion")),
    (_fs("SD", "SG"), _fs("CYS", "CYX"), _fs("acceptor")),
    (_fs("SD", "SG"), _fs("MET"), _fs("hydrophobic")),
    (_fs("FE", "MG", "MN", "ZN", "CO"), None, _fs("cation")),
)


def volsite_flags(atom_name: str, residue_name: str) -> tuple[float, ...]:
    """VolSite pharmacophore flags of one atom.

    Parameters
    ----------
    atom_name : str
        Atom name, e.g. ``"NZ"``.
    residue_name : str
        Residue code after P2Rank's corrections, e.g. ``"LYS"``.

    Returns
    -------
    tuple[float, ...]
        Six 0/1 values in :data:`VOLSITE_FLAGS` order.
    """
    name = atom_name.strip().upper()
    res = residue_name.strip().upper()
    for names, residues, flags in VOLSITE_RULES:
        if name not in names:
            continue
        if residues is None:
            if name in ("CA", "CB") and res == "CA":
                continue
        elif res not in residues:
            continue
        return tuple(1.0 if f in flags else 0.0 for f in VOLSITE_FLAGS)
    return (0.0,) * len(VOLSITE_FLAGS)


# ---------------------------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------------------------

_RES_SLICE = slice(_COL["chem.hydrophobic"], _COL["chem.ionizable"] + 1)
_VS_SLICE = slice(_COL["volsite.vsAromatic"], _COL["volsite.vsDonor"] + 1)
_AT_SLICE = slice(_COL["atom_table.apRawValids"], _COL["atom_table.atomicHydrophobicity"] + 1)
# per (residue, atom) pair block: hDonorAtoms, hAcceptorAtoms, 6 volsite flags, 3 table values
_PAIR_WIDTH = 2 + len(VOLSITE_FLAGS) + len(ATOM_TABLE_COLUMNS)


def _as_str_array(values: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-D, got shape {arr.shape}")
    return np.char.upper(np.char.strip(arr.astype(str)))


def _pair_values(residue: str, atom: str, table: Mapping[str, tuple[float, ...]]) -> list[float]:
    donor = 1.0 if atom in CHEM_DONOR_ATOMS.get(residue, ()) else 0.0
    acceptor = 1.0 if atom in CHEM_ACCEPTOR_ATOMS.get(residue, ()) else 0.0
    raw = table.get(f"{residue}.{atom}", (0.0,) * len(ATOM_TABLE_COLUMNS))
    return [donor, acceptor, *volsite_flags(atom, residue), *raw]


def atom_property_matrix(
    residue_names: np.ndarray,
    atom_names: np.ndarray,
    elements: np.ndarray,
    bfactors: np.ndarray | None = None,
    *,
    atom_table_pow: float = ATOM_TABLE_POW,
    atom_table_keep_sign: bool = False,
) -> np.ndarray:
    """Per-atom vectors in :data:`DESCRIPTOR_NAMES` order.

    Parameters
    ----------
    residue_names : numpy.ndarray
        ``[n]`` residue codes (``"ALA"``); ``MSE``/``MEN`` are mapped to ``MET``/``ASN``.
        Unknown codes get 0 in residue-table, side-chain donor/acceptor and atom-table columns.
    atom_names : numpy.ndarray
        ``[n]`` atom names (``"CA"``, ``"OG1"``).
    elements : numpy.ndarray
        ``[n]`` element symbols (``"C"``, ``"SE"``); decide ``chem.atomC/O/N``.
    bfactors : numpy.ndarray, optional
        ``[n]`` B-factors (or pLDDT for predicted models). ``None`` puts 0 in ``bfactor.bfactor``,
        for models trained without B-factors.
    atom_table_pow : float, default 2.0
        Exponent applied to atom-table values, as P2Rank's ``atom_table_feat_pow``; 1 keeps the
        raw table values.
    atom_table_keep_sign : bool, default False
        Re-apply the sign after the power (P2Rank's ``atom_table_feat_keep_sgn``).

    Returns
    -------
    numpy.ndarray
        ``[n, 35]`` float32. Weighted columns hold the atom value to be summed with weight
        ``1 - d/6``; ``chem.atoms`` holds 1 (sum with weight 1 = neighbour count);
        ``protrusion.protrusion`` holds 0 (computed per point). See
        :mod:`pocknet.featurize.descriptor_columns`.

    Raises
    ------
    ValueError
        If the inputs are not 1-D arrays of equal length.
    """
    res = _as_str_array(residue_names, "residue_names")
    atoms = _as_str_array(atom_names, "atom_names")
    elem = _as_str_array(elements, "elements")
    n = res.shape[0]
    if atoms.shape[0] != n or elem.shape[0] != n:
        raise ValueError(
            f"length mismatch: residue_names {n}, atom_names {atoms.shape[0]}, "
            f"elements {elem.shape[0]}"
        )
    if bfactors is not None:
        bf = np.asarray(bfactors, dtype=np.float64)
        if bf.shape != (n,):
            raise ValueError(f"bfactors must have shape ({n},), got {bf.shape}")

    out = np.zeros((n, len(DESCRIPTOR_NAMES)), dtype=np.float32)
    if n == 0:
        return out

    # residue codes as P2Rank corrects them
    uniq_res, res_inv = np.unique(res, return_inverse=True)
    uniq_res = np.array([RESIDUE_CODE_CORRECTIONS.get(r, r) for r in uniq_res.tolist()], dtype=str)
    res_inv = res_inv.reshape(-1)

    # residue-level table, looked up once per distinct residue code
    rtab = residue_table()
    zeros_res = (0.0,) * len(RESIDUE_TABLE_COLUMNS)
    res_block = np.array([rtab.get(r, zeros_res) for r in uniq_res.tolist()], dtype=np.float64)
    out[:, _RES_SLICE] = res_block[res_inv]

    # (residue, atom)-level rules, evaluated once per distinct pair
    keys = np.char.add(np.char.add(uniq_res[res_inv], "."), atoms)
    uniq_keys, key_inv = np.unique(keys, return_inverse=True)
    key_inv = key_inv.reshape(-1)
    atab = atom_table()
    pair_block = np.empty((uniq_keys.shape[0], _PAIR_WIDTH), dtype=np.float64)
    for i, key in enumerate(uniq_keys.tolist()):
        r, _, a = key.partition(".")
        pair_block[i] = _pair_values(r, a, atab)

    raw = pair_block[:, 2 + len(VOLSITE_FLAGS) :]
    if atom_table_pow != 1.0:
        if atom_table_keep_sign:
            raw = np.sign(raw) * np.abs(raw) ** atom_table_pow
        else:
            with np.errstate(invalid="ignore"):
                raw = np.power(raw, atom_table_pow)
    pair_block[:, 2 + len(VOLSITE_FLAGS) :] = raw

    per_atom = pair_block[key_inv]
    out[:, _COL["chem.hDonorAtoms"]] = per_atom[:, 0]
    out[:, _COL["chem.hAcceptorAtoms"]] = per_atom[:, 1]
    out[:, _VS_SLICE] = per_atom[:, 2 : 2 + len(VOLSITE_FLAGS)]
    out[:, _AT_SLICE] = per_atom[:, 2 + len(VOLSITE_FLAGS) :]

    # element classes, with P2Rank's atom-name fallback for elements other than C, O, N
    is_c = elem == "C"
    is_o = elem == "O"
    is_n = elem == "N"
    other = ~(is_c | is_o | is_n)
    out[:, _COL["chem.atomC"]] = is_c | (other & np.char.startswith(atoms, "C"))
    out[:, _COL["chem.atomO"]] = is_o | (other & np.char.startswith(atoms, "O"))
    out[:, _COL["chem.atomN"]] = is_n | (other & np.char.startswith(atoms, "N"))

    out[:, _COL["chem.atoms"]] = 1.0
    out[:, _COL["chem.atomDensity"]] = 1.0
    if bfactors is not None:
        out[:, _COL["bfactor.bfactor"]] = bf
    # protrusion.protrusion stays 0: it is a point-level column
    return out
