"""Ranked pocket centres written by pocket predictors, one reader per output format.

Every reader turns one output file into an ``[n, 3]`` array of pocket centres **in rank
order** (row 0 = rank 1), the input of :func:`pocknet.metrics.pockets.evaluate_proteins`.
:class:`Predictions` finds the file of each structure in a predictions folder.

=========== ======================================= ==========================================
format      file per structure                      pocket centre, order
=========== ======================================= ==========================================
pocknet     ``<file>_predictions.csv``              ``center_x/y/z``, by ``rank``
p2rank      ``<file>_predictions.csv`` (1.x, 2.x)   ``center_x/y/z``, by ``rank``
fpocket     ``<stem>_out/<stem>_info.txt``          mean of the pocket's alpha-sphere centres
            + ``pockets/pocketN_vert.pqr``          (``<stem>_out.pdb`` STP records without
                                                    the .pqr), in ``_info.txt`` order
pocketnet   ``<stem>_pockets.json``                 ``pockets[].center``, by ``rank``
csv         one table: ``name, rank, x, y, z``      ``x, y, z`` (or ``center_*``), by ``rank``
=========== ======================================= ==========================================

``<file>`` is the structure's file name (``1a82a.pdb``; ``.gz`` dropped also matches),
``<stem>`` the name without suffixes (``1a82a``). The alpha-sphere centre and pocketnet's
centre are the definitions ``benchmarks/peers.py`` uses for the peers run in process
(:func:`alpha_sphere_centres`, :func:`pocketnet_centres`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pocknet.errors import PockNetError
from pocknet.structure.paths import structure_stem

__all__ = [
    "FORMATS",
    "Predictions",
    "alpha_sphere_centres",
    "detect_format",
    "name_candidates",
    "pocketnet_centres",
    "read_csv_table",
    "read_fpocket",
    "read_p2rank_centres",
    "read_pocketnet",
]

_P2RANK_SUFFIX = "_predictions.csv"
_POCKETNET_SUFFIX = "_pockets.json"
_FPOCKET_SUFFIX = "_info.txt"
_FLOAT = re.compile(r"-?\d+\.\d+")


def _centres(values: Any, path: Path) -> np.ndarray:
    """``[n, 3]`` finite float64 centres or a one-line error naming the file."""
    try:
        centres = np.asarray(values, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError) as exc:
        raise PockNetError(f"{path}: pocket centres are not numbers ({exc})") from exc
    if not np.isfinite(centres).all():
        raise PockNetError(f"{path}: pocket centres contain missing or non-finite coordinates")
    return centres


def _read_table(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PockNetError(f"{path}: unreadable prediction file ({type(exc).__name__}: {exc})") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def read_p2rank_centres(path: str | Path) -> np.ndarray:
    """Ranked pocket centres from a P2Rank or PockNet ``*_predictions.csv`` (any 1.x/2.x column layout)."""
    path = Path(path)
    frame = _read_table(path)
    missing = [c for c in ("rank", "center_x", "center_y", "center_z") if c not in frame.columns]
    if missing:
        raise PockNetError(f"{path}: not a P2Rank predictions table (no column {', '.join(missing)})")
    if frame.empty:
        return np.zeros((0, 3))
    frame = frame.sort_values("rank", kind="stable")
    return _centres(frame[["center_x", "center_y", "center_z"]].to_numpy(), path)


def pocketnet_centres(pockets: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    """pocketnet's pocket centres (``center``), by ``rank`` (its order when ranks are absent)."""
    order = sorted(range(len(pockets)), key=lambda i: (pockets[i].get("rank", i + 1), i))
    return [[float(v) for v in pockets[i]["center"]] for i in order]


def read_pocketnet(path: str | Path) -> np.ndarray:
    """Ranked centres from pocketnet's ``<stem>_pockets.json`` (``PredictionResult.to_json``)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pockets = data["pockets"]
        return _centres(pocketnet_centres(pockets), path)
    except PockNetError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PockNetError(f"{path}: unreadable prediction file ({type(exc).__name__}: {exc})") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise PockNetError(f"{path}: not a pocketnet pockets JSON (needs pockets[].center; {exc!r})") from exc


def alpha_sphere_centres(pockets: Sequence[Sequence[Sequence[float]]]) -> list[list[float]]:
    """fpocket's pocket centre: the mean of its alpha-sphere centres (first 3 values of each sphere)."""
    return [np.asarray(spheres, dtype=np.float64)[:, :3].mean(axis=0).tolist() for spheres in pockets if len(spheres)]


