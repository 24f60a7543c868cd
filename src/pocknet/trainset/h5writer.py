"""Stream proteins into a new pocknet-h5 training file (layout: :mod:`pocknet.trainset.h5schema`).

:class:`H5Writer` buffers at most one chunk per dataset and writes whole
chunks, so memory stays flat however many proteins are added, and publishes
the file by renaming a temporary file only when the writing succeeded. Groups
and datasets are created without modification times and in a fixed order, so
the same inputs give the same bytes.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import h5py
import numpy as np

from pocknet import __version__
from pocknet.atomic import atomic_path
from pocknet.errors import ConfigError
from pocknet.trainset.h5schema import FORMAT, FORMAT_VERSION, PROTEIN_STRINGS, RESIDUE_STRINGS
from pocknet.trainset.neighbours import NEIGHBOUR_DEFINITIONS, PAD_DISTANCE, PAD_INDEX

if TYPE_CHECKING:  # annotations only: importing the writer pulls in no featurisation code
    from pocknet.featurize.features import ProteinFeatures

__all__ = ["H5Writer"]

_EMBEDDING_CHUNK_BYTES = 1 << 20
_RESIDUE_CHUNK = 16384
_PROTEIN_CHUNK = 1024


def _encode(values: Sequence[str] | np.ndarray, width: int | None, what: str) -> np.ndarray:
    """UTF-8 encode to fixed-length bytes; ``width=None`` sizes to the longest value."""
    encoded = [str(v).encode("utf-8") for v in np.asarray(values).reshape(-1).tolist()]
    longest = max((len(e) for e in encoded), default=0)
    if width is None:
        width = max(1, longest)
    elif longest > width:
        raise ValueError(f"{what}: value longer than {width} bytes")
    return np.asarray(encoded, dtype=f"S{width}")


def _group(parent: h5py.Group, name: str) -> h5py.Group:
    """Create a group without modification times (keeps output bytes reproducible)."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


