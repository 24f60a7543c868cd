"""Kedro dataset types for PockNet artefacts (referenced from conf/base/catalog.yml)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from kedro.io import AbstractDataset

from pocknet.featurize.feature_files import load_features, save_features
from pocknet.featurize.features import ProteinFeatures
from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.assembly import TrainingSetPlan, write_training_set

if TYPE_CHECKING:
    from pocknet.model.files import ModelBundle

__all__ = ["ProteinFeaturesDataset", "TrainingSetH5Dataset", "ModelFileDataset", "PredictionsFolderDataset"]


class _LocalFileDataset(AbstractDataset):
    """A dataset stored in one local file (writes are atomic in the save functions)."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}


class ProteinFeaturesDataset(_LocalFileDataset):
    """One protein's features as ``.npz``; used as the item type of a PartitionedDataset."""

    def load(self) -> ProteinFeatures:
        return load_features(self._filepath)

    def save(self, data: ProteinFeatures) -> None:
        save_features(data, self._filepath)


class TrainingSetH5Dataset(_LocalFileDataset):
    """The training-set HDF5: saving streams a plan protein by protein; loading opens a lazy reader."""

    def load(self) -> H5Reader:
        return H5Reader(self._filepath)

    def save(self, data: TrainingSetPlan) -> None:
        write_training_set(data, self._filepath)


class ModelFileDataset(_LocalFileDataset):
    """A PockNet model file (:mod:`pocknet.model.files`); loads as a ModelBundle (weights only)."""

    def load(self) -> ModelBundle:
        from pocknet.model.files import load_model

        return load_model(self._filepath)[1]

    def save(self, data: ModelBundle) -> None:
        from pocknet.model.files import save_model

        save_model(data, self._filepath)


class PredictionsFolderDataset(AbstractDataset):
    """A folder of per-structure prediction files; saving streams a plan, loading gives pockets.csv."""

    def __init__(self, path: str, metadata: dict[str, Any] | None = None) -> None:
        self._path = Path(path)
        self.metadata = metadata

    def load(self) -> Any:
        import pandas as pd

        return pd.read_csv(self._path / "pockets.csv")

    def save(self, data: Any) -> None:
        from pocknet.predict.inference import write_predictions

        write_predictions(data, self._path)

    def _exists(self) -> bool:
        return (self._path / "pockets.csv").is_file()

    def _describe(self) -> dict[str, Any]:
        return {"path": str(self._path)}
