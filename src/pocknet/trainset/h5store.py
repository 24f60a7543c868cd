"""The training-set HDF5 file: one file, written streaming, read lazily.

Points never carry residue embeddings themselves: a 2560-d vector per point
would be ~60 GB for the full training set. Instead every point stores the
GLOBAL row of its centre residue and of its ``k`` nearest residues in one
residue table, which holds each embedding once.

Layout (``format = "pocknet-h5"``, ``format_version = 1``)::

    /points/                       N = all SAS points of all proteins, protein by protein
        tabular         [N, F] f4  the F (=35) descriptor columns, named by attrs feature_names
        label           [N]    i1  1 positive, 0 negative, -1 neutral
        ligand_distance [N]    f4  Å to the nearest relevant ligand atom (inf: none)
        protein         [N]    i4  row in /proteins
        residue         [N]    i8  GLOBAL row in /residues of the point's centre residue
        neighbours      [N, k] i8  GLOBAL rows of the k nearest other residues, nearest first,
                                   -1 padding (only at the end of a row)
        neighbour_dist  [N, k] f4  Å, -1.0 exactly where neighbours is -1
        coords          [N, 3] f4  point coordinates
    /residues/                     R = all residues, protein by protein, in each protein's order
        embedding       [R, D] f2  absent when embedding_dim == 0
        chain           [R]    S4  fixed-length UTF-8 bytes, NUL padded
        number          [R]    i4
        icode           [R]    S1  b"" when absent
        name            [R]    S3
        one_letter      [R]    S1
        protein         [R]    i4  row in /proteins
    /proteins/                     P proteins, in the order they were added
        id, name, source, source_sha256, split   [P] S<n> fixed-length UTF-8 bytes
        point_offset    [P+1]  i8  protein p owns points   point_offset[p]:point_offset[p+1]
        residue_offset  [P+1]  i8  protein p owns residues residue_offset[p]:residue_offset[p+1]

    root attributes: format, format_version, feature_names (F strings), k,
    neighbour_distance ("ca" | "centroid" | "min_atom"), embedding_model ("none"
    when there are none), embedding_layer (-1 when none), embedding_dim (0 when
    none), params_json (the caller's JSON), created_by ("pocknet <version>").

Every dataset is chunked along its first axis, resizable (``maxshape=(None,
...)``) and compressed. :class:`H5Writer` buffers at most one chunk per
dataset and writes whole chunks, so memory stays flat however many proteins
are added, and publishes the file by renaming a temporary file only when the
writing succeeded. :class:`H5Reader` opens the file on first use in each
process, so it can be pickled into DataLoader workers. :func:`validate` checks
every cross-reference (offsets, residue and neighbour rows staying inside the
point's own protein) chunk by chunk.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import h5py
import numpy as np

from pocknet import __version__
from pocknet.atomic import atomic_path
from pocknet.errors import ConfigError, PockNetError
from pocknet.trainset.neighbours import NEIGHBOUR_DEFINITIONS, PAD_DISTANCE, PAD_INDEX

if TYPE_CHECKING:  # annotations only: reading an H5 file needs no featurisation code
    from pocknet.featurize.features import ProteinFeatures

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "H5FormatError",
    "H5Writer",
    "H5Reader",
    "validate",
]

FORMAT = "pocknet-h5"
FORMAT_VERSION = 1

# Fixed byte widths of the residue string columns (those of pocknet.structure.reader).
_RESIDUE_STRINGS = {"chain": 4, "icode": 1, "name": 3, "one_letter": 1}
_PROTEIN_STRINGS = ("id", "name", "source", "source_sha256", "split")
_POINT_DATASETS = (
    "tabular",
    "label",
    "ligand_distance",
    "protein",
    "residue",
    "neighbours",
    "neighbour_dist",
    "coords",
)
_RESIDUE_DATASETS = ("chain", "number", "icode", "name", "one_letter", "protein")
_EMBEDDING_CHUNK_BYTES = 1 << 20
_RESIDUE_CHUNK = 16384
_PROTEIN_CHUNK = 1024
_VALIDATE_ROWS = 1 << 16
# Chunk cache per dataset in the reader: holds a few decompressed chunks so
# neighbouring batches do not decompress the same chunk again.
_READ_CACHE_BYTES = 64 << 20


class H5FormatError(PockNetError):
    """An HDF5 training file is missing, unreadable, foreign, of another version or inconsistent."""


# --------------------------------------------------------------------------- writing


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
    """Stream proteins into a new training HDF5 file (see the module docstring for the layout).

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
        chunk_points: int = 65536,
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
        self._strings: dict[str, list[str]] = {name: [] for name in _PROTEIN_STRINGS}
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
            for name, width in _RESIDUE_STRINGS.items()
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
            E.g. ``"train"``, ``"val"``, ``"test"``; used by :meth:`H5Reader.split_indices`.
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
        for name, width in _RESIDUE_STRINGS.items():
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

    def abort(self) -> None:
        """Discard everything written; ``path`` is left as it was."""
        if self._closed:
            return
        self._closed = True
        exc = _Aborted()
        self._stack.__exit__(type(exc), exc, None)

    def __enter__(self) -> "H5Writer":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        elif not self._closed:
            self._closed = True
            self._stack.__exit__(exc_type, exc, tb)


