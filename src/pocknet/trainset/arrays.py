"""Training data from the H5 file: split arrays in memory, batches as tensor dicts.

A split's point columns (35 descriptors, labels, residue and neighbour rows)
are read protein by protein (contiguous slices, so fast with chunked gzip) and
kept in memory; residue embeddings stay one table (float16) and are gathered
per batch, never copied per point. CHEN11 is ~1.5 M points (~0.5 GB here).

Batches are built by ``__getitems__`` (whole index lists at once), so the
DataLoader does one gather per batch instead of one per point.

For the spatial-context model (``training.model.context``) each point also
gets its context points (:func:`pocknet.trainset.neighbours.k_nearest_points`,
computed here from the stored coordinates, per protein, never written to the
H5 file) as rows of the split's descriptor table; a batch carries the table
rows its points refer to (``context_tabular``) and per point their positions
in it (``context_index``) and distances (``context_dist``). ``pocknet predict``
builds the same arrays for one protein through :func:`with_context`.

A model trained without some descriptors (``training.exclude_features``) reads only the
columns it names; :func:`select_features` is the one place that picks them, for training
(:func:`load_split`) and for ``pocknet predict`` alike, so both feed the same columns in the
same order.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from pocknet.errors import PockNetError
from pocknet.trainset.neighbours import PAD_INDEX, k_nearest_points

if TYPE_CHECKING:  # readers are passed in: `pocknet predict` builds these arrays without h5py
    from pocknet.trainset.h5reader import H5Reader

__all__ = [
    "ContextSpec",
    "SplitArrays",
    "context_spec",
    "select_features",
    "load_split",
    "load_embeddings",
    "point_context",
    "with_context",
    "PointDataset",
    "passthrough_collate",
]


@dataclass(frozen=True)
class ContextSpec:
    """Which SAS points are a point's context (``training.model.context_*``)."""

    k: int
    radius: float
    stride: int


def context_spec(model_config: Any) -> ContextSpec | None:
    """The context definition of a :class:`pocknet.model.ModelConfig` (``None``: no context branch)."""
    if getattr(model_config, "context", "none") == "none":
        return None
    return ContextSpec(
        int(model_config.context_k), float(model_config.context_radius), int(model_config.context_stride)
    )


@dataclass(frozen=True)
class SplitArrays:
    tabular: np.ndarray  # [n, F] float32
    label: np.ndarray  # [n] int8
    protein: np.ndarray  # [n] int32 (row in the H5 protein table)
    residue: np.ndarray  # [n] int64 global residue row
    neighbours: np.ndarray  # [n, k] int64, -1 padding
    neighbour_dist: np.ndarray  # [n, k] float32, -1 padding
    # Spatial context (only when the model has it): rows of ``context_table``, which holds the
    # descriptors of every point of the split (neutral ones too: they are context, not targets).
    context_neighbours: np.ndarray | None = None  # [n, c] int32, -1 padding
    context_dist: np.ndarray | None = None  # [n, c] float32 Å, -1 padding
    context_table: np.ndarray | None = None  # [m, F] float32, shared, not per point

    def __len__(self) -> int:
        return len(self.label)

    def without_neutral(self) -> "SplitArrays":
        keep = self.label >= 0
        per_point = (*_COLUMNS, "context_neighbours", "context_dist")
        return dataclasses.replace(
            self, **{f: getattr(self, f)[keep] for f in per_point if getattr(self, f) is not None}
        )

    @property
    def prevalence(self) -> float:
        labelled = self.label >= 0
        return float(np.mean(self.label[labelled] == 1)) if labelled.any() else 0.0


_COLUMNS = ("tabular", "label", "protein", "residue", "neighbours", "neighbour_dist")


def select_features(tabular: np.ndarray, available: Sequence[str], wanted: Sequence[str] | None) -> np.ndarray:
    """The ``wanted`` columns of ``tabular`` (whose columns are ``available``), in ``wanted``'s order.

    ``tabular`` itself when ``wanted`` is None or every column in order: the full model's arrays
    stay the very same, so its numbers cannot change.
    """
    if wanted is None or tuple(wanted) == tuple(available):
        return tabular
    position = {name: i for i, name in enumerate(available)}
    missing = [name for name in wanted if name not in position]
    if missing:
        raise PockNetError(f"the model reads descriptor {missing[0]!r}, which these features lack")
    return tabular[:, [position[name] for name in wanted]]