def _pqr_xyz(line: str) -> list[float]:
    """x, y, z of a PQR/PDB atom line: the first 3 of the last 5 decimals (x y z charge radius) in
    a .pqr, the first 3 after the residue columns in a .pdb, robust to run-together columns."""
    floats = _FLOAT.findall(line[26:])
    return [float(v) for v in floats[:3]]


def _info_pockets(info: Path) -> list[int]:
    try:
        text = info.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PockNetError(f"{info}: unreadable prediction file ({exc.strerror or exc})") from exc
    numbers = [int(m.group(1)) for m in re.finditer(r"^\s*Pocket\s+(\d+)\s*:", text, flags=re.MULTILINE)]
    if not numbers and text.strip():
        raise PockNetError(f"{info}: not an fpocket _info.txt (no 'Pocket N :' blocks)")
    return numbers


def read_fpocket(info: str | Path) -> np.ndarray:
    """Ranked centres of an fpocket run from its ``<stem>_out/<stem>_info.txt``.

    Pockets in ``_info.txt`` order (fpocket's ranking); each centre is the mean of the pocket's
    alpha-sphere centres from ``pockets/pocketN_vert.pqr``, or, without the .pqr files, from the
    ``STP`` records of residue N in ``<stem>_out.pdb``.
    """
    info = Path(info)
    numbers = _info_pockets(info)
    out_dir = info.parent
    spheres: dict[int, list[list[float]]] = {}
    pdb = out_dir / (info.name[: -len(_FPOCKET_SUFFIX)] + "_out.pdb")
    for number in numbers:
        pqr = out_dir / "pockets" / f"pocket{number}_vert.pqr"
        if pqr.is_file():
            try:
                lines = pqr.read_text(encoding="utf-8", errors="replace").splitlines()
            except OSError as exc:
                raise PockNetError(f"{pqr}: unreadable prediction file ({exc.strerror or exc})") from exc
            spheres[number] = [_pqr_xyz(ln) for ln in lines if ln.startswith(("ATOM", "HETATM"))]
        elif not spheres and pdb.is_file():
            break  # no .pqr at all: read the STP records below
        else:
            raise PockNetError(f"{pqr}: missing (fpocket pocket {number} of {info} has no alpha spheres)")
    if numbers and not spheres:
        try:
            lines = pdb.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError as exc:
            raise PockNetError(f"{pdb}: unreadable prediction file ({exc.strerror or exc})") from exc
        for ln in lines:
            if ln.startswith("HETATM") and ln[17:20] == "STP":
                spheres.setdefault(int(ln[22:26]), []).append(_pqr_xyz(ln))
    for number in numbers:
        if not spheres.get(number) or any(len(s) != 3 for s in spheres[number]):
            raise PockNetError(f"{info}: pocket {number} has no readable alpha-sphere centres")
    return _centres(alpha_sphere_centres([spheres[n] for n in numbers]), info)


def read_csv_table(path: str | Path) -> dict[str, np.ndarray]:
    """A generic table of all structures' pockets: columns ``name, rank, x, y, z`` → name → centres."""
    path = Path(path)
    frame = _read_table(path)
    xyz = ["x", "y", "z"] if {"x", "y", "z"} <= set(frame.columns) else ["center_x", "center_y", "center_z"]
    missing = [c for c in ("name", "rank", *xyz) if c not in frame.columns]
    if missing:
        raise PockNetError(f"{path}: generic prediction table needs columns name, rank, x, y, z (missing {', '.join(missing)})")
    frame["name"] = frame["name"].astype(str).str.strip()
    frame = frame.sort_values(["name", "rank"], kind="stable")
    return {name: _centres(g[xyz].to_numpy(), path) for name, g in frame.groupby("name", sort=False)}


def name_candidates(structure: str | Path) -> list[str]:
    """Names a structure's predictions may be filed under: ``1abc.pdb.gz`` → 1abc.pdb.gz, 1abc.pdb, 1abc."""
    name = Path(structure).name
    names = [name, name[:-3] if name.lower().endswith(".gz") else name, structure_stem(name), name.split(".")[0]]
    return list(dict.fromkeys(n for n in names if n))


def _files(root: Path, suffix: str) -> Iterator[tuple[str, Path]]:
    """(key, file) for every file below ``root`` whose name ends in ``suffix``; key = name minus suffix."""
    for path in sorted(root.rglob(f"*{suffix}")):
        if path.is_file() and len(path.name) > len(suffix):
            yield path.name[: -len(suffix)], path


