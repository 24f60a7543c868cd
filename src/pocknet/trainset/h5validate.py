"""Check every invariant of a pocknet-h5 training file (layout: :mod:`pocknet.trainset.h5schema`).

:func:`validate` checks shapes, dtypes and attributes, then every
cross-reference (offsets, residue and neighbour rows staying inside the
point's own protein) chunk by chunk, so memory stays bounded for any file
size; it reports all violations at once rather than the first.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

import h5py
import numpy as np

from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.h5schema import (
    PROTEIN_STRINGS,
    RESIDUE_DATASETS,
    RESIDUE_STRINGS,
    H5FormatError,
    root_attr,
)
from pocknet.trainset.neighbours import NEIGHBOUR_DEFINITIONS, PAD_DISTANCE, PAD_INDEX

__all__ = ["validate"]

# Point rows checked per step: bounds memory for any file size (tests lower it).
_VALIDATE_ROWS = 1 << 16


def _chunks(n: int, rows: int | None = None) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` ranges of at most ``rows`` (default ``_VALIDATE_ROWS``) covering ``0..n``."""
    rows = rows or _VALIDATE_ROWS
    for start in range(0, n, rows):
        yield start, min(n, start + rows)


class _Problems:
    """Counts violations per invariant and remembers the first offending row."""

    def __init__(self) -> None:
        self.items: dict[str, list[int]] = {}
        self.order: list[str] = []

    def add(self, message: str, bad: np.ndarray | None = None, start: int = 0) -> None:
        if bad is None:
            count, first = 1, -1
        else:
            hits = np.flatnonzero(np.asarray(bad).reshape(len(bad), -1).any(axis=1))
            if not hits.size:
                return
            count, first = len(hits), start + int(hits[0])
        if message not in self.items:
            self.items[message] = [0, first]
            self.order.append(message)
        self.items[message][0] += count

    def lines(self) -> list[str]:
        out = []
        for message in self.order:
            count, first = self.items[message]
            out.append(message if first < 0 else f"{message}: {count} row(s), first at {first}")
        return out


def _check_structure(h5: h5py.File, problems: _Problems) -> dict[str, Any] | None:
    """Shapes, dtypes and attributes; returns sizes when deep checks are safe."""
    feature_names = root_attr(h5, "feature_names")
    k = root_attr(h5, "k")
    dim = root_attr(h5, "embedding_dim")
    if not isinstance(feature_names, tuple) or not feature_names:
        problems.add("attribute feature_names missing or empty")
        feature_names = None
    if not isinstance(k, int) or k < 1:
        problems.add(f"attribute k must be a positive integer, got {k!r}")
        k = None
    if not isinstance(dim, int) or dim < 0:
        problems.add(f"attribute embedding_dim must be an integer >= 0, got {dim!r}")
        dim = None
    if root_attr(h5, "neighbour_distance") not in NEIGHBOUR_DEFINITIONS:
        problems.add(
            f"attribute neighbour_distance {root_attr(h5, 'neighbour_distance')!r} not in {list(NEIGHBOUR_DEFINITIONS)}"
        )
    for name in ("embedding_model", "params_json", "created_by"):
        if not isinstance(root_attr(h5, name), str):
            problems.add(f"attribute {name} missing or not a string")
    if isinstance(root_attr(h5, "params_json"), str):
        try:
            json.loads(root_attr(h5, "params_json"))
        except ValueError:
            problems.add("attribute params_json is not valid JSON")
    if not isinstance(root_attr(h5, "embedding_layer"), int):
        problems.add("attribute embedding_layer missing or not an integer")

    points, residues, proteins = h5["points"], h5["residues"], h5["proteins"]
    n = points["tabular"].shape[0]
    r = residues["protein"].shape[0]
    p = proteins["id"].shape[0]
    expected_points = {
        "tabular": (n, len(feature_names) if feature_names else None),
        "label": (n,),
        "ligand_distance": (n,),
        "protein": (n,),
        "residue": (n,),
        "neighbours": (n, k),
        "neighbour_dist": (n, k),
        "coords": (n, 3),
    }
    expected_residues = {name: (r,) for name in RESIDUE_DATASETS}
    expected_proteins = {name: (p,) for name in PROTEIN_STRINGS}
    expected_proteins.update(point_offset=(p + 1,), residue_offset=(p + 1,))
    if dim:
        expected_residues["embedding"] = (r, dim)
    kinds = {"label": "i", "protein": "i", "residue": "i", "neighbours": "i", "number": "i"}
    kinds.update(
        {name: "f" for name in ("tabular", "ligand_distance", "neighbour_dist", "coords", "embedding")}
    )
    kinds.update({name: "S" for name in (*RESIDUE_STRINGS, *PROTEIN_STRINGS)})
    kinds.update(point_offset="i", residue_offset="i")
    for group, expected in (
        ("points", expected_points),
        ("residues", expected_residues),
        ("proteins", expected_proteins),
    ):
        for name, shape in expected.items():
            ds = h5[group].get(name)
            if not isinstance(ds, h5py.Dataset):
                problems.add(f"{group}/{name} missing")
                continue
            if len(ds.shape) != len(shape) or any(
                want is not None and got != want for got, want in zip(ds.shape, shape)
            ):
                problems.add(
                    f"{group}/{name} has shape {ds.shape}, expected {tuple('?' if s is None else s for s in shape)}"
                )
            if (
                kinds.get(name)
                and ds.dtype.kind != kinds[name]
                and not (kinds[name] == "i" and ds.dtype.kind == "u")
            ):
                problems.add(f"{group}/{name} has dtype {ds.dtype}, expected kind {kinds[name]!r}")
    if dim == 0 and "embedding" in residues:
        problems.add("residues/embedding present but embedding_dim is 0")
    if problems.items:
        return None

    offsets = {}
    for name, total in (("point_offset", n), ("residue_offset", r)):
        off = proteins[name][:].astype(np.int64)
        offsets[name] = off
        if off[0] != 0:
            problems.add(f"proteins/{name} starts at {off[0]}, not 0")
        if np.any(np.diff(off) < 0):
            problems.add(f"proteins/{name} decreases")
        if off[-1] != total:
            problems.add(f"proteins/{name} ends at {off[-1]}, not {total}")
    if problems.items:
        return None
    return {"n": n, "r": r, "k": k, "dim": dim, **offsets}


