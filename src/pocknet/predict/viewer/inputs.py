"""What a viewer page shows, and where it comes from: a prediction, or a PockNet output folder.

From a :class:`~pocknet.predict.prediction.Prediction` (the ``html`` output format,
``pocknet view STRUCTURE``) or from an output folder (``<name>.json``, ``<name>_points.pdb``,
``<name>_residues.csv`` if written, the structure copy or the structure given). The folder's
files are checked to belong together, and a structure is matched to its summary by name,
then by content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pocknet.errors import PockNetError
from pocknet.predict.writers.base import point_pocket_ranks
from pocknet.predict.writers.files import structure_bytes, structure_file_name
from pocknet.predict.writers.json_summary import json_summary
from pocknet.predict.writers.p2rank_csv import residues_table
from pocknet.predict.writers.points_pdb import read_points_pdb

__all__ = [
    "ViewerData",
    "find_summary",
    "folder_summaries",
    "load_folder_prediction",
    "plain_name",
    "viewer_data_from_prediction",
]


@dataclass(frozen=True)
class ViewerData:
    """Everything one page shows; built by :func:`viewer_data_from_prediction` or :func:`load_folder_prediction`.

    ``pockets`` are the JSON summary's pocket records (``rank``, ``score``, ``probability``,
    ``centre``, ``residue_ids``, ``n_points``, ``colour``); ``residue_probability`` maps
    P2Rank residue ids (``A_100A``) to calibrated probabilities, or is ``None`` when the
    residues CSV was not written (the residue toggle is then disabled).
    """

    name: str
    structure: str
    structure_format: str  # "pdb" or "cif"
    points: np.ndarray  # [P, 3]
    point_probability: np.ndarray  # [P], 0.01..0.99 as in the points PDB
    point_rank: np.ndarray  # [P], pocket rank, 0 for none
    pockets: tuple[dict[str, Any], ...]
    residue_probability: dict[str, float] | None = None
    n_atoms: int = 0
    # atom coordinates of the ligands an evaluation scores against (the report's pages), one array each
    reference_ligands: tuple[np.ndarray, ...] = ()
    source: str = ""
    model_name: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)


def _decompressed(raw: bytes, what: str) -> bytes:
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise PockNetError(f"{what}: cannot decompress ({exc})") from exc
    return raw


def _structure_text(raw: bytes, what: str) -> str:
    return _decompressed(raw, what).decode("utf-8", errors="replace")


def _format_of(name: str) -> str:
    return "cif" if name.lower().removesuffix(".gz").endswith((".cif", ".mmcif")) else "pdb"


def viewer_data_from_prediction(prediction: Any, structure: bytes | None = None) -> ViewerData:
    """Page data of a :class:`~pocknet.predict.prediction.Prediction`.

    ``structure``: the structure file's bytes; read from ``prediction.features.source``
    (checked against its sha256) when not given.
    """
    f = prediction.features
    raw = structure_bytes(f) if structure is None else structure
    residues = residues_table(prediction)
    ids = (residues["chain"].astype(str) + "_" + residues["residue_label"].astype(str)).tolist()
    summary = json_summary(prediction)
    return ViewerData(
        name=prediction.name,
        structure=_structure_text(raw, str(f.source)),
        structure_format=_format_of(structure_file_name(prediction.name, f.source)),
        points=np.asarray(f.points, dtype=np.float64).reshape(-1, 3),
        point_probability=np.clip(np.nan_to_num(np.asarray(prediction.probabilities, dtype=np.float64)), 0.01, 0.99),
        point_rank=point_pocket_ranks(prediction),
        pockets=tuple(summary["pockets"]),
        residue_probability=dict(zip(ids, residues["probability"].astype(float).tolist())),
        n_atoms=int(summary["counts"]["atoms"]),
        source=str(summary["source"]),
        model_name=str(summary["model_name"]),
        notes=tuple(str(n) for n in summary["notes"]),
    )


def _read_summary(path: Path) -> dict[str, Any]:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PockNetError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PockNetError(f"{path}: not a PockNet JSON summary ({exc})") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("pockets"), list) or "name" not in summary:
        raise PockNetError(f"{path}: not a PockNet JSON summary (no name and pockets)")
    return summary


def folder_summaries(folder: str | Path) -> list[Path]:
    """Every PockNet ``<name>.json`` summary under ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            head = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(head, dict) and isinstance(head.get("pockets"), list) and "source_sha256" in head:
            found.append(path)
    return found


def plain_name(structure: Path) -> str:
    """The file's name without ``.gz``: the name ``pocknet predict`` gives its outputs."""
    name = structure.name
    return name[:-3] if name.lower().endswith(".gz") else name


