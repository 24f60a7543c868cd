"""The JSON a page's script reads: structure, points, pockets and residue scores, safe inside ``<script>``.

The data travel inside the page (``<script type="application/json">``), never fetched, and
serialise with sorted keys, so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from pocknet.predict.viewer.inputs import ViewerData
from pocknet.predict.writers.base import PALETTE

__all__ = ["SURFACE_MAX_ATOMS", "finite", "palette", "payload", "script_json"]

#: Above this many atoms the surface starts switched off (it can still be switched on).
SURFACE_MAX_ATOMS = 15_000

_WATERS = ("HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL")
_POINT_DECIMALS = 2


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def palette() -> list[tuple[str, str]]:
    """The pocket colours as ``(CSS name, #rrggbb)``: those of the scripts and the JSON summary."""
    return [(name, _hex(rgb)) for name, rgb in PALETTE]


def script_json(payload: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: no ``<`` at all (so no ``</script>``)."""
    text = json.dumps(payload, separators=(",", ":"), allow_nan=False, ensure_ascii=False, sort_keys=True)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def finite(value: Any, decimals: int) -> float | None:
    """``value`` rounded, or None when it is not a finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, decimals) if math.isfinite(number) else None


def payload(data: ViewerData) -> dict[str, Any]:
    """The page's data block (before :func:`script_json`)."""
    points = np.round(np.asarray(data.points, dtype=np.float64).reshape(-1, 3), _POINT_DECIMALS)
    colours = palette()
    pockets = [
        {
            "rank": int(p["rank"]),
            "colour": colours[(int(p["rank"]) - 1) % len(colours)][1],
            "residues": [str(r) for r in p.get("residue_ids") or []],
            "centre": [finite(c, 3) for c in (p.get("centre") or [])] or None,
        }
        for p in data.pockets
    ]
    residues = None
    if data.residue_probability is not None:
        residues = {k: finite(v, 3) for k, v in sorted(data.residue_probability.items())}
    return {
        "name": data.name,
        "structure": {"format": data.structure_format, "text": data.structure},
        "points": {
            "xyz": [float(v) for v in points.reshape(-1).tolist()],
            "p": [float(v) for v in np.round(np.asarray(data.point_probability, dtype=np.float64), 2).tolist()],
            "rank": [int(v) for v in np.asarray(data.point_rank).tolist()],
        },
        "pockets": pockets,
        "residues": residues,
        "surface": bool(data.n_atoms <= SURFACE_MAX_ATOMS),
        "reference": [
            float(v)
            for ligand in data.reference_ligands
            for v in np.round(np.asarray(ligand, dtype=np.float64).reshape(-1, 3), _POINT_DECIMALS).reshape(-1).tolist()
        ],
        "waters": list(_WATERS),
    }