def _fpocket_files(root: Path) -> Iterator[tuple[str, Path]]:
    for key, path in _files(root, _FPOCKET_SUFFIX):
        if path.parent.name == f"{key}_out":
            yield key, path


_FOLDER_FORMATS: dict[str, tuple[Callable[[Path], Iterator[tuple[str, Path]]], Callable[[Path], np.ndarray], str]] = {
    "pocknet": (lambda root: _files(root, _P2RANK_SUFFIX), read_p2rank_centres, f"<file>{_P2RANK_SUFFIX}"),
    "p2rank": (lambda root: _files(root, _P2RANK_SUFFIX), read_p2rank_centres, f"<file>{_P2RANK_SUFFIX}"),
    "fpocket": (_fpocket_files, read_fpocket, f"<stem>_out/<stem>{_FPOCKET_SUFFIX}"),
    "pocketnet": (lambda root: _files(root, _POCKETNET_SUFFIX), read_pocketnet, f"<stem>{_POCKETNET_SUFFIX}"),
}
FORMATS: tuple[str, ...] = (*_FOLDER_FORMATS, "csv")


def detect_format(path: str | Path) -> str:
    """The format of a predictions file or folder (``auto``): a file is a generic CSV table;
    a folder is what its files are (P2Rank-layout CSVs with a PockNet JSON beside them: pocknet)."""
    path = Path(path)
    if not path.exists():
        raise PockNetError(f"{path}: no such predictions file or folder")
    if path.is_file():
        return "csv"
    first = next(_files(path, _P2RANK_SUFFIX), None)
    if first is not None:
        key, csv = first
        marker = csv.with_name(f"{key}.json")
        try:
            is_pocknet = marker.is_file() and "pocknet_version" in json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            is_pocknet = False
        return "pocknet" if is_pocknet else "p2rank"
    if next(_fpocket_files(path), None) is not None:
        return "fpocket"
    if next(_files(path, _POCKETNET_SUFFIX), None) is not None:
        return "pocketnet"
    if next(_files(path, ".csv"), None) is not None:
        return "csv"
    raise PockNetError(
        f"{path}: no predictions found (looked for *{_P2RANK_SUFFIX}, *_out/*{_FPOCKET_SUFFIX}, "
        f"*{_POCKETNET_SUFFIX}, *.csv)"
    )


class Predictions:
    """One method's predictions: a folder (or, for ``csv``, a table) → ranked centres per structure.

    Files are indexed once; a structure without a file has **no prediction** (``None``), which the
    evaluation counts as a miss and lists. An unreadable or malformed file is an error naming it.
    """

    def __init__(self, path: str | Path, fmt: str = "auto") -> None:
        self.path = Path(path)
        if fmt not in (*FORMATS, "auto"):
            raise PockNetError(f"unknown predictions format {fmt!r}; choose from {', '.join((*FORMATS, 'auto'))}")
        self.format = detect_format(self.path) if fmt == "auto" else fmt
        if not self.path.exists():
            raise PockNetError(f"{self.path}: no such predictions file or folder")
        self._tables: dict[str, np.ndarray] = {}
        self._files: dict[str, Path] = {}
        if self.format == "csv":
            tables = [self.path] if self.path.is_file() else [p for _, p in _files(self.path, ".csv")]
            for table in tables:
                for name, centres in read_csv_table(table).items():
                    if name in self._tables:
                        raise PockNetError(f"{table}: structure {name!r} also appears in another table")
                    self._tables[name] = centres
                    self._files[name] = table
            self.expected = "a row with name = <file> or <stem>"
        else:
            if not self.path.is_dir():
                raise PockNetError(f"{self.path}: {self.format} predictions must be a folder")
            find, self._read, self.expected = _FOLDER_FORMATS[self.format]
            for key, file in find(self.path):
                self._files.setdefault(key, file)  # the first (sorted) of duplicates
        if not self._files:
            raise PockNetError(f"{self.path}: no {self.format} prediction files (expected {self.expected})")

    def __len__(self) -> int:
        return len(self._files)

    def source(self, structure: str | Path) -> Path | None:
        """The prediction file of a structure, ``None`` when there is none."""
        for name in name_candidates(structure):
            if name in self._files:
                return self._files[name]
        return None

    def centres(self, structure: str | Path) -> np.ndarray | None:
        """Ranked ``[n, 3]`` pocket centres of a structure; ``None`` when it has no prediction."""
        for name in name_candidates(structure):
            if name in self._files:
                return self._tables[name] if self.format == "csv" else self._read(self._files[name])
        return None
