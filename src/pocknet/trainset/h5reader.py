"""Read a pocknet-h5 training file lazily (layout: :mod:`pocknet.trainset.h5schema`).

:class:`H5Reader` checks the format on opening and reopens the file on first
use in each process, so it can be pickled into DataLoader workers; training
reads whole proteins through :meth:`H5Reader.point_slice` (contiguous, cheap
with chunked compression) and the residue embedding table once.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pocknet.trainset.h5schema import (
    FORMAT,
    FORMAT_VERSION,
    POINT_DATASETS,
    PROTEIN_STRINGS,
    RESIDUE_DATASETS,
    H5FormatError,
    root_attr,
)

__all__ = ["H5Reader"]

# Chunk cache per dataset: holds a few decompressed chunks so neighbouring
# reads (consecutive proteins share chunks) do not decompress the same chunk again.
_READ_CACHE_BYTES = 64 << 20


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
        fmt = root_attr(handle, "format")
        if fmt != FORMAT:
            raise H5FormatError(
                f"{path}: not a PockNet training file (format attribute {fmt!r}, expected {FORMAT!r})"
            )
        version = root_attr(handle, "format_version")
        if version != FORMAT_VERSION:
            raise H5FormatError(
                f"{path}: pocknet-h5 format_version {version!r}, this PockNet reads {FORMAT_VERSION}; rebuild the file"
            )
        missing = [
            f"{group}/{name}"
            for group, names in (
                ("points", POINT_DATASETS),
                ("residues", RESIDUE_DATASETS),
                ("proteins", (*PROTEIN_STRINGS, "point_offset", "residue_offset")),
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
        return {name: root_attr(handle, name) for name in handle.attrs}

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
        return int(root_attr(self._file(), "k"))

    @property
    def embedding_dim(self) -> int:
        return int(root_attr(self._file(), "embedding_dim"))

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(root_attr(self._file(), "feature_names"))

    def proteins(self) -> dict[str, np.ndarray]:
        """The protein table: ``id, name, source, source_sha256, split`` (str arrays) and both offsets ``[P+1]``."""
        group = self._file()["proteins"]
        table: dict[str, np.ndarray] = {
            name: np.char.decode(group[name][:], "utf-8") if len(group[name]) else np.zeros(0, dtype="<U1")
            for name in PROTEIN_STRINGS
        }
        table["point_offset"] = group["point_offset"][:].astype(np.int64)
        table["residue_offset"] = group["residue_offset"][:].astype(np.int64)
        return table

    # -- data
    def point_slice(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of ``points/<name>`` (contiguous, so cheap: e.g. one protein's labels)."""
        return self._file()["points"][name][start:stop]

    def residue_embeddings(self) -> np.ndarray:
        """The whole residue embedding table ``[R, D]`` float16 (training keeps it in memory once)."""
        if self.embedding_dim == 0:
            raise H5FormatError(f"{self.path}: no embeddings (embedding_model none)")
        return self._file()["residues"]["embedding"][:]
