"""Which files are structures, and the name a structure file stands for.

Needs no parser, so dataset lists and input collection stay light.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STRUCTURE_SUFFIXES", "is_structure_file", "structure_stem"]

STRUCTURE_SUFFIXES: tuple[str, ...] = (".pdb", ".ent", ".cif", ".mmcif")


def is_structure_file(path: str | Path) -> bool:
    """True for .pdb/.ent/.cif/.mmcif files, gzipped or not."""
    name = Path(path).name.lower()
    name = name.removesuffix(".gz")
    return name.endswith(STRUCTURE_SUFFIXES)


def structure_stem(path: str | Path) -> str:
    """File name without .gz and the structure suffix (``1fbl.cif.gz`` → ``1fbl``)."""
    name = Path(path).name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and ("." + suffix.lower()) in STRUCTURE_SUFFIXES else name