class _Aborted(Exception):
    """Thrown into the temporary-file context to make it discard the file."""


# --------------------------------------------------------------------------- reading


def _open(path: Path) -> h5py.File:
    """Open and identify a pocknet-h5 file, turning every failure into :class:`H5FormatError`."""
    if not path.is_file():
        raise H5FormatError(f"{path}: no such file")
    try:
        handle = h5py.File(path, "r", rdcc_nbytes=_READ_CACHE_BYTES, rdcc_nslots=10007)
    except (OSError, ValueError) as exc:
        raise H5FormatError(
            f"{path}: not a readable HDF5 file (truncated or another format?): {exc}"
        ) from exc
    try:
        fmt = _attr(handle, "format")
        if fmt != FORMAT:
            raise H5FormatError(
                f"{path}: not a PockNet training file (format attribute {fmt!r}, expected {FORMAT!r})"
            )
        version = _attr(handle, "format_version")
        if version != FORMAT_VERSION:
            raise H5FormatError(
                f"{path}: pocknet-h5 format_version {version!r}, this PockNet reads {FORMAT_VERSION}; rebuild the file"
            )
        missing = [
            f"{group}/{name}"
            for group, names in (
                ("points", _POINT_DATASETS),
                ("residues", _RESIDUE_DATASETS),
                ("proteins", (*_PROTEIN_STRINGS, "point_offset", "residue_offset")),
            )
            for name in names
            if not isinstance(handle.get(f"{group}/{name}"), h5py.Dataset)
        ]
        if missing:
            raise H5FormatError(f"{path}: missing dataset(s) {missing}")
    except BaseException:
        handle.close()
        raise
    return handle


def _attr(handle: h5py.File, name: str) -> Any:
    """A root attribute as a plain Python value (None when absent)."""
    if name not in handle.attrs:
        return None
    value = handle.attrs[name]
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return tuple(v.decode("utf-8") if isinstance(v, bytes) else _plain(v) for v in value.tolist())
    return _plain(value)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _read_rows(dataset: h5py.Dataset, rows: np.ndarray) -> np.ndarray:
    """``dataset[rows]`` for sorted unique ``rows``, reading each touched chunk once.

    h5py's fancy indexing builds one hyperslab per index, which is slow for
    thousands of indices; reading one slice per touched chunk is bounded by
    the chunk count and decompresses nothing twice.
    """
    tail = dataset.shape[1:]
    if rows.size == 0:
        return np.empty((0, *tail), dtype=dataset.dtype)
    span = int(rows[-1] - rows[0] + 1)
    if dataset.chunks is None or span <= 2 * len(rows):
        block = dataset[int(rows[0]) : int(rows[-1]) + 1]
        return block[rows - rows[0]]
    chunk_id = rows // dataset.chunks[0]
    bounds = np.flatnonzero(np.diff(chunk_id)) + 1
    out = np.empty((len(rows), *tail), dtype=dataset.dtype)
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(rows)]):
        first, last = int(rows[lo]), int(rows[hi - 1])
        out[lo:hi] = dataset[first : last + 1][rows[lo:hi] - first]
    return out


