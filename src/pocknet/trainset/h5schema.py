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
...)``) and compressed. This module holds what the writer
(:mod:`pocknet.trainset.h5writer`), the reader (:mod:`pocknet.trainset.h5reader`)
and the validator (:mod:`pocknet.trainset.h5validate`) must agree on: the format
tag, the dataset names and string widths, the error type and how root attributes
decode, so that none of them imports another's internals.
"""

from __future__ import annotations

from typing import Any

import h5py
import numpy as np

from pocknet.errors import PockNetError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "POINT_DATASETS",
    "PROTEIN_STRINGS",
    "RESIDUE_DATASETS",
    "RESIDUE_STRINGS",
    "H5FormatError",
    "root_attr",
]

FORMAT = "pocknet-h5"
FORMAT_VERSION = 1

# Fixed byte widths of the residue string columns (those of pocknet.structure.reader).
RESIDUE_STRINGS = {"chain": 4, "icode": 1, "name": 3, "one_letter": 1}
PROTEIN_STRINGS = ("id", "name", "source", "source_sha256", "split")
POINT_DATASETS = (
    "tabular",
    "label",
    "ligand_distance",
    "protein",
    "residue",
    "neighbours",
    "neighbour_dist",
    "coords",
)
RESIDUE_DATASETS = ("chain", "number", "icode", "name", "one_letter", "protein")


class H5FormatError(PockNetError):
    """An HDF5 training file is missing, unreadable, foreign, of another version or inconsistent."""


def root_attr(handle: h5py.File, name: str) -> Any:
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
    """A numpy scalar as the Python scalar (so attributes compare and print like plain values)."""
    return value.item() if isinstance(value, np.generic) else value
