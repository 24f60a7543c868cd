"""Training data from the H5 file: split arrays in memory, batches as tensor dicts.

A split's point columns (35 descriptors, labels, residue and neighbour rows)
are read protein by protein (contiguous slices, so fast with chunked gzip) and
kept in memory; residue embeddings stay one table (float16) and are gathered
per batch, never copied per point. CHEN11 is ~1.5 M points (~0.5 GB here).

Batches are built by ``__getitems__`` (whole index lists at once), so the
DataLoader does one gather per batch instead of one per point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from pocknet.trainset.h5store import H5Reader

__all__ = ["SplitArrays", "load_split", "load_embeddings", "PointDataset", "passthrough_collate"]


@dataclass(frozen=True)
class SplitArrays:
    tabular: np.ndarray  # [n, F] float32
    label: np.ndarray  # [n] int8
    protein: np.ndarray  # [n] int32 (row in the H5 protein table)
    residue: np.ndarray  # [n] int64 global residue row
    neighbours: np.ndarray  # [n, k] int64, -1 padding
    neighbour_dist: np.ndarray  # [n, k] float32, -1 padding

    def __len__(self) -> int:
        return len(self.label)

    def without_neutral(self) -> "SplitArrays":
        keep = self.label >= 0
        return SplitArrays(*(getattr(self, f)[keep] for f in self.__dataclass_fields__))

    @property
    def prevalence(self) -> float:
        labelled = self.label >= 0
        return float(np.mean(self.label[labelled] == 1)) if labelled.any() else 0.0


_COLUMNS = ("tabular", "label", "protein", "residue", "neighbours", "neighbour_dist")


def load_split(reader: H5Reader, split: str) -> SplitArrays:
    """All points of the proteins in ``split``, in file order."""
    table = reader.proteins()
    offsets = table["point_offset"]
    chosen = np.flatnonzero(table["split"] == split)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in _COLUMNS}
    for p in chosen:
        for name in _COLUMNS:
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
    return SplitArrays(
        tabular=arrays["tabular"].astype(np.float32),
        label=arrays["label"].astype(np.int8),
        protein=arrays["protein"].astype(np.int32),
        residue=arrays["residue"].astype(np.int64),
        neighbours=arrays["neighbours"].astype(np.int64),
        neighbour_dist=arrays["neighbour_dist"].astype(np.float32),
    )


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
        return batch


def passthrough_collate(batch: Any) -> Any:
    """``__getitems__`` already built the batch (module-level: picklable for workers)."""
    return batch
