"""Write tiny PDB files for tests (fixed-column records)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def atom_line(
    serial: int,
    name: str,
    resname: str,
    chain: str,
    resnum: int,
    xyz: tuple[float, float, float],
    element: str,
    het: bool = False,
    icode: str = " ",
    altloc: str = " ",
    bfactor: float = 10.0,
) -> str:
    record = "HETATM" if het else "ATOM  "
    padded = f" {name:<3}" if len(name) < 4 else name
    return (
        f"{record}{serial:5d} {padded:<4}{altloc}{resname:>3} {chain}{resnum:4d}{icode}   "
        f"{xyz[0]:8.3f}{xyz[1]:8.3f}{xyz[2]:8.3f}{1.0:6.2f}{bfactor:6.2f}          {element:>2}\n"
    )


def write_pdb(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(lines) + "END\n")
    return path
