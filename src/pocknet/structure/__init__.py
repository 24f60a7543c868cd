"""Structures in: PDB/mmCIF reading (reader), ligand relevance, dataset lists.

The public names of the module this package replaces are re-exported from :mod:`pocknet.structure.reader`,
so importing them from the package still works; they load on first use, so importing a
sibling module does not import ``reader`` (nor what it imports).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pocknet.structure.reader import (
        MAX_DECOMPRESSED_BYTES,
        STRUCTURE_SUFFIXES,
        ProteinAtoms,
        Residues,
        Structure,
        densest_cell,
        is_structure_file,
        load_structure,
        residue_labels,
        structure_stem,
    )

__all__ = [
    "MAX_DECOMPRESSED_BYTES",
    "STRUCTURE_SUFFIXES",
    "ProteinAtoms",
    "Residues",
    "Structure",
    "densest_cell",
    "is_structure_file",
    "load_structure",
    "residue_labels",
    "structure_stem",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("pocknet.structure.reader"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
