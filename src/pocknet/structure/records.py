"""What reading a structure produces: protein atoms, residues, ligands (SCIENCE.md §1).

Plain frozen dataclasses of numpy arrays, kept apart from the parser so code
that only consumes structures (descriptors, outputs, evaluation) does not
import gemmi.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pocknet.structure.ligands import Ligand

__all__ = ["ProteinAtoms", "Residues", "Structure", "residue_labels"]


@dataclass(frozen=True)
class ProteinAtoms:
    """Protein heavy atoms, one row each, in file order."""

    coords: np.ndarray  # [N, 3] float64
    elements: np.ndarray  # [N] <U2, upper case ('C', 'SE')
    names: np.ndarray  # [N] <U4 ('CA', 'OG1')
    residue_index: np.ndarray  # [N] int32, row in :class:`Residues`
    bfactors: np.ndarray  # [N] float32
    serials: np.ndarray  # [N] int32, serial number from the file

    def __len__(self) -> int:
        return len(self.coords)


@dataclass(frozen=True)
class Residues:
    """Protein residues in file order; chains are contiguous runs of ``chain``."""

    chain: np.ndarray  # [R] <U4 author chain id
    number: np.ndarray  # [R] int32 author residue number
    icode: np.ndarray  # [R] <U1 insertion code, '' when absent
    name: np.ndarray  # [R] <U3 residue name (MSE already MET)
    one_letter: np.ndarray  # [R] <U1 one-letter code, 'X' when unknown
    ca: np.ndarray  # [R, 3] float64 C-alpha coordinates, NaN when missing

    def __len__(self) -> int:
        return len(self.chain)

    def chain_ids(self) -> list[str]:
        """Chain ids in file order, each once."""
        _, first = np.unique(self.chain, return_index=True)
        return [str(self.chain[i]) for i in sorted(first)]

    def sequences(self) -> dict[str, str]:
        """One-letter sequence per chain, in residue order."""
        return {c: "".join(self.one_letter[self.chain == c]) for c in self.chain_ids()}


@dataclass(frozen=True)
class Structure:
    """A protein (selected chains of model 1) with its ligands."""

    name: str
    path: Path
    atoms: ProteinAtoms
    residues: Residues
    ligands: tuple[Ligand, ...]
    notes: tuple[str, ...] = ()  # accepted, but the user should know (e.g. "no END record: ...")
    # experimental | predicted (AlphaFold, ESMFold, ...: the B-factor column holds pLDDT), pocknet.structure.kind
    kind: str = "experimental"

    @property
    def relevant_ligands(self) -> tuple[Ligand, ...]:
        return tuple(lig for lig in self.ligands if lig.relevant)


def residue_labels(residues: Residues) -> np.ndarray:
    """P2Rank residue ids, ``chain_number[icode]`` (e.g. ``A_100A``)."""
    number = residues.number.astype(str)
    return np.char.add(np.char.add(np.char.add(residues.chain, "_"), number), residues.icode)
