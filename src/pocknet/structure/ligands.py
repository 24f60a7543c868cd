"""Ligand candidates → merged ligands → relevant ligands (SCIENCE.md §1).

Candidates are non-water HETATM groups outside the protein polymer. Codes in
:data:`IGNORED_LIGAND_CODES` never count. Groups closer than ``merge_distance``
merge (single linkage). A merged ligand is *relevant* when it has at least
``min_atoms`` heavy atoms, touches the protein (closest atom within
``contact_distance``) and its centre lies within ``centre_distance`` of the
nearest protein atom. Only relevant ligands define labels and evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
from scipy.cluster.hierarchy import DisjointSet
from scipy.spatial import cKDTree

from pocknet.config import dataclass_from_params

__all__ = ["IGNORED_LIGAND_CODES", "Ligand", "LigandRules", "find_ligands"]

IGNORED_LIGAND_CODES: frozenset[str] = frozenset(
    {"HOH", "DOD", "WAT", "NAG", "MAN", "UNK", "GLC", "ABA", "MPD", "GOL", "SO4", "PO4"}
)


@dataclass(frozen=True)
class LigandRules:
    """Thresholds of SCIENCE.md §1; the defaults are P2Rank's."""

    ignored_codes: frozenset[str] = IGNORED_LIGAND_CODES
    merge_distance: float = 1.7
    min_atoms: int = 5
    contact_distance: float = 4.0
    centre_distance: float = 5.5

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "LigandRules":
        """Build from a ``ligands:`` parameter block; unknown keys are an error."""
        codes = (params or {}).get("ignored_codes") or ()
        return dataclass_from_params(
            cls, params, "ligands", ignored_codes=frozenset(str(c).upper() for c in codes)
        )


@dataclass(frozen=True)
class Ligand:
    """One merged ligand: its residue codes, ids (``chain_number``) and heavy atoms."""

    codes: tuple[str, ...]
    residue_ids: tuple[str, ...]
    coords: np.ndarray = field(repr=False)  # [M, 3] float64
    relevant: bool
    min_protein_distance: float
    centre_protein_distance: float

    @property
    def name(self) -> str:
        return "+".join(self.codes)

    @property
    def centre(self) -> np.ndarray:
        return self.coords.mean(axis=0)


def _merge(groups: Sequence[np.ndarray], distance: float) -> list[list[int]]:
    """Single-linkage merge of atom groups whose atoms come within ``distance``."""
    if len(groups) <= 1:
        return [[i] for i in range(len(groups))]
    owner = np.concatenate([np.full(len(g), i) for i, g in enumerate(groups)])
    pairs = cKDTree(np.concatenate(groups)).query_pairs(distance, output_type="ndarray")
    sets = DisjointSet(range(len(groups)))
    for a, b in owner[pairs]:
        if a != b:
            sets.merge(int(a), int(b))
    return sorted((sorted(s) for s in sets.subsets()), key=lambda s: s[0])


def find_ligands(
    groups: Sequence[tuple[str, str, np.ndarray]],
    protein_coords: np.ndarray,
    rules: LigandRules,
) -> tuple[Ligand, ...]:
    """Merge candidate groups and flag the relevant ones.

    Parameters
    ----------
    groups
        ``(residue code, residue id, heavy-atom coords)`` per HETATM group.
    protein_coords
        [N, 3] protein heavy-atom coordinates (the selected chains).
    rules
        Detection thresholds.
    """
    kept = [g for g in groups if g[0].upper() not in rules.ignored_codes and len(g[2])]
    if not kept:
        return ()
    tree = cKDTree(protein_coords)
    ligands = []
    for members in _merge([g[2] for g in kept], rules.merge_distance):
        coords = np.concatenate([kept[i][2] for i in members])
        nearest, _ = tree.query(coords)
        centre_dist, _ = tree.query(coords.mean(axis=0))
        min_dist = float(nearest.min())
        relevant = (
            len(coords) >= rules.min_atoms
            and min_dist <= rules.contact_distance
            and float(centre_dist) <= rules.centre_distance
        )
        ligands.append(
            Ligand(
                codes=tuple(kept[i][0] for i in members),
                residue_ids=tuple(kept[i][1] for i in members),
                coords=coords,
                relevant=bool(relevant),
                min_protein_distance=min_dist,
                centre_protein_distance=float(centre_dist),
            )
        )
    return tuple(ligands)