def point_context(
    coords: np.ndarray, offsets: Sequence[int] | np.ndarray, spec: ContextSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Context points of every point: rows ``[n, c]`` int32 of the same arrays (``-1`` padding), distances.

    ``offsets`` ``[P + 1]``: protein ``p`` owns rows ``offsets[p]:offsets[p + 1]``; context never
    crosses proteins. One protein's KD-tree at a time, so memory follows the largest protein.
    """
    n = len(coords)
    rows = np.full((n, spec.k), PAD_INDEX, dtype=np.int32)
    dist = np.full((n, spec.k), -1.0, dtype=np.float32)
    offsets = np.asarray(offsets, dtype=np.int64)
    for start, stop in itertools.pairwise(offsets):
        if stop <= start:
            continue
        local, d = k_nearest_points(coords[start:stop], spec.k, spec.radius, spec.stride)
        rows[start:stop] = np.where(local >= 0, local + start, PAD_INDEX)
        dist[start:stop] = d
    return rows, dist


def with_context(
    arrays: SplitArrays, coords: np.ndarray, offsets: Sequence[int] | np.ndarray, spec: ContextSpec | None
) -> SplitArrays:
    """``arrays`` with their context points attached (unchanged when ``spec`` is None).

    ``coords`` ``[n, 3]`` and ``offsets`` describe the same rows as ``arrays`` (all points, before
    neutral points are dropped). Training (:func:`load_split`) and ``pocknet predict``
    (:func:`pocknet.predict.predictor.features_batch_arrays`) both come through here.
    """
    if spec is None:
        return arrays
    if len(coords) != len(arrays):
        raise ValueError(f"with_context: {len(coords)} coordinates for {len(arrays)} points")
    rows, dist = point_context(np.asarray(coords, dtype=np.float32), offsets, spec)
    return dataclasses.replace(arrays, context_neighbours=rows, context_dist=dist, context_table=arrays.tabular)


def load_split(
    reader: H5Reader, split: str, context: ContextSpec | None = None, feature_names: Sequence[str] | None = None
) -> SplitArrays:
    """All points of the proteins in ``split``, in file order; with ``context``, their context points.

    ``feature_names``: the descriptor columns to keep (:func:`select_features`; None: all).
    """
    table = reader.proteins()
    offsets = table["point_offset"]
    chosen = np.flatnonzero(table["split"] == split)
    columns = (*_COLUMNS, "coords") if context is not None else _COLUMNS
    parts: dict[str, list[np.ndarray]] = {name: [] for name in columns}
    for p in chosen:
        for name in columns:
            parts[name].append(reader.point_slice(name, offsets[p], offsets[p + 1]))
    k = reader.k
    empty = {
        "tabular": np.zeros((0, len(reader.feature_names)), np.float32),
        "neighbours": np.zeros((0, k), np.int64),
        "neighbour_dist": np.zeros((0, k), np.float32),
    }
    arrays = {
        name: np.concatenate(parts[name]) if parts[name] else empty.get(name, np.zeros(0))
        for name in _COLUMNS
    }
    split_arrays = SplitArrays(
        tabular=select_features(arrays["tabular"].astype(np.float32), reader.feature_names, feature_names),
        label=arrays["label"].astype(np.int8),
        protein=arrays["protein"].astype(np.int32),
        residue=arrays["residue"].astype(np.int64),
        neighbours=arrays["neighbours"].astype(np.int64),
        neighbour_dist=arrays["neighbour_dist"].astype(np.float32),
    )
    if context is None:
        return split_arrays
    counts = [len(part) for part in parts["coords"]]
    coords = np.concatenate(parts["coords"]) if counts else np.zeros((0, 3), np.float32)
    return with_context(split_arrays, coords, np.concatenate([[0], np.cumsum(counts)]), context)


def load_embeddings(reader: H5Reader) -> torch.Tensor | None:
    """The residue embedding table [R, D] as float16 (None for a tabular-only file)."""
    if reader.embedding_dim == 0:
        return None
    return torch.from_numpy(reader.residue_embeddings())


class PointDataset(Dataset):
    """Points of one split; ``__getitems__`` returns a ready batch dict."""

    def __init__(self, arrays: SplitArrays, embeddings: torch.Tensor | None) -> None:
        self.arrays = arrays
        self.embeddings = embeddings
        self._tabular = torch.from_numpy(arrays.tabular)
        self._label = torch.from_numpy(arrays.label.astype(np.float32))
        self._protein = torch.from_numpy(arrays.protein)
        self._residue = torch.from_numpy(arrays.residue)
        self._neighbours = torch.from_numpy(arrays.neighbours)
        self._dist = torch.from_numpy(arrays.neighbour_dist)
        self._context = arrays.context_neighbours is not None
        if self._context:
            assert arrays.context_dist is not None and arrays.context_table is not None
            self._context_rows = torch.from_numpy(arrays.context_neighbours)
            self._context_dist = torch.from_numpy(arrays.context_dist)
            self._context_table = torch.from_numpy(arrays.context_table)

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.__getitems__([index])

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        idx = torch.as_tensor(indices, dtype=torch.long)
        batch = {
            "tabular": self._tabular[idx],
            "label": self._label[idx],
            "protein": self._protein[idx],
            "index": idx,
        }
        if self.embeddings is not None:
            neighbours = self._neighbours[idx]
            mask = neighbours >= 0
            batch["centre_embedding"] = self.embeddings[self._residue[idx]].float()
            gathered = self.embeddings[neighbours.clamp(min=0)].float()
            batch["neighbour_embedding"] = gathered * mask.unsqueeze(-1)
            batch["neighbour_dist"] = self._dist[idx]
            batch["neighbour_mask"] = mask
        if self._context:
            batch.update(self._context_batch(idx))
        return batch

    def _context_batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """The table rows these points refer to, once each, and every point's positions in it."""
        rows = self._context_rows[idx].long()
        real = rows >= 0
        # torch.unique(sorted=True, return_inverse=True) without the sort: mark the rows in use,
        # number them in table order. Linear in the table, which is cheap next to a sort of B x k.
        marked = torch.zeros(len(self._context_table), dtype=torch.bool)
        marked[rows[real]] = True
        used = marked.nonzero().squeeze(1)
        position = torch.cumsum(marked, 0) - 1
        index = torch.where(real, position[rows.clamp(min=0)], PAD_INDEX)
        return {
            "context_tabular": self._context_table[used],
            "context_index": index,
            "context_dist": self._context_dist[idx],
        }


def passthrough_collate(batch: Any) -> Any:
    """``__getitems__`` already built the batch (module-level: picklable for workers)."""
    return batch
