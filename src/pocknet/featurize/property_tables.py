"""P2Rank's residue and atomic property tables, read once from ``pocknet/data/*.csv``.

* ``residue_properties.csv``: the residue-level ``chem`` table
  (``features/implementation/chem/ChemDefaults.groovy``), one row per 3-letter code.
* ``atomic_properties.csv``: values for ``RES.ATOM`` (``table/AtomTableFeature.groovy``;
  Khazanov & Carlson 2013, Kapcha & Rossky 2014), raw, before P2Rank's power.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

from pocknet.featurize.descriptor_columns import ATOM_TABLE_COLUMNS, RESIDUE_TABLE_COLUMNS

__all__ = ["residue_table", "atom_table"]


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