def validate(path: str | Path) -> None:
    """Check every invariant of a pocknet-h5 file; raise one error listing all violations.

    Point datasets are read ``65536`` rows at a time, so memory stays bounded
    for any file size. Checked: shapes against each other and against the
    attributes; offsets (start 0, non-decreasing, end at N / R);
    ``points/protein`` and ``residues/protein`` against the offsets; centre
    residue and non-padding neighbours inside the point's own protein,
    distinct, never the centre residue; padding only as (-1, -1.0) pairs at
    the end of a row; neighbour distances finite, non-negative and
    non-decreasing; ``tabular``, ``coords`` and ``embedding`` finite;
    ``ligand_distance`` not NaN; labels in {-1, 0, 1}.

    Raises
    ------
    H5FormatError
        Naming the file and every violated invariant.
    """
    path = Path(path)
    with H5Reader(path) as reader:
        h5 = reader._file()
        problems = _Problems()
        sizes = _check_structure(h5, problems)
        if sizes is not None:
            _check_points(h5, sizes, problems)
            _check_residues(h5, sizes, problems)
    if problems.items:
        listing = "\n".join(f"  - {line}" for line in problems.lines())
        raise H5FormatError(f"{path}: invalid pocknet-h5 file:\n{listing}")


def _check_points(h5: h5py.File, sizes: Mapping[str, Any], problems: _Problems) -> None:
    points = h5["points"]
    point_offset, residue_offset = sizes["point_offset"], sizes["residue_offset"]
    for start, stop in _chunks(sizes["n"]):
        rows = np.arange(start, stop)
        owner = np.searchsorted(point_offset, rows, side="right") - 1
        lo, hi = residue_offset[owner], residue_offset[owner + 1]
        protein = points["protein"][start:stop]
        problems.add("points/protein disagrees with proteins/point_offset", protein != owner, start)
        residue = points["residue"][start:stop].astype(np.int64)
        problems.add(
            "points/residue outside the point's own protein", (residue < lo) | (residue >= hi), start
        )
        neighbours = points["neighbours"][start:stop].astype(np.int64)
        dist = points["neighbour_dist"][start:stop]
        pad = neighbours == PAD_INDEX
        problems.add("neighbour padding not paired as (-1, -1.0)", pad != (dist == PAD_DISTANCE), start)
        problems.add("padding before a real neighbour", pad[:, :-1] & ~pad[:, 1:], start)
        outside = ~pad & ((neighbours < lo[:, None]) | (neighbours >= hi[:, None]))
        problems.add("points/neighbours outside the point's own protein (or negative)", outside, start)
        problems.add(
            "points/neighbours contain the centre residue", ~pad & (neighbours == residue[:, None]), start
        )
        ordered = np.sort(np.where(pad, PAD_INDEX, neighbours), axis=1)
        problems.add(
            "points/neighbours repeat a residue",
            (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0),
            start,
        )
        real_dist = np.where(pad, 0.0, dist)
        problems.add(
            "points/neighbour_dist not finite or negative", ~pad & ~(np.isfinite(dist) & (dist >= 0)), start
        )
        both = ~pad[:, 1:]
        problems.add(
            "points/neighbour_dist not ascending", both & (real_dist[:, 1:] < real_dist[:, :-1]), start
        )
        tabular = points["tabular"][start:stop]
        problems.add("points/tabular not finite", ~np.isfinite(tabular), start)
        problems.add("points/coords not finite", ~np.isfinite(points["coords"][start:stop]), start)
        problems.add("points/ligand_distance is NaN", np.isnan(points["ligand_distance"][start:stop]), start)
        label = points["label"][start:stop]
        problems.add("points/label not in {-1, 0, 1}", (label < -1) | (label > 1), start)


def _check_residues(h5: h5py.File, sizes: Mapping[str, Any], problems: _Problems) -> None:
    residues = h5["residues"]
    residue_offset = sizes["residue_offset"]
    dim = sizes["dim"]
    rows_per_chunk = _VALIDATE_ROWS if not dim else max(1, (64 << 20) // (4 * dim))
    for start, stop in _chunks(sizes["r"], rows_per_chunk):
        owner = np.searchsorted(residue_offset, np.arange(start, stop), side="right") - 1
        problems.add(
            "residues/protein disagrees with proteins/residue_offset",
            residues["protein"][start:stop] != owner,
            start,
        )
        if dim:
            problems.add(
                "residues/embedding not finite", ~np.isfinite(residues["embedding"][start:stop]), start
            )
