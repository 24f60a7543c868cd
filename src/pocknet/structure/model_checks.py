"""Checks on a parsed model: finite numbers, no piles of atoms, not CA-only.

Run after parsing, before any neighbour search: a pile of unplaced atoms at
one spot makes every pair search downstream quadratic in the pile.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pocknet.errors import StructureError
from pocknet.structure.records import ProteinAtoms, Residues, residue_labels

__all__ = ["MAX_ATOMS_PER_CELL", "densest_cell", "check_finite", "crowding_notes", "model_notes"]

# Crowding: real heavy atoms are >= ~1.2 Å apart, so a 1 Å cube holds at most
# 3 of them (2529 files of the shared datasets); unplaced atoms piled at one
# spot make every neighbour search downstream quadratic in the pile.
_CROWD_CELL = 1.0  # Å
MAX_ATOMS_PER_CELL = 10
_COINCIDENT_NOTE = 3  # atoms at one exact position worth a note
_MIN_ATOMS_PER_RESIDUE = 2.0  # below this the model is (nearly) CA-only


def check_finite(
    path: Path, atoms: ProteinAtoms, residues: Residues, ligand_groups: list[tuple[str, str, np.ndarray]]
) -> None:
    """Refuse NaN/inf coordinates or B-factors (mmCIF ``nan``, ``inf``, ``********`` read as NaN)."""
    finite = np.isfinite(atoms.coords).all(axis=1) & np.isfinite(atoms.bfactors)
    if not finite.all():
        i = int(np.argmin(finite))
        label = residue_labels(residues)[atoms.residue_index[i]]
        raise StructureError(
            f"{path}: atom {atoms.names[i]} of residue {label} has a non-finite coordinate or B-factor "
            f"({atoms.coords[i].tolist()}, B {atoms.bfactors[i]})"
        )
    for code, label, xyz in ligand_groups:
        if not np.isfinite(xyz).all():
            raise StructureError(f"{path}: HETATM group {code} {label} has a non-finite coordinate")


def densest_cell(coords: np.ndarray, cell: float = _CROWD_CELL) -> np.ndarray:
    """Indices of the atoms in the most populated ``cell``-sized grid cube.

    O(N log N) with no pair lists, so it is safe to run on exactly the inputs
    (thousands of atoms at one spot) that make pair searches explode.
    """
    if len(coords) == 0:
        return np.zeros(0, dtype=np.int64)
    cells = np.floor(coords / cell)
    if np.abs(cells).max() < 2**20:  # one int64 key per cube: 1-D unique is ~10x faster
        ints = cells.astype(np.int64) + 2**20
        cells = (ints[:, 0] << 42) | (ints[:, 1] << 21) | ints[:, 2]
    _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return np.flatnonzero(inverse.reshape(-1) == np.argmax(counts))


def _position(xyz: np.ndarray) -> str:
    return "({:.3f}, {:.3f}, {:.3f})".format(*xyz)


def crowding_notes(path: Path, coords: np.ndarray) -> tuple[str, ...]:
    """Refuse piles of atoms at (almost) one position; note small exact coincidences.

    Modelling tools put unplaced atoms at the origin. Left in, every pair
    search downstream (burial, ligand merging, descriptors) grows with the
    square of the pile: 1 500 atoms at one point took 3.7 GB in the SAS step.
    """
    members = coords[densest_cell(coords)]
    if len(members) >= MAX_ATOMS_PER_CELL:
        if np.ptp(members, axis=0).max() < 1e-3:
            raise StructureError(
                f"{path}: {len(members)} atoms share one position {_position(members[0])}; "
                "unplaced atoms? remove them"
            )
        near = _position(members.mean(axis=0))
        raise StructureError(
            f"{path}: {len(members)} atoms within one {_CROWD_CELL:g} Å cube near {near} "
            "(real heavy atoms are at least ~1.2 Å apart); unplaced or duplicated atoms? remove them"
        )
    if len(members) < _COINCIDENT_NOTE:
        return ()
    _, first, same = np.unique(np.round(coords, 3), axis=0, return_index=True, return_counts=True)
    top = int(np.argmax(same))
    if same[top] < _COINCIDENT_NOTE:
        return ()
    where = _position(coords[first[top]])
    return (f"{same[top]} atoms share one position {where}: unplaced atoms? their surface is meaningless",)


def model_notes(atoms: ProteinAtoms, residues: Residues) -> tuple[str, ...]:
    """Warnings about models that featurise but give unreliable descriptors.

    Real residues have ~8 heavy atoms (at least 6.7 on average in every file
    of the shared datasets); fewer than 2 means CA-only or nearly so.
    """
    if len(atoms) < _MIN_ATOMS_PER_RESIDUE * len(residues):
        return ("CA-only model: surface and descriptors are unreliable",)
    return ()
