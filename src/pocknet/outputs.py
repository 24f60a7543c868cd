"""Write a :class:`~pocknet.prediction.Prediction` as files people and tools open.

Formats (SCIENCE.md §7), for ``name = prediction.name``:

``csv``
    ``<name>_predictions.csv`` and ``<name>_residues.csv`` with exactly P2Rank
    2.x's column names and order, so scripts written for P2Rank read ours.
    P2Rank pads values with spaces after commas; we write plain CSV (pandas,
    ``csv`` and P2Rank-aware scripts that strip fields read both).
``pdb``
    ``<name>_points.pdb``: every SAS point as a ``HETATM`` of residue ``STP``,
    atom name and element ``C``, blank chain. **Residue number = pocket rank**
    (0 for points in no pocket) and **B-factor = point probability on its
    natural 0..1 scale** (two decimals, the fixed-column ``F6.2`` field), so
    PyMOL's ``spectrum b`` and ChimeraX's ``color bfactor`` work with the range
    0..1 and the pockets are residues of the points model. Beyond 99 999
    points the serial numbers continue in hybrid-36 (``A0000`` …), the scheme
    ChimeraX requires for big PDB files and gemmi reads; residue numbers above
    9 999 (never seen in practice) use hybrid-36 too.
``pml``
    ``<name>.pml``, a PyMOL script using only ``load``, ``hide``, ``show``,
    ``color``, ``set_color``, ``select``, ``spectrum``, ``set`` and ``orient``.
``cxc``
    ``<name>.cxc``, a ChimeraX command script (``open``, ``name``, ``color``,
    ``surface``, ``view`` …) meant for a fresh session: the structure becomes
    model #1 and the points model #2.
``json``
    ``<name>.json``: a machine-readable summary; NaN is written as ``null``
    (strict JSON, which JavaScript and ``jq`` read).

Both scripts load the structure by its absolute path (the input can be
anywhere) and the points file by its bare name, so an output folder stays
usable when moved; run them from the output folder (ChimeraX resolves paths
relative to the script, PyMOL relative to its working directory).

Pocket ``k`` gets colour ``PALETTE[(k - 1) % len(PALETTE)]`` in both scripts
and in the JSON: CSS colour names, which ChimeraX understands directly and
PyMOL receives through ``set_color`` with the same RGB values.

Every file is written through :func:`pocknet.atomic.atomic_write`, so a reader
(or an interrupted run) never sees a half-written output.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import gemmi
import numpy as np
import pandas as pd

from pocknet.atomic import atomic_write
from pocknet.errors import ConfigError, PockNetError
from pocknet.features import ProteinFeatures
from pocknet.prediction import Prediction
from pocknet.structure import Residues, residue_labels

__all__ = [
    "FORMATS",
    "PALETTE",
    "PREDICTIONS_COLUMNS",
    "RESIDUES_COLUMNS",
    "chimerax_spec",
    "hybrid36",
    "output_paths",
    "parse_formats",
    "point_pocket_ranks",
    "points_pdb_text",
    "predictions_table",
    "read_points_pdb",
    "pymol_selection",
    "residue_ids",
    "residues_table",
    "summary_rows",
    "write_outputs",
]

FORMATS: tuple[str, ...] = ("csv", "pdb", "pml", "cxc", "json")

PREDICTIONS_COLUMNS: tuple[str, ...] = (
    "name",
    "rank",
    "score",
    "probability",
    "sas_points",
    "surf_atoms",
    "center_x",
    "center_y",
    "center_z",
    "residue_ids",
    "surf_atom_ids",
)
RESIDUES_COLUMNS: tuple[str, ...] = (
    "chain",
    "residue_label",
    "residue_name",
    "score",
    "zscore",
    "probability",
    "pocket",
)

# (CSS name, RGB 0..255): distinct on a grey protein, none of them grey.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("royalblue", (65, 105, 225)),
    ("orange", (255, 165, 0)),
    ("forestgreen", (34, 139, 34)),
    ("crimson", (220, 20, 60)),
    ("mediumpurple", (147, 112, 219)),
    ("sienna", (160, 82, 45)),
    ("hotpink", (255, 105, 180)),
    ("gold", (255, 215, 0)),
    ("darkturquoise", (0, 206, 209)),
    ("olivedrab", (107, 142, 35)),
)
_PROTEIN_COLOUR = ("lightgray", (211, 211, 211))

# Rounding of written numbers: P2Rank's precision, coordinates like a PDB file's.
_SCORE_DECIMALS = 2
_PROBABILITY_DECIMALS = 3
_CENTRE_DECIMALS = 3
_RESIDUE_SCORE_DECIMALS = 4
_JSON_DECIMALS = 4  # float32 noise (20.66699981…) helps no one reading the summary

_POINT_RESNAME = "STP"
_POINT_ATOM = " C  "  # element C right-justified in columns 13-14, as PDB names are
_POINT_CHAIN = " "


def parse_formats(text: str) -> tuple[str, ...]:
    """Parse a comma list such as ``"csv,pml"`` into formats, in :data:`FORMATS` order.

    Case and blanks are ignored, repeats collapse and ``all`` means every
    format, so a CLI option can pass the user's text straight through.

    Raises
    ------
    ConfigError
        For an empty list or an unknown format (the message lists the known ones).
    """
    names = [part.strip().lower() for part in str(text).split(",") if part.strip()]
    if not names:
        raise ConfigError(f"output formats: none given in {text!r}; known: {', '.join(FORMATS)}")
    if "all" in names:
        return FORMATS
    return _validate_formats(names)


def _validate_formats(names: Iterable[str]) -> tuple[str, ...]:
    names = list(names)
    unknown = sorted(set(names) - set(FORMATS))
    if unknown:
        raise ConfigError(f"output formats: unknown {unknown}; known: {', '.join(FORMATS)}")
    return tuple(f for f in FORMATS if f in names)


def residue_ids(features: ProteinFeatures) -> np.ndarray:
    """P2Rank residue ids (``A_100A``) of every residue, via :func:`pocknet.structure.residue_labels`.

    Rebuilding :class:`~pocknet.structure.Residues` from the feature arrays keeps
    one definition of the id format for the whole project.
    """
    residues = Residues(
        chain=features.residue_chain,
        number=features.residue_number,
        icode=features.residue_icode,
        name=features.residue_name,
        one_letter=features.residue_one_letter,
        ca=features.residue_ca,
    )
    return residue_labels(residues)


def _round(value: float, decimals: int) -> float:
    """Round for output; NaN stays NaN (written as an empty CSV field, JSON ``null``)."""
    value = float(value)
    return value if math.isnan(value) else round(value, decimals)


def _sorted_unique(indices: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(indices, dtype=np.int64))


def _ranked(prediction: Prediction) -> list:
    return sorted(prediction.pockets, key=lambda p: p.rank)


def predictions_table(prediction: Prediction) -> pd.DataFrame:
    """One row per pocket, by rank, in P2Rank's ``_predictions.csv`` layout.

    ``residue_ids`` are P2Rank ids in file order and ``surf_atom_ids`` the
    atoms' serial numbers in the source file (ascending), both space-separated,
    so they can be pasted into viewer selections or joined with P2Rank output.
    """
    features = prediction.features
    ids = residue_ids(features)
    rows = []
    for pocket in _ranked(prediction):
        residues = _sorted_unique(pocket.residue_indices)
        serials = np.unique(features.atom_serial[_sorted_unique(pocket.atom_indices)])
        centre = np.asarray(pocket.centre, dtype=np.float64)
        rows.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "score": _round(pocket.score, _SCORE_DECIMALS),
                "probability": _round(pocket.probability, _PROBABILITY_DECIMALS),
                "sas_points": len(_sorted_unique(pocket.point_indices)),
                "surf_atoms": len(serials),
                "center_x": _round(centre[0], _CENTRE_DECIMALS),
                "center_y": _round(centre[1], _CENTRE_DECIMALS),
                "center_z": _round(centre[2], _CENTRE_DECIMALS),
                "residue_ids": " ".join(ids[residues].tolist()),
                "surf_atom_ids": " ".join(str(int(s)) for s in serials),
            }
        )
    return pd.DataFrame(rows, columns=list(PREDICTIONS_COLUMNS))


def residues_table(prediction: Prediction) -> pd.DataFrame:
    """One row per protein residue in P2Rank's ``_residues.csv`` layout.

    ``residue_label`` is the author number with its insertion code (``100A``);
    ``pocket`` is the rank of the pocket holding the residue, 0 for none.
    """
    f = prediction.features
    labels = np.char.add(f.residue_number.astype(str), f.residue_icode)
    table = pd.DataFrame(
        {
            "chain": f.residue_chain.astype(str),
            "residue_label": labels.astype(str),
            "residue_name": f.residue_name.astype(str),
            "score": np.round(
                np.asarray(prediction.residue_score, dtype=np.float64), _RESIDUE_SCORE_DECIMALS
            ),
            "zscore": np.round(
                np.asarray(prediction.residue_zscore, dtype=np.float64), _RESIDUE_SCORE_DECIMALS
            ),
            "probability": np.round(
                np.asarray(prediction.residue_probability, dtype=np.float64), _PROBABILITY_DECIMALS
            ),
            "pocket": np.asarray(prediction.residue_pocket, dtype=np.int64),
        },
        columns=list(RESIDUES_COLUMNS),
    )
    return table


def point_pocket_ranks(prediction: Prediction) -> np.ndarray:
    """Pocket rank of every SAS point, 0 for none (int32).

    Grown pockets can share points; a shared point goes to the better
    (lower) rank, the pocket a viewer should show it with.
    """
    ranks = np.zeros(prediction.features.n_points, dtype=np.int32)
    for pocket in sorted(prediction.pockets, key=lambda p: p.rank, reverse=True):
        ranks[np.asarray(pocket.point_indices, dtype=np.int64)] = pocket.rank
    return ranks


_DIGITS_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS_LOWER = _DIGITS_UPPER.lower()


def _base36(value: int, width: int, digits: str) -> str:
    out = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def hybrid36(value: int, width: int) -> str:
    """Encode a non-negative integer in hybrid-36 (the PDB's overflow scheme) in ``width`` columns.

    Decimal up to ``10**width - 1``, then ``A000…`` upward in upper-case base 36,
    then lower case: values stay unique and readable by ChimeraX and gemmi
    where plain wrapping would repeat serial numbers.
    """
    if value < 0:
        raise ValueError(f"hybrid-36 encodes non-negative numbers, got {value}")
    if value < 10**width:
        return f"{value:>{width}d}"
    value -= 10**width
    block = 26 * 36 ** (width - 1)
    offset = 10 * 36 ** (width - 1)  # 'A000…' in base 36
    if value < block:
        return _base36(value + offset, width, _DIGITS_UPPER)
    value -= block
    if value < block:
        return _base36(value + offset, width, _DIGITS_LOWER)
    raise ValueError(f"{value + 10**width + block} does not fit hybrid-36 in {width} columns")


def points_pdb_text(points: np.ndarray, probabilities: np.ndarray, ranks: np.ndarray, title: str = "") -> str:
    """Fixed-column PDB text of SAS points (see the module docstring for the conventions).

    Raises
    ------
    PockNetError
        When a coordinate does not fit the PDB's ``F8.3`` columns.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    probs = np.clip(np.nan_to_num(np.asarray(probabilities, dtype=np.float64), nan=0.0), 0.0, 1.0)
    ranks = np.asarray(ranks, dtype=np.int64)
    if len(probs) != len(points) or len(ranks) != len(points):
        raise ValueError(f"{len(points)} points but {len(probs)} probabilities and {len(ranks)} ranks")
    if len(points) and (points.min() < -999.999 or points.max() > 9999.999):
        raise PockNetError(
            f"{title or 'points'}: coordinates outside the PDB format's range (-999.999..9999.999)"
        )
    lines = []
    if title:
        lines.append(f"REMARK 999 PockNet SAS points of {title}"[:80])
    lines.append("REMARK 999 residue number = pocket rank (0: no pocket), B-factor = probability 0-1")
    for i, ((x, y, z), p, rank) in enumerate(zip(points.tolist(), probs.tolist(), ranks.tolist())):
        lines.append(
            f"HETATM{hybrid36(i + 1, 5)} {_POINT_ATOM} {_POINT_RESNAME} {_POINT_CHAIN}{hybrid36(rank, 4)}    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{p:6.2f}           C  "
        )
    lines.append("END")
    return "\n".join(lines) + "\n"


def read_points_pdb(path: str | Path) -> pd.DataFrame:
    """Read a ``<name>_points.pdb`` back: ``x, y, z, probability, pocket_rank`` per point, in file order.

    gemmi decodes the hybrid-36 serial and residue numbers written by :func:`points_pdb_text`.
    """
    model = gemmi.read_structure(str(path))[0]
    rows = [(*atom.pos.tolist(), round(atom.b_iso, 2), residue.seqid.num)  # B-factor: F6.2 in the file
            for chain in model for residue in chain for atom in residue]
    return pd.DataFrame(rows, columns=["x", "y", "z", "probability", "pocket_rank"])


def _pocket_residue_groups(prediction: Prediction, pocket) -> list[tuple[str, list[str]]]:
    """``[(chain, ["12", "100A", …]), …]`` of a pocket's residues, chains in first-seen order."""
    f = prediction.features
    groups: dict[str, list[str]] = {}
    for r in _sorted_unique(pocket.residue_indices).tolist():
        groups.setdefault(str(f.residue_chain[r]), []).append(
            f"{int(f.residue_number[r])}{f.residue_icode[r]}"
        )
    return list(groups.items())


def chimerax_spec(groups: Sequence[tuple[str, Sequence[str]]], model: int = 1) -> str:
    """ChimeraX atom spec of residues grouped by chain, e.g. ``#1/A:12,15,100A/B:7``.

    A repeated ``/`` restarts the chain level in ChimeraX, so one spec covers
    several chains. Residues are listed one by one, not as ranges: a range
    such as ``100-101`` would also take an inserted ``100A`` that is not in the
    pocket. A blank chain id is left out (ChimeraX cannot name it).
    """
    parts = []
    for chain, labels in groups:
        if not labels:
            continue
        chain_part = f"/{chain}" if chain.strip() else ""
        parts.append(f"{chain_part}:{','.join(labels)}")
    return f"#{model}" + "".join(parts) if parts else ""


def _pymol_resi(label: str) -> str:
    # PyMOL reads a leading minus in resi as a range operator unless escaped.
    return "\\" + label if label.startswith("-") else label


def pymol_selection(groups: Sequence[tuple[str, Sequence[str]]], obj: str) -> str:
    """PyMOL selection of residues grouped by chain, e.g. ``1a82a and polymer and (chain A and resi 12+100A)``."""
    parts = []
    for chain, labels in groups:
        if not labels:
            continue
        resi = "+".join(_pymol_resi(label) for label in labels)
        chain_sel = f"chain {chain}" if chain.strip() else 'chain ""'
        parts.append(f"({chain_sel} and resi {resi})")
    if not parts:
        return "none"
    return f"{obj} and polymer and ({' or '.join(parts)})"


def _object_name(name: str) -> str:
    """A PyMOL object name: letters, digits and underscores only."""
    safe = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return safe or "protein"


def _quote(path: str) -> str:
    """Quote a path for PyMOL/ChimeraX command lines (spaces allowed)."""
    if '"' not in path:
        return f'"{path}"'
    if "'" not in path:
        return f"'{path}'"
    raise PockNetError(f"{path}: path holds both quote characters; scripts cannot load it")


def _colour(rank: int) -> tuple[str, tuple[int, int, int]]:
    return PALETTE[(rank - 1) % len(PALETTE)]


def _rgb01(rgb: tuple[int, int, int]) -> str:
    return "[" + ", ".join(f"{c / 255:.3f}" for c in rgb) + "]"


def _pml_text(prediction: Prediction, points_name: str) -> str:
    obj = _object_name(prediction.name)
    pts = f"{obj}_points"
    source = str(Path(prediction.features.source).resolve())
    lines = [
        f"# PockNet pockets of {prediction.name} (model {prediction.model_name}), PyMOL script.",
        "# Run from this folder: pymol " + f"{prediction.name}.pml",
        "# Points: residue number = pocket rank (0: none), B-factor = probability 0..1.",
        f"load {_quote(source)}, {obj}",
        f"load {_quote(points_name)}, {pts}",
        "hide everything",
        f"set_color pocknet_{_PROTEIN_COLOUR[0]}, {_rgb01(_PROTEIN_COLOUR[1])}",
        f"color pocknet_{_PROTEIN_COLOUR[0]}, {obj} and polymer",
        f"show cartoon, {obj}",
        f"show sticks, {obj} and organic",
        f"show surface, {obj} and polymer",
        "set transparency, 0.3",
        f"set sphere_scale, 0.3, {pts}",
        f"show spheres, {pts} and not resi 0",
    ]
    used = dict(_colour(pocket.rank) for pocket in _ranked(prediction))
    lines += [f"set_color pocknet_{name}, {_rgb01(rgb)}" for name, rgb in used.items()]
    for pocket in _ranked(prediction):
        colour = f"pocknet_{_colour(pocket.rank)[0]}"
        selection = pymol_selection(_pocket_residue_groups(prediction, pocket), obj)
        lines += [
            f"select pocket{pocket.rank}, {selection}, enable=0",
            f"color {colour}, pocket{pocket.rank}",
            f"color {colour}, {pts} and resi {pocket.rank}",
        ]
    lines += [
        "# Option: every point coloured by probability instead of by pocket:",
        f"# show spheres, {pts}",
        f"# spectrum b, blue_white_red, {pts}, minimum=0, maximum=1",
        f"orient {obj}",
    ]
    return "\n".join(lines) + "\n"


def _cxc_text(prediction: Prediction, points_name: str) -> str:
    source = str(Path(prediction.features.source).resolve())
    lines = [
        f"# PockNet pockets of {prediction.name} (model {prediction.model_name}), ChimeraX script.",
        "# Run in a fresh session: the structure becomes #1, the points #2.",
        "# Points: residue number = pocket rank (0: none), B-factor = probability 0..1.",
        f"open {_quote(source)}",
        f"open {_quote(points_name)}",
        f"color #1 & protein {_PROTEIN_COLOUR[0]}",
        "surface #1",
        "style #2 sphere",
        "size #2 atomRadius 0.4",
        "hide #2:0 target a",
    ]
    for pocket in _ranked(prediction):
        colour = _colour(pocket.rank)[0]
        spec = chimerax_spec(_pocket_residue_groups(prediction, pocket), model=1)
        if spec:
            lines += [f"name pocket{pocket.rank} {spec}", f"color pocket{pocket.rank} {colour}"]
        lines.append(f"color #2:{pocket.rank} {colour}")
    lines += [
        "# Option: every point coloured by probability instead of by pocket:",
        "# show #2 target a",
        "# color bfactor #2 palette blue:white:red range 0,1",
        "view",
    ]
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    """Plain JSON types with NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_summary(prediction: Prediction) -> dict[str, Any]:
    f = prediction.features
    ids = residue_ids(f)
    pockets = []
    for pocket in _ranked(prediction):
        centre = np.asarray(pocket.centre, dtype=np.float64)
        pockets.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "score": _round(pocket.score, _JSON_DECIMALS),
                "probability": _round(pocket.probability, _JSON_DECIMALS),
                "centre": [_round(c, _CENTRE_DECIMALS) for c in centre],
                "residue_ids": ids[_sorted_unique(pocket.residue_indices)].tolist(),
                "n_points": len(_sorted_unique(pocket.point_indices)),
                "n_atoms": len(_sorted_unique(pocket.atom_indices)),
                "colour": _colour(pocket.rank)[0],
            }
        )
    return {
        "name": prediction.name,
        "source": f.source,
        "source_sha256": f.source_sha256,
        "model_name": prediction.model_name,
        "pocknet_version": f.pocknet_version,
        "threshold": _round(prediction.threshold, _JSON_DECIMALS),
        "seconds": _round(prediction.seconds, 3),
        "counts": {
            "points": int(f.n_points),
            "residues": len(f.residue_chain),
            "atoms": len(f.atom_coords),
            "pockets": len(pockets),
        },
        "pockets": pockets,
        "notes": list(prediction.notes),
    }


def output_paths(name: str, out_dir: str | Path, formats: Iterable[str] = FORMATS) -> list[Path]:
    """The files :func:`write_outputs` writes for ``formats``, in writing order."""
    out_dir = Path(out_dir)
    per_format = {
        "csv": [f"{name}_predictions.csv", f"{name}_residues.csv"],
        "pdb": [f"{name}_points.pdb"],
        "pml": [f"{name}.pml"],
        "cxc": [f"{name}.cxc"],
        "json": [f"{name}.json"],
    }
    return [out_dir / file for fmt in _validate_formats(formats) for file in per_format[fmt]]


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as handle:
        handle.write(text)


def write_outputs(
    prediction: Prediction, out_dir: str | Path, formats: Iterable[str] | str = FORMATS
) -> list[Path]:
    """Write the requested formats for one prediction into ``out_dir`` (created if missing).

    Parameters
    ----------
    prediction
        What to write; ``prediction.name`` prefixes every file.
    out_dir
        Output folder.
    formats
        Subset of :data:`FORMATS`, or a comma list as accepted by :func:`parse_formats`.

    Returns
    -------
    list of Path
        The written files, in :func:`output_paths` order.

    Raises
    ------
    ConfigError
        For an unknown format, before anything is written.
    """
    chosen = parse_formats(formats) if isinstance(formats, str) else _validate_formats(formats)
    name = prediction.name
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise PockNetError(
            f"{prediction.features.source}: prediction name {name!r} cannot name an output file"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    points_name = f"{name}_points.pdb"
    written: list[Path] = []
    for fmt in chosen:
        paths = output_paths(name, out_dir, [fmt])
        if fmt == "csv":
            tables = (predictions_table(prediction), residues_table(prediction))
            for path, table in zip(paths, tables):
                _write_text(path, table.to_csv(index=False, lineterminator="\n"))
        elif fmt == "pdb":
            f = prediction.features
            text = points_pdb_text(
                f.points, prediction.probabilities, point_pocket_ranks(prediction), title=name
            )
            _write_text(paths[0], text)
        elif fmt == "pml":
            _write_text(paths[0], _pml_text(prediction, points_name))
        elif fmt == "cxc":
            _write_text(paths[0], _cxc_text(prediction, points_name))
        elif fmt == "json":
            text = json.dumps(_json_safe(_json_summary(prediction)), indent=2, allow_nan=False)
            _write_text(paths[0], text + "\n")
        written += paths
    return written


def summary_rows(predictions: Iterable[Prediction]) -> list[dict[str, Any]]:
    """One row per structure for the CLI's summary table.

    Keys: ``name``, ``pockets`` (count), ``top_score``, ``top_probability``,
    ``top_centre`` (``(x, y, z)`` rounded to 3 decimals) and ``seconds``; the
    ``top_*`` values are ``None`` for a structure without pockets, and
    ``top_probability`` is ``None`` without a calibrator (NaN).
    """
    rows = []
    for prediction in predictions:
        ranked = _ranked(prediction)
        top = ranked[0] if ranked else None
        probability = None if top is None or math.isnan(float(top.probability)) else float(top.probability)
        rows.append(
            {
                "name": prediction.name,
                "pockets": len(ranked),
                "top_score": None if top is None else _round(top.score, _SCORE_DECIMALS),
                "top_probability": None if probability is None else round(probability, _PROBABILITY_DECIMALS),
                "top_centre": None
                if top is None
                else tuple(_round(c, _CENTRE_DECIMALS) for c in np.asarray(top.centre, dtype=np.float64)),
                "seconds": round(float(prediction.seconds), 3),
            }
        )
    return rows