def _take(dataset: h5py.Dataset, indices: np.ndarray) -> np.ndarray:
    """``dataset[indices]`` for any 1-D integer indices (unsorted, repeated)."""
    unique, inverse = np.unique(indices, return_inverse=True)
    return _read_rows(dataset, unique)[inverse.reshape(-1)]


class H5Reader:
    """Lazy reader of a pocknet-h5 file; safe to pickle into DataLoader workers.

    The file is opened (and its format checked) on construction and reopened
    the first time it is used in another process: h5py handles must not be
    shared across ``fork``, and are dropped when pickling.

    Raises
    ------
    H5FormatError
        The file is missing, not HDF5, truncated, not ``pocknet-h5`` or of
        another ``format_version``.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._h5: h5py.File | None = None
        self._pid: int | None = None
        self._file()

    def _file(self) -> h5py.File:
        if self._h5 is None or self._pid != os.getpid():
            self._h5 = _open(self.path)  # an inherited handle is abandoned, not closed
            self._pid = os.getpid()
        return self._h5

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "_h5": None, "_pid": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def close(self) -> None:
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5, self._pid = None, None

    def __enter__(self) -> "H5Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- metadata
    @property
    def attrs(self) -> dict[str, Any]:
        """Root attributes as plain Python values (``feature_names`` a tuple)."""
        handle = self._file()
        return {name: _attr(handle, name) for name in handle.attrs}

    @property
    def n_points(self) -> int:
        return int(self._file()["points/tabular"].shape[0])

    @property
    def n_residues(self) -> int:
        return int(self._file()["residues/protein"].shape[0])

    @property
    def n_proteins(self) -> int:
        return int(self._file()["proteins/id"].shape[0])

    @property
    def k(self) -> int:
        return int(_attr(self._file(), "k"))

    @property
    def embedding_dim(self) -> int:
        return int(_attr(self._file(), "embedding_dim"))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(_attr(self._file(), "feature_names"))

    def proteins(self) -> dict[str, np.ndarray]:
        """The protein table: ``id, name, source, source_sha256, split`` (str arrays) and both offsets ``[P+1]``."""
        group = self._file()["proteins"]
        table: dict[str, np.ndarray] = {
            name: np.char.decode(group[name][:], "utf-8") if len(group[name]) else np.zeros(0, dtype="<U1")
            for name in _PROTEIN_STRINGS
        }
        table["point_offset"] = group["point_offset"][:].astype(np.int64)
        table["residue_offset"] = group["residue_offset"][:].astype(np.int64)
        return table

    def split_indices(self, split: str) -> np.ndarray:
        """Point indices (int64, ascending) of all proteins whose split is ``split``; empty if none."""
        table = self.proteins()
        offsets = table["point_offset"]
        chosen = np.flatnonzero(table["split"] == split)
        starts, ends = offsets[chosen], offsets[chosen + 1]
        lengths = ends - starts
        total = int(lengths.sum())
        # concatenated aranges without a Python loop
        shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
        return (np.arange(total, dtype=np.int64) + shift).astype(np.int64)

    # -- data
    def point_slice(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``points/<name>`` (contiguous, so cheap: e.g. one protein's labels)."""
        return self._file()["points"][name][start:stop]

    def residue_embeddings(self) -> np.ndarray:
        """The whole residue embedding table ``[R, D]`` float16 (training keeps it in memory once)."""
        if self.embedding_dim == 0:
            raise H5FormatError(f"{self.path}: no embeddings (embedding_model none)")
        return self._file()["residues"]["embedding"][:]

    def batch(self, indices: np.ndarray | Sequence[int]) -> dict[str, np.ndarray]:
        """Gather point rows and, when present, their residue embeddings.

        Parameters
        ----------
        indices : 1-D int array
            Point indices in any order (repeats allowed); output rows follow it.

        Returns
        -------
        dict
            ``tabular [B,F] f4``, ``label [B] i1``, ``residue [B] i8``,
            ``neighbours [B,k] i8``, ``neighbour_dist [B,k] f4``; with
            embeddings also ``centre_embedding [B,D] f4`` and
            ``neighbour_embedding [B,k,D] f4`` (zeros at padding).
        """
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise ValueError(f"{self.path}: batch indices must be a 1-D integer array")
        idx = idx.astype(np.int64)
        n = self.n_points
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"{self.path}: point index out of range 0..{n - 1}")
        points = self._file()["points"]
        unique, inverse = np.unique(idx, return_inverse=True)
        inverse = inverse.reshape(-1)
        out = {
            name: _read_rows(points[name], unique)[inverse]
            for name in ("tabular", "label", "residue", "neighbours", "neighbour_dist")
        }
        if self.embedding_dim:
            table = self._file()["residues/embedding"]
            neighbours = out["neighbours"]
            real = neighbours >= 0
            rows = np.concatenate([out["residue"], neighbours[real]])
            vectors = _take(table, rows).astype(np.float32)
            b = len(idx)
            out["centre_embedding"] = vectors[:b]
            neighbour_embedding = np.zeros((b, self.k, table.shape[1]), dtype=np.float32)
            neighbour_embedding[real] = vectors[b:]
            out["neighbour_embedding"] = neighbour_embedding
        return out