class _Column:
    """One appendable dataset that only ever writes whole chunks (until the final flush).

    Appending a 4k-point protein into a 64k-row compressed chunk would
    otherwise decompress and recompress that chunk sixteen times.
    """

    def __init__(self, dataset: h5py.Dataset):
        self.dataset = dataset
        self.rows = dataset.chunks[0]
        self.pending: list[np.ndarray] = []
        self.n_pending = 0

    def append(self, values: np.ndarray) -> None:
        if len(values):
            self.pending.append(np.ascontiguousarray(values, dtype=self.dataset.dtype))
            self.n_pending += len(values)
        if self.n_pending >= self.rows:
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        if not self.n_pending:
            return
        data = np.concatenate(self.pending) if len(self.pending) > 1 else self.pending[0]
        n_write = len(data) if final else (len(data) // self.rows) * self.rows
        if n_write:
            start = self.dataset.shape[0]
            self.dataset.resize(start + n_write, axis=0)
            self.dataset[start : start + n_write] = data[:n_write]
        rest = data[n_write:]
        self.pending = [rest] if len(rest) else []
        self.n_pending = len(rest)


class H5Writer:
    """Stream proteins into a new training HDF5 file (layout: :mod:`pocknet.trainset.h5schema`).

    Parameters
    ----------
    path : str or Path
        Final file; written as a temporary file beside it and renamed over it
        by :meth:`close`. On an exception inside ``with H5Writer(...)`` (or
        :meth:`abort`) the temporary file is deleted and ``path`` is untouched.
    feature_names : sequence of str
        Names of the tabular columns; every added protein must have exactly
        these ``descriptor_names``.
    k : int
        Neighbours per point.
    neighbour_distance : {"ca", "centroid", "min_atom"}
        Definition used by :func:`pocknet.trainset.neighbours.nearest_residues`.
    embedding_model : str or None
        Name of the embedding model, ``"none"``/None when there are none.
    embedding_layer : int or None
        Layer the embeddings come from (stored as -1 when None).
    embedding_dim : int
        ``D``; 0 means no ``residues/embedding`` dataset.
    params_json : str
        JSON with the parameters that produced the file (checked to parse).
    chunk_points : int
        Rows per chunk of the point datasets.
    compression : {"gzip", "lzf", None}
        gzip uses level 4; both use the byte-shuffle filter.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        feature_names: Sequence[str],
        k: int,
        neighbour_distance: str,
        embedding_model: str | None,
        embedding_layer: int | None,
        embedding_dim: int,
        params_json: str,
        chunk_points: int = 16384,
        compression: str | None = "gzip",
    ):
        self.path = Path(path)
        self.feature_names = tuple(str(n) for n in feature_names)
        if not self.feature_names:
            raise ConfigError(f"{self.path}: feature_names is empty")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ConfigError(f"{self.path}: k must be a positive integer, got {k!r}")
        self.k = int(k)
        if neighbour_distance not in NEIGHBOUR_DEFINITIONS:
            raise ConfigError(
                f"{self.path}: unknown neighbour_distance {neighbour_distance!r}; known: {list(NEIGHBOUR_DEFINITIONS)}"
            )
        self.neighbour_distance = str(neighbour_distance)
        if (
            isinstance(embedding_dim, bool)
            or not isinstance(embedding_dim, (int, np.integer))
            or embedding_dim < 0
        ):
            raise ConfigError(f"{self.path}: embedding_dim must be an integer >= 0, got {embedding_dim!r}")
        self.embedding_dim = int(embedding_dim)
        model = "none" if embedding_model is None else str(embedding_model)
        if self.embedding_dim == 0:
            model, embedding_layer = "none", None
        elif model == "none":
            raise ConfigError(f"{self.path}: embedding_dim {embedding_dim} but embedding_model is 'none'")
        try:
            json.loads(params_json)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{self.path}: params_json is not valid JSON ({exc})") from exc
        if compression not in ("gzip", "lzf", None):
            raise ConfigError(f"{self.path}: compression must be 'gzip', 'lzf' or None, got {compression!r}")
        if int(chunk_points) < 1:
            raise ConfigError(f"{self.path}: chunk_points must be positive, got {chunk_points!r}")
        self._compression = compression
        self._chunk_points = int(chunk_points)

        self._stack = ExitStack()
        self._closed = False
        try:
            tmp = self._stack.enter_context(atomic_path(self.path))
            self._h5 = h5py.File(tmp, "w")
            self._stack.callback(self._h5.close)
            self._create_layout(model, embedding_layer, params_json)
        except BaseException as exc:
            self._closed = True
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._ids: set[str] = set()
        self._strings: dict[str, list[str]] = {name: [] for name in PROTEIN_STRINGS}
        self._point_offset = [0]
        self._residue_offset = [0]

    # -- layout
    def _dataset(
        self, group: h5py.Group, name: str, tail: tuple[int, ...], dtype: Any, rows: int
    ) -> h5py.Dataset:
        options: dict[str, Any] = {}
        if self._compression == "gzip":
            options = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
        elif self._compression == "lzf":
            options = {"compression": "lzf", "shuffle": True}
        return group.create_dataset(
            name,
            shape=(0, *tail),
            maxshape=(None, *tail),
            chunks=(max(1, rows), *tail),
            dtype=dtype,
            track_times=False,
            **options,
        )

    def _create_layout(self, model: str, layer: int | None, params_json: str) -> None:
        f, k, cp = self._h5, self.k, self._chunk_points
        attrs = f.attrs
        attrs["format"] = FORMAT
        attrs["format_version"] = FORMAT_VERSION
        attrs["feature_names"] = np.asarray(self.feature_names, dtype=h5py.string_dtype())
        attrs["k"] = k
        attrs["neighbour_distance"] = self.neighbour_distance
        attrs["embedding_model"] = model
        attrs["embedding_layer"] = -1 if layer is None else int(layer)
        attrs["embedding_dim"] = self.embedding_dim
        attrs["params_json"] = params_json
        attrs["created_by"] = f"pocknet {__version__}"
        points, residues = _group(f, "points"), _group(f, "residues")
        _group(f, "proteins")
        n_features = len(self.feature_names)
        self._points = {
            "tabular": _Column(self._dataset(points, "tabular", (n_features,), "f4", cp)),
            "label": _Column(self._dataset(points, "label", (), "i1", cp)),
            "ligand_distance": _Column(self._dataset(points, "ligand_distance", (), "f4", cp)),
            "protein": _Column(self._dataset(points, "protein", (), "i4", cp)),
            "residue": _Column(self._dataset(points, "residue", (), "i8", cp)),
            "neighbours": _Column(self._dataset(points, "neighbours", (k,), "i8", cp)),
            "neighbour_dist": _Column(self._dataset(points, "neighbour_dist", (k,), "f4", cp)),
            "coords": _Column(self._dataset(points, "coords", (3,), "f4", cp)),
        }
        rc = _RESIDUE_CHUNK
        self._residues = {
            name: _Column(self._dataset(residues, name, (), f"S{width}", rc))
            for name, width in RESIDUE_STRINGS.items()
        }
        self._residues["number"] = _Column(self._dataset(residues, "number", (), "i4", rc))
        self._residues["protein"] = _Column(self._dataset(residues, "protein", (), "i4", rc))
        if self.embedding_dim:
            rows = max(1, min(rc, _EMBEDDING_CHUNK_BYTES // (2 * self.embedding_dim)))
            self._residues["embedding"] = _Column(
                self._dataset(residues, "embedding", (self.embedding_dim,), "f2", rows)
            )

    # -- public
    @property
    def n_proteins(self) -> int:
        return len(self._point_offset) - 1

    def add(
        self,
        features: ProteinFeatures,
        *,
        split: str,
        neighbours: np.ndarray,
        neighbour_dist: np.ndarray,
        embeddings: np.ndarray | None,
    ) -> None:
        """Append one protein.

        Parameters
        ----------
        features : ProteinFeatures
        split : str
            E.g. ``"train"``, ``"val"``, ``"test"``; training selects proteins by it
            (:func:`pocknet.trainset.arrays.load_split`).
        neighbours, neighbour_dist : ndarray [P, k]
            As returned by :func:`pocknet.trainset.neighbours.nearest_residues`: LOCAL
            residue indices, ``-1`` / ``-1.0`` padding. Converted to global
            rows here, the one place that knows the protein's residue offset.
        embeddings : ndarray [R, D] or None
            One row per residue of ``features`` in its residue order; required
            when ``embedding_dim > 0`` and must be None otherwise.

        Raises
        ------
        ValueError
            Inputs inconsistent with each other or with the file (the message
            names the protein).
        """
        if self._closed:
            raise ValueError(f"{self.path}: writer is closed")
        who = f"{self.path}: protein {features.id!r}"
        split = str(split)
        if not split:
            raise ValueError(f"{who}: empty split name")
        if features.id in self._ids:
            raise ValueError(f"{who}: added twice")
        n_points = len(features.points)
        n_residues = len(features.residue_number)
        if tuple(features.descriptor_names) != self.feature_names:
            raise ValueError(f"{who}: descriptor names differ from the file's feature_names")
        if features.descriptors.shape != (n_points, len(self.feature_names)):
            raise ValueError(
                f"{who}: descriptors have shape {features.descriptors.shape}, expected ({n_points}, {len(self.feature_names)})"
            )
        neighbours = np.asarray(neighbours)
        neighbour_dist = np.asarray(neighbour_dist)
        for what, arr in (("neighbours", neighbours), ("neighbour_dist", neighbour_dist)):
            if arr.shape != (n_points, self.k):
                raise ValueError(f"{who}: {what} has shape {arr.shape}, expected ({n_points}, {self.k})")
        point_residue = np.asarray(features.point_residue, dtype=np.int64)
        if n_points and (point_residue.min() < 0 or point_residue.max() >= n_residues):
            raise ValueError(f"{who}: point_residue outside 0..{n_residues - 1}")
        pad = neighbours == PAD_INDEX
        if np.any(pad != (neighbour_dist == PAD_DISTANCE)):
            raise ValueError(f"{who}: neighbour padding (-1) and distance padding (-1.0) disagree")
        real = neighbours[~pad]
        if real.size and (real.min() < 0 or real.max() >= n_residues):
            raise ValueError(f"{who}: neighbours must be local residue indices 0..{n_residues - 1} or -1")
        if self.embedding_dim:
            if embeddings is None:
                raise ValueError(f"{who}: embeddings required (embedding_dim {self.embedding_dim})")
            embeddings = np.asarray(embeddings)
            if embeddings.shape != (n_residues, self.embedding_dim):
                raise ValueError(
                    f"{who}: embeddings have shape {embeddings.shape}, expected ({n_residues}, {self.embedding_dim})"
                )
            embeddings = embeddings.astype(np.float16)
            if not np.isfinite(embeddings).all():
                raise ValueError(f"{who}: embeddings are not finite in float16")
        elif embeddings is not None:
            raise ValueError(f"{who}: embeddings given but the file has embedding_dim 0")
        residue_strings = {}
        for name, width in RESIDUE_STRINGS.items():
            residue_strings[name] = _encode(
                getattr(features, f"residue_{name}"), width, f"{who} residue {name}"
            )

        protein = self.n_proteins
        base = self._residue_offset[-1]
        global_neighbours = np.where(pad, PAD_INDEX, neighbours.astype(np.int64) + base)
        p = self._points
        p["tabular"].append(features.descriptors)
        p["label"].append(features.labels)
        p["ligand_distance"].append(features.ligand_distance)
        p["protein"].append(np.full(n_points, protein, dtype=np.int32))
        p["residue"].append(point_residue + base)
        p["neighbours"].append(global_neighbours)
        p["neighbour_dist"].append(neighbour_dist)
        p["coords"].append(features.points)
        r = self._residues
        for name, values in residue_strings.items():
            r[name].append(values)
        r["number"].append(features.residue_number)
        r["protein"].append(np.full(n_residues, protein, dtype=np.int32))
        if self.embedding_dim:
            r["embedding"].append(embeddings)

        self._ids.add(features.id)
        for name, value in (
            ("id", features.id),
            ("name", features.name),
            ("source", features.source),
            ("source_sha256", features.source_sha256),
            ("split", split),
        ):
            self._strings[name].append(str(value))
        self._point_offset.append(self._point_offset[-1] + n_points)
        self._residue_offset.append(base + n_residues)

    def close(self) -> None:
        """Flush, write the protein table and publish the file at ``path``."""
        if self._closed:
            return
        self._closed = True
        try:
            for column in (*self._points.values(), *self._residues.values()):
                column.flush(final=True)
            proteins = self._h5["proteins"]
            for name, values in self._strings.items():
                data = _encode(values, None, f"{self.path}: protein {name}")
                self._dataset(proteins, name, (), data.dtype, _PROTEIN_CHUNK).resize(len(data), axis=0)
                proteins[name][:] = data
            for name, values in (
                ("point_offset", self._point_offset),
                ("residue_offset", self._residue_offset),
            ):
                ds = self._dataset(proteins, name, (), "i8", _PROTEIN_CHUNK)
                ds.resize(len(values), axis=0)
                ds[:] = np.asarray(values, dtype=np.int64)
        except BaseException as exc:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._stack.close()  # closes the HDF5 file, then renames it over path

    def __enter__(self) -> "H5Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._closed = True
            self._stack.__exit__(exc_type, exc, tb)
