"""Kedro dataset types for PockNet artefacts (referenced from conf/base/catalog.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset

from pocknet.feature_files import load_features, save_features
from pocknet.features import ProteinFeatures

__all__ = ["ProteinFeaturesDataset"]


class ProteinFeaturesDataset(AbstractDataset[ProteinFeatures, ProteinFeatures]):
    """One protein's features as ``.npz``; used as the item type of a PartitionedDataset."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> ProteinFeatures:
        return load_features(self._filepath)

    def save(self, data: ProteinFeatures) -> None:
        save_features(data, self._filepath)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