# --------------------------------------------------------------------------- validation


def _chunks(n: int, rows: int | None = None) -> Iterator[tuple[int, int]]:
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
    feature_names = _attr(h5, "feature_names")
    k = _attr(h5, "k")
    dim = _attr(h5, "embedding_dim")
    if not isinstance(feature_names, tuple) or not feature_names:
        problems.add("attribute feature_names missing or empty")
        feature_names = None
    if not isinstance(k, int) or k < 1:
        problems.add(f"attribute k must be a positive integer, got {k!r}")
        k = None
    if not isinstance(dim, int) or dim < 0:
        problems.add(f"attribute embedding_dim must be an integer >= 0, got {dim!r}")
        dim = None
    if _attr(h5, "neighbour_distance") not in NEIGHBOUR_DEFINITIONS:
        problems.add(
            f"attribute neighbour_distance {_attr(h5, 'neighbour_distance')!r} not in {list(NEIGHBOUR_DEFINITIONS)}"
        )
    for name in ("embedding_model", "params_json", "created_by"):
        if not isinstance(_attr(h5, name), str):
            problems.add(f"attribute {name} missing or not a string")
    if isinstance(_attr(h5, "params_json"), str):
        try:
            json.loads(_attr(h5, "params_json"))
        except ValueError:
            problems.add("attribute params_json is not valid JSON")
    if not isinstance(_attr(h5, "embedding_layer"), int):
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
    expected_residues = {name: (r,) for name in _RESIDUE_DATASETS}
    expected_proteins = {name: (p,) for name in _PROTEIN_STRINGS}
    expected_proteins.update(point_offset=(p + 1,), residue_offset=(p + 1,))
    if dim:
        expected_residues["embedding"] = (r, dim)
    kinds = {"label": "i", "protein": "i", "residue": "i", "neighbours": "i", "number": "i"}
    kinds.update(
        {name: "f" for name in ("tabular", "ligand_distance", "neighbour_dist", "coords", "embedding")}
    )
    kinds.update({name: "S" for name in (*_RESIDUE_STRINGS, *_PROTEIN_STRINGS)})
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
