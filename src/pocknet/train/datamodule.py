"""Train and validation points of the H5 training set, in memory, as Lightning batches."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from pocknet.errors import ConfigError
from pocknet.trainset.arrays import (
    ContextSpec,
    PointDataset,
    SplitArrays,
    load_embeddings,
    load_split,
    passthrough_collate,
)
from pocknet.trainset.h5reader import H5Reader

__all__ = ["PointDataModule"]


class PointDataModule(L.LightningDataModule):
    """Train (neutral points dropped) and validation points of the H5 file, in memory.

    ``context``: the spatial-context definition of the model (:func:`pocknet.trainset.arrays.context_spec`);
    with it every point also carries its context points, computed from the stored coordinates.
    ``feature_names``: the descriptor columns the model reads (``training.exclude_features``; None: all).
    """

    def __init__(
        self,
        h5_path: str | Path,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
        context: ContextSpec | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.h5_path = Path(h5_path)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.context = context
        self.feature_names = feature_names
        self.train_arrays: SplitArrays | None = None
        self.val_arrays: SplitArrays | None = None
        self.embeddings: torch.Tensor | None = None
        self.reader = H5Reader(self.h5_path)

    def setup(self, stage: str | None = None) -> None:
        if self.train_arrays is not None:
            return
        self.train_arrays = load_split(self.reader, "train", self.context, self.feature_names).without_neutral()
        self.val_arrays = load_split(self.reader, "val", self.context, self.feature_names)
        if len(self.train_arrays) == 0 or len(self.val_arrays) == 0:
            raise ConfigError(
                f"{self.h5_path}: training needs train and val points "
                f"(train {len(self.train_arrays)}, val {len(self.val_arrays)}); check h5_assembly.splits"
            )
        self.embeddings = load_embeddings(self.reader)

    @property
    def feature_stats(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.train_arrays is not None
        x = self.train_arrays.tabular.astype(np.float64)
        return x.mean(axis=0).astype(np.float32), x.std(axis=0).astype(np.float32)

    def _loader(self, arrays: SplitArrays, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            PointDataset(arrays, self.embeddings),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=passthrough_collate,
            generator=generator,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle and len(arrays) > self.batch_size,  # BatchNorm cannot train on 1 row
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_arrays is not None
        return self._loader(self.train_arrays, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_arrays is not None
        return self._loader(self.val_arrays, shuffle=False)
