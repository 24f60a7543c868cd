"""Per-atom property vectors behind P2Rank's 35 SAS-point descriptors.

P2Rank (Krivák & Hoksza, *J Cheminform* 10:39, 2018; https://github.com/rdk/p2rank, MIT licence)
describes every solvent-accessible-surface (SAS) point by a vector that is mostly a distance
weighted sum of per-atom vectors. This module builds those per-atom vectors; the aggregation onto
points is done elsewhere and is specified exactly below so that it can be written generically from
:data:`WEIGHTED_COLUMNS`, :data:`PLAIN_COUNT_COLUMNS` and :data:`POINT_COLUMNS`. The code here is
our own, written from the facts in P2Rank's sources (file names are given for each fact).

Point-level definition (P2Rank default config, ``distro/config/default.groovy``)
---------------------------------------------------------------------------------
For a SAS point ``p`` let ``N(p)`` be the *exposed* protein atoms ``a`` with ``|p - a| <= 6 Å``
(``neighbourhood_radius = 6``) and ``w(d) = 1 - d / 6`` (``weight_function = "INV"``,
``features/weight/WeightFun.groovy``); ``w`` runs from 1 at the atom centre to 0 at 6 Å.
``PrankFeatureExtractor.calcSasFeatVectorFromAtomVectors`` then sets, per column:

* :data:`WEIGHTED_COLUMNS` (33 columns): ``x_p = sum_{a in N(p)} w(|p - a|) * x_a`` where ``x_a`` is
  this module's matrix entry. ``average_feat_vectors = false`` in the default config, so there is
  **no** division by the neighbour count or the weight sum. Consequences worth knowing:
  ``chem.atomDensity`` (``x_a = 1``) becomes ``sum w``; ``bfactor.bfactor`` is ``sum w * B``, not a
  mean B-factor; every residue-table column is a weighted count of neighbouring atoms of such
  residues.
* :data:`PLAIN_COUNT_COLUMNS` (``chem.atoms``): ``|N(p)|``, the plain number of neighbourhood atoms
  (P2Rank overwrites the summed value with ``n``). The matrix holds 1 there, so
  ``sum_{a in N(p)} 1 * x_a`` (weight 1) gives the count.
* :data:`POINT_COLUMNS` (``protrusion.protrusion``): not atom-derived; the matrix holds 0. P2Rank's
  ``ProtrusionFeature`` counts protein heavy atoms within ``protrusion_radius = 10 Å`` (``<=``) of
  the point, buried atoms included. (It searches a cached "deep layer" = protein atoms within
  ``max(10, pair_hist_radius = 6) = 10 Å`` of an exposed atom, which in practice is every atom that
  can lie within 10 Å of a SAS point.)
* If ``N(p)`` is empty P2Rank only logs a warning: all atom-derived columns are then 0.

*Exposed atoms* are protein heavy atoms within ``solvent_radius + surface_additional_cutoff =
1.6 + 2.5 = 4.1 Å`` (``<=``) of at least one SAS point (``geom/Surface.computeExposedAtoms``).
Protein atoms are the non-hydrogen atoms of the polymer-chain residues (``domain/Protein``).

Per-atom values (this module)
-----------------------------
Residue codes are first corrected as P2Rank does (``utils/PdbUtils.correctResidueCode``:
``MSE -> MET``, ``MEN -> ASN``).

* ``chem.hydrophobic`` ... ``chem.ionizable`` (17 columns): residue-level table
  (``features/implementation/chem/ChemDefaults.groovy``), shipped as ``data/residue_properties.csv``;
  every atom of a residue gets its residue's row, unknown residues get 0.
* ``chem.atoms``: 1 (plain count, see above). In P2Rank the atom value is 0 and the point value is
  overwritten by ``n``; the result is the same.
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

SAS geometry facts (for the code that builds points; documented in ``docs/p2rank_features.md``)
are exported as constants: :data:`SOLVENT_RADIUS`, :data:`SAS_TESSELLATION`,
:data:`SAS_CONSOLIDATE_DISTANCE`, :data:`CDK_VDW_RADII` and :func:`vdw_radii`.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

import numpy as np

__all__ = [
    "DESCRIPTOR_NAMES",
    "ATOM_FEATURE_NAMES",
    "RESIDUE_TABLE_COLUMNS",
    "ATOM_TABLE_COLUMNS",
    "WEIGHTED_COLUMNS",
    "PLAIN_COUNT_COLUMNS",
    "POINT_COLUMNS",
    "WEIGHTED_INDEX",
    "PLAIN_COUNT_INDEX",
    "POINT_INDEX",
    "NEIGHBOURHOOD_RADIUS",
    "PROTRUSION_RADIUS",
    "SOLVENT_RADIUS",
    "SURFACE_ADDITIONAL_CUTOFF",
    "EXPOSED_ATOM_CUTOFF",
    "SAS_TESSELLATION",
    "SAS_CONSOLIDATE_DISTANCE",
    "ATOM_TABLE_POW",
    "RESIDUE_CODE_CORRECTIONS",
    "CHEM_DONOR_ATOMS",
    "CHEM_ACCEPTOR_ATOMS",
    "VOLSITE_FLAGS",
    "VOLSITE_RULES",
    "CDK_VDW_RADII",
    "DEFAULT_VDW_RADIUS",
    "inv_weight",
    "residue_table",
    "atom_table",
    "volsite_flags",
    "vdw_radii",
    "atom_property_matrix",
]

# ---------------------------------------------------------------------------------------------
# Column names and aggregation classes
# ---------------------------------------------------------------------------------------------

#: Residue-table columns of P2Rank's ``chem`` feature, in ``ChemVector.HEADER`` order.
RESIDUE_TABLE_COLUMNS: tuple[str, ...] = (
    "hydrophobic",
    "hydrophilic",
    "hydrophatyIndex",
    "aliphatic",
    "aromatic",
    "sulfur",
    "hydroxyl",
    "basic",
    "acidic",
    "amide",
    "posCharge",
    "negCharge",
    "hBondDonor",
    "hBondAcceptor",
    "hBondDonorAcceptor",
    "polar",
    "ionizable",
)

#: Columns P2Rank's default config takes from the atomic property table.
ATOM_TABLE_COLUMNS: tuple[str, ...] = ("apRawValids", "apRawInvalids", "atomicHydrophobicity")

#: The six VolSite pharmacophore flags, in ``VolsiteFeature`` header order.
VOLSITE_FLAGS: tuple[str, ...] = ("aromatic", "cation", "anion", "hydrophobic", "acceptor", "donor")

#: All 35 SAS-point descriptor columns in P2Rank's order (``./prank print features``).
DESCRIPTOR_NAMES: tuple[str, ...] = (
    *(f"chem.{c}" for c in RESIDUE_TABLE_COLUMNS),
    "chem.atoms",
    "chem.atomDensity",
    "chem.atomC",
    "chem.atomO",
    "chem.atomN",
    "chem.hDonorAtoms",
    "chem.hAcceptorAtoms",
    *(f"volsite.vs{f[0].upper()}{f[1:]}" for f in VOLSITE_FLAGS),
    "protrusion.protrusion",
    "bfactor.bfactor",
    *(f"atom_table.{c}" for c in ATOM_TABLE_COLUMNS),
)

#: Point-level columns computed from geometry, not from atom vectors (matrix holds 0).
POINT_COLUMNS: tuple[str, ...] = ("protrusion.protrusion",)

#: Atom-derived columns aggregated as a plain count over the neighbourhood (matrix holds 1).
PLAIN_COUNT_COLUMNS: tuple[str, ...] = ("chem.atoms",)

#: Atom-derived columns in descriptor order: all 35 minus :data:`POINT_COLUMNS` (34 names).
ATOM_FEATURE_NAMES: tuple[str, ...] = tuple(n for n in DESCRIPTOR_NAMES if n not in POINT_COLUMNS)

#: Atom-derived columns aggregated as ``sum w(d) * x_atom`` with ``w(d) = 1 - d/6`` (33 names).
WEIGHTED_COLUMNS: tuple[str, ...] = tuple(
    n for n in ATOM_FEATURE_NAMES if n not in PLAIN_COUNT_COLUMNS
)

#: Indices into :data:`DESCRIPTOR_NAMES` (and the matrix columns) of each aggregation class.
WEIGHTED_INDEX: tuple[int, ...] = tuple(DESCRIPTOR_NAMES.index(n) for n in WEIGHTED_COLUMNS)
PLAIN_COUNT_INDEX: tuple[int, ...] = tuple(DESCRIPTOR_NAMES.index(n) for n in PLAIN_COUNT_COLUMNS)
POINT_INDEX: tuple[int, ...] = tuple(DESCRIPTOR_NAMES.index(n) for n in POINT_COLUMNS)

_COL = {name: i for i, name in enumerate(DESCRIPTOR_NAMES)}

# ---------------------------------------------------------------------------------------------
# Parameters of P2Rank's default configuration (distro/config/default.groovy, Params.groovy)
# ---------------------------------------------------------------------------------------------

#: Neighbourhood radius (Å) for aggregating atom vectors onto a point; also ``rmax`` of ``INV``.
NEIGHBOURHOOD_RADIUS: float = 6.0
#: Radius (Å) of the protrusion count around a point.
PROTRUSION_RADIUS: float = 10.0
#: Probe (solvent) radius (Å) added to the vdW radius for the SAS.
SOLVENT_RADIUS: float = 1.6
#: Extra cutoff (Å) added to the probe radius for the exposed-atom test.
SURFACE_ADDITIONAL_CUTOFF: float = 2.5
#: Exposed atom = heavy atom within this distance (Å) of any SAS point.
EXPOSED_ATOM_CUTOFF: float = SOLVENT_RADIUS + SURFACE_ADDITIONAL_CUTOFF
#: CDK ``NumericalSurface`` tessellation level (icosahedron subdivided ``level - 1`` times):
#: ``10 * 4**(level-1) + 2`` directions per atom, i.e. 42 at level 2.
SAS_TESSELLATION: int = 2
#: SAS points closer than this (Å) to an already kept point are dropped (``Atoms.consolidate``).
SAS_CONSOLIDATE_DISTANCE: float = 0.05
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

# ---------------------------------------------------------------------------------------------
# vdW radii used for the SAS (CDK Elements enum, via NumericalSurface / PeriodicTable)
# ---------------------------------------------------------------------------------------------

#: vdW radii (Å) that CDK's ``NumericalSurface`` uses (``org.openscience.cdk.config.Elements``,
#: Blue Obelisk data). Co, Ni and Cu have no radius in CDK; current P2Rank
#: (``PatchedCdkNumericalSurface``) substitutes krypton, 2.02 Å.
CDK_VDW_RADII: Mapping[str, float] = MappingProxyType(
    {
        "H": 1.20, "C": 1.70, "N": 1.60, "O": 1.55, "F": 1.50, "P": 1.95, "S": 1.80,
        "CL": 1.80, "SE": 1.90, "BR": 1.90, "I": 2.10, "B": 1.80, "SI": 2.10, "AS": 2.05,
        "LI": 2.20, "NA": 2.40, "K": 2.80, "RB": 2.90, "CS": 3.00, "BE": 1.90, "MG": 2.20,
        "CA": 2.40, "SR": 2.55, "BA": 2.70, "AL": 2.10, "GA": 2.10, "V": 2.05, "CR": 2.05,
        "MN": 2.05, "FE": 2.05, "CO": 2.02, "NI": 2.02, "CU": 2.02, "ZN": 2.10, "MO": 2.10,
        "W": 2.10, "RU": 2.05, "PD": 2.05, "AG": 2.10, "CD": 2.20, "PT": 2.05, "AU": 2.10,
        "HG": 2.05, "PB": 2.30, "TL": 2.20, "SN": 2.25, "SB": 2.20, "TE": 2.10, "XE": 2.16,
        "KR": 2.02, "AR": 1.88, "GD": 2.38, "YB": 2.28, "U": 2.30,
    }
)  # fmt: skip

#: Radius of carbon, P2Rank's last-resort element when neither element nor atom name is known.
DEFAULT_VDW_RADIUS: float = 1.70


def vdw_radii(elements: np.ndarray, atom_names: np.ndarray | None = None) -> np.ndarray:
    """CDK vdW radii for atoms, with P2Rank's fallback for unknown elements.

    P2Rank (``utils/CdkUtils.bioJavaToCDKAtom``) passes the element to CDK; if CDK does not know
    it, the first letter of the atom name is tried, then carbon.

    Parameters
    ----------
    elements : numpy.ndarray
        ``[n]`` element symbols, any case (``'C'``, ``'SE'``).
    atom_names : numpy.ndarray, optional
        ``[n]`` atom names used for the fallback; without them unknown elements get carbon.

    Returns
    -------
    numpy.ndarray
        ``[n]`` float64 radii in Å (without the probe radius).
    """
    el = np.char.upper(np.char.strip(np.asarray(elements, dtype=str)))
    uniq, inv = np.unique(el, return_inverse=True)
    known = np.array([u in CDK_VDW_RADII for u in uniq], dtype=bool)
    r_uniq = np.array([CDK_VDW_RADII.get(u, DEFAULT_VDW_RADIUS) for u in uniq], dtype=np.float64)
    radii = r_uniq[inv.reshape(-1)]
    unknown = ~known[inv.reshape(-1)]
    if atom_names is not None and unknown.any():
        names = np.asarray(atom_names, dtype=str)[unknown].tolist()
        radii[unknown] = [CDK_VDW_RADII.get(s.strip().upper()[:1], DEFAULT_VDW_RADIUS) for s in names]
    return radii


def inv_weight(distance: np.ndarray | float, radius: float = NEIGHBOURHOOD_RADIUS) -> np.ndarray:
    """P2Rank's ``INV`` distance weight ``1 - d / radius``.

    Parameters
    ----------
    distance : numpy.ndarray or float
        Point-atom distances in Å (only meaningful for ``d <= radius``).
    radius : float, default 6.0
        Neighbourhood radius.

    Returns
    -------
    numpy.ndarray
        Weights, same shape as ``distance``.
    """
    return 1.0 - np.asarray(distance, dtype=np.float64) / radius


# ---------------------------------------------------------------------------------------------
# Tables (loaded lazily, once)
# ---------------------------------------------------------------------------------------------


def _read_csv(name: str) -> list[list[str]]:
    text = resources.files("pocknet").joinpath("data").joinpath(name).read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return [[c.strip() for c in row] for row in csv.reader(io.StringIO("\n".join(lines)))]


@functools.lru_cache(maxsize=1)
def residue_table() -> Mapping[str, tuple[float, ...]]:
    """Residue-level ``chem`` properties from ``data/residue_properties.csv``.

    Returns
    -------
    Mapping[str, tuple[float, ...]]
        Upper-case 3-letter code -> values in :data:`RESIDUE_TABLE_COLUMNS` order.
    """
    rows = _read_csv("residue_properties.csv")
    header, body = rows[0], rows[1:]
    if tuple(header[1:]) != RESIDUE_TABLE_COLUMNS:
        raise RuntimeError(f"residue_properties.csv: unexpected columns {header[1:]}")
    return MappingProxyType({r[0].upper(): tuple(float(v) for v in r[1:]) for r in body})


@functools.lru_cache(maxsize=1)
def atom_table() -> Mapping[str, tuple[float, ...]]:
    """Raw atomic property table from ``data/atomic_properties.csv``.

    Returns
    -------
    Mapping[str, tuple[float, ...]]
        ``"RES.ATOM"`` -> raw values in :data:`ATOM_TABLE_COLUMNS` order (before the power).
    """
    rows = _read_csv("atomic_properties.csv")
    header, body = rows[0], rows[1:]
    if tuple(header[1:]) != ATOM_TABLE_COLUMNS:
        raise RuntimeError(f"atomic_properties.csv: unexpected columns {header[1:]}")
    return MappingProxyType({r[0].upper(): tuple(float(v) for v in r[1:]) for r in body})


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
        ``[n, 35]`` float32. Columns in :data:`WEIGHTED_COLUMNS` hold the atom value to be summed
        with weight ``1 - d/6``; ``chem.atoms`` holds 1 (sum with weight 1 = neighbour count);
        ``protrusion.protrusion`` holds 0 (computed per point). See the module docstring.

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
