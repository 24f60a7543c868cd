"""The 35 P2Rank SAS-point descriptor columns and how each is aggregated onto a point.

P2Rank (Krivák & Hoksza, *J Cheminform* 10:39, 2018; https://github.com/rdk/p2rank, MIT licence)
describes every solvent-accessible-surface (SAS) point by a vector that is mostly a distance
weighted sum of per-atom vectors (:func:`pocknet.featurize.atom_properties.atom_property_matrix`).
The aggregation onto points (:mod:`pocknet.featurize.descriptors`) is specified exactly below so
that it can be written generically from :data:`PLAIN_COUNT_COLUMNS` and :data:`POINT_COLUMNS`.
The code here is our own, written from the facts in P2Rank's sources (file names are given for
each fact).

Point-level definition (P2Rank default config, ``distro/config/default.groovy``)
---------------------------------------------------------------------------------
For a SAS point ``p`` let ``N(p)`` be the *exposed* protein atoms ``a`` with ``|p - a| <= 6 Å``
(``neighbourhood_radius = 6``) and ``w(d) = 1 - d / 6`` (``weight_function = "INV"``,
``features/weight/WeightFun.groovy``); ``w`` runs from 1 at the atom centre to 0 at 6 Å.
``PrankFeatureExtractor.calcSasFeatVectorFromAtomVectors`` then sets, per column:

* weighted columns (the 33 not in :data:`PLAIN_COUNT_COLUMNS` or :data:`POINT_COLUMNS`):
  ``x_p = sum_{a in N(p)} w(|p - a|) * x_a`` where ``x_a`` is the per-atom matrix entry.
  ``average_feat_vectors = false`` in the default config, so there is
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
"""

from __future__ import annotations

__all__ = [
    "DESCRIPTOR_NAMES",
    "RESIDUE_TABLE_COLUMNS",
    "ATOM_TABLE_COLUMNS",
    "VOLSITE_FLAGS",
    "PLAIN_COUNT_COLUMNS",
    "POINT_COLUMNS",
    "PLAIN_COUNT_INDEX",
    "POINT_INDEX",
    "BFACTOR_COLUMN",
]

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

#: The column read from the B-factor field: crystallographic B in experimental structures, pLDDT
#: (confidence, high = good) in AlphaFold/ESMFold models; the predicted-structure model leaves it out.
BFACTOR_COLUMN = "bfactor.bfactor"

#: Point-level columns computed from geometry, not from atom vectors (matrix holds 0).
POINT_COLUMNS: tuple[str, ...] = ("protrusion.protrusion",)

#: Atom-derived columns aggregated as a plain count over the neighbourhood (matrix holds 1).
PLAIN_COUNT_COLUMNS: tuple[str, ...] = ("chem.atoms",)

#: Indices into :data:`DESCRIPTOR_NAMES` (and the matrix columns) of each non-weighted class.
PLAIN_COUNT_INDEX: tuple[int, ...] = tuple(DESCRIPTOR_NAMES.index(n) for n in PLAIN_COUNT_COLUMNS)
POINT_INDEX: tuple[int, ...] = tuple(DESCRIPTOR_NAMES.index(n) for n in POINT_COLUMNS)