def find_summary(structure: str | Path, folder: str | Path) -> Path:
    """The ``<name>.json`` in ``folder`` that was predicted from ``structure``.

    Looked up by name (``1a4j.pdb`` → ``1a4j.pdb.json``; the copy ``1a4j.pdb_structure.pdb``
    → ``1a4j.pdb.json``), then by content (the summary's ``source_sha256``), so a renamed
    file is still found.

    Raises
    ------
    PockNetError
        When the folder does not exist, holds no PockNet prediction, or none of this
        structure: the message says which summaries it does hold.
    """
    structure, folder = Path(structure), Path(folder)
    if not folder.is_dir():
        raise PockNetError(f"{folder}: no such prediction folder")
    raw = _read_bytes(structure)
    digest = hashlib.sha256(raw).hexdigest()
    name = plain_name(structure)
    candidates = [folder / f"{name}.json"]
    copy = re.fullmatch(r"(.+)_structure\.(pdb|cif)", name)
    if copy:
        candidates.append(folder / f"{copy.group(1)}.json")
    for path in candidates:
        if path.is_file():
            summary = _read_summary(path)
            if _same_structure(raw, digest, summary, path.parent):
                return path
            raise PockNetError(
                f"{structure}: {path} was predicted from a different file "
                f"({summary.get('source')!s}, sha256 {str(summary.get('source_sha256'))[:12]}…, "
                f"this file {digest[:12]}…); the prediction folder does not match the structure"
            )
    others = [p for p in sorted(folder.glob("*.json"))]
    for path in others:
        try:
            summary = _read_summary(path)
        except PockNetError:
            continue
        if _same_structure(raw, digest, summary, path.parent):
            return path
    held = [p.name.removesuffix(".json") for p in others]
    listed = ", ".join(held[:8]) + (f" … ({len(held)} in all)" if len(held) > 8 else "")
    raise PockNetError(
        f"{structure}: {folder} holds no prediction of this structure"
        + (f" (it holds: {listed})" if held else " (no <name>.json summary in it)")
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PockNetError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PockNetError(f"{path}: is a folder, not a structure file") from None
    except OSError as exc:
        raise PockNetError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def _same_structure(raw: bytes, digest: str, summary: dict[str, Any], folder: Path) -> bool:
    """The file given is the summary's source, or its (decompressed) structure copy."""
    if summary.get("source_sha256") == digest:
        return True
    copy = summary.get("structure_file")
    if copy and (folder / copy).is_file():
        return (folder / copy).read_bytes() == _decompressed(raw, "structure")
    return False


def load_folder_prediction(summary_path: str | Path, structure: str | Path | None = None) -> ViewerData:
    """Page data from a PockNet output folder: ``<name>.json``, ``<name>_points.pdb`` and the structure.

    Parameters
    ----------
    summary_path
        The structure's ``<name>.json``.
    structure
        The structure file; default: the copy the summary names (``structure_file``).

    Raises
    ------
    PockNetError
        A file is missing or unreadable, or the files do not belong together (point count
        differs from the summary's, a point names a pocket the summary lacks).
    """
    summary_path = Path(summary_path)
    folder = summary_path.parent
    summary = _read_summary(summary_path)
    name = str(summary["name"])
    if structure is None:
        copy = summary.get("structure_file")
        if not copy:
            raise PockNetError(
                f"{summary_path}: no structure copy beside it (predicted without the pml and cxc formats); "
                f"give the structure: pocknet view STRUCTURE {folder}"
            )
        structure = folder / copy
    structure = Path(structure)
    if not structure.is_file():
        raise PockNetError(f"{structure}: missing (the structure of {summary_path.name})")
    points_path = folder / f"{name}_points.pdb"
    if not points_path.is_file():
        raise PockNetError(f"{points_path}: missing (the SAS points of {name}; predict with the pdb format)")
    try:
        points = read_points_pdb(points_path)
    except Exception as exc:
        raise PockNetError(f"{points_path}: cannot read the points ({exc})") from exc
    expected = (summary.get("counts") or {}).get("points")
    if expected is not None and int(expected) != len(points):
        raise PockNetError(
            f"{points_path}: {len(points)} points, but {summary_path.name} counts {expected}: "
            "files of different runs"
        )
    ranks = {int(p["rank"]) for p in summary["pockets"]}
    strays = sorted(set(points["pocket_rank"].astype(int).tolist()) - ranks - {0})
    if strays:
        raise PockNetError(
            f"{points_path}: points of pocket(s) {strays[:5]} that {summary_path.name} does not list: "
            "files of different runs"
        )
    residues = None
    residues_path = folder / f"{name}_residues.csv"
    if residues_path.is_file():
        try:
            table = pd.read_csv(residues_path, dtype={"chain": str, "residue_label": str}, keep_default_na=False)
            ids = (table["chain"].astype(str) + "_" + table["residue_label"].astype(str)).tolist()
            residues = dict(zip(ids, pd.to_numeric(table["probability"], errors="coerce").astype(float).tolist()))
        except Exception as exc:
            raise PockNetError(f"{residues_path}: cannot read the residue scores ({exc})") from exc
    counts = summary.get("counts") or {}
    return ViewerData(
        name=name,
        structure=_structure_text(_read_bytes(structure), str(structure)),
        structure_format=_format_of(structure.name),
        points=points[["x", "y", "z"]].to_numpy(dtype=np.float64),
        point_probability=points["probability"].to_numpy(dtype=np.float64),
        point_rank=points["pocket_rank"].to_numpy(dtype=np.int64),
        pockets=tuple(sorted(summary["pockets"], key=lambda p: int(p["rank"]))),
        residue_probability=residues,
        n_atoms=int(counts.get("atoms") or 0),
        source=str(summary.get("source") or ""),
        model_name=str(summary.get("model_name") or ""),
        notes=tuple(str(n) for n in summary.get("notes") or ()),
    )

