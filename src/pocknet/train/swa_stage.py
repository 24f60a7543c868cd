"""The SWA stage: validation-chosen epoch window → averaged weights → BN recalibration → export.

Only training batches (for BatchNorm statistics) and validation points (for
the window, the threshold and the metrics) are read; never test data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd
import torch

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.model.files import ModelBundle
from pocknet.progress import progress
from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.arrays import context_spec
from pocknet.train.swa import average_state_dicts, choose_window, recalibrate_batchnorm
from pocknet.train.config import TrainingConfig
from pocknet.train.datamodule import PointDataModule
from pocknet.train.module import PocketModule
from pocknet.train.training import export_model, validation_report

__all__ = ["SwaConfig", "swa_window", "stochastic_weight_average"]


@dataclass(frozen=True)
class SwaConfig:
    mode: str = "best_window"  # best_window | fixed
    window: int = 4  # epochs averaged in best_window mode
    start: int | None = None  # fixed mode: first epoch (inclusive)
    stop: int | None = None  # fixed mode: last epoch (exclusive)
    bn_batches: int | None = None  # training batches for BN recalibration (None: all)

    def __post_init__(self) -> None:
        if self.mode not in ("best_window", "fixed"):
            raise ConfigError(f"swa.mode must be best_window or fixed, got {self.mode!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "SwaConfig":
        return dataclass_from_params(cls, params, "swa")


def swa_window(history: pd.DataFrame, config: SwaConfig) -> tuple[int, int]:
    """Row range [start, stop) of the history to average."""
    if config.mode == "best_window":
        return choose_window(history["val_pr_auc"].tolist(), config.window)
    epochs = history["epoch"].tolist()
    if config.start is None or config.stop is None:
        raise ConfigError("swa.mode fixed needs swa.start and swa.stop (epochs, stop exclusive)")
    rows = [i for i, e in enumerate(epochs) if config.start <= e < config.stop]
    if not rows:
        raise ConfigError(f"swa: no trained epoch in [{config.start}, {config.stop}); trained: {epochs}")
    return rows[0], rows[-1] + 1


class _Limited:
    """The first ``n`` batches of a loader (all when ``n`` is None)."""

    def __init__(self, loader: Any, n: int | None) -> None:
        self.loader, self.n = loader, n

    @property
    def total(self) -> int | None:
        """How many batches it yields (None when the loader cannot say): for the progress line."""
        try:
            total = len(self.loader)
        except TypeError:
            return self.n
        return total if self.n is None else min(total, self.n)

    def __iter__(self):
        for i, batch in enumerate(self.loader):
            if self.n is not None and i >= self.n:
                return
            yield batch


def stochastic_weight_average(
    history: pd.DataFrame,
    reader: H5Reader,
    config: SwaConfig,
    train_config: TrainingConfig,
    featurize_config: Mapping[str, Any] | None = None,
) -> tuple[ModelBundle, dict[str, Any]]:
    """Average the chosen checkpoints, recalibrate BN on training batches, evaluate on validation.

    ``featurize_config``: as :func:`pocknet.train.training.export_model`.
    """
    if history.empty:
        raise ConfigError("swa: the training history is empty; run the training stage first")
    start, stop = swa_window(history, config)
    members = history.iloc[start:stop]
    checkpoints = [torch.load(path, map_location="cpu", weights_only=True) for path in members["checkpoint"]]
    module = PocketModule(**checkpoints[-1]["hyper_parameters"])
    module.load_state_dict(average_state_dicts([c["state_dict"] for c in checkpoints]))
    data = PointDataModule(
        reader.path, train_config.batch_size, 0, seed=train_config.seed, context=context_spec(module.model.config),
        feature_names=module.config.feature_names(reader.feature_names),  # the checkpoints' columns
    )  # fmt: skip
    data.setup("fit")
    torch.manual_seed(train_config.seed)
    batches = _Limited(data.train_dataloader(), config.bn_batches)
    seen = recalibrate_batchnorm(module.model, progress(batches, batches.total, "swa batchnorm", "batch"))
    report = validation_report(module.model, data, train_config.threshold_criterion)
    epochs = [int(e) for e in members["epoch"]]
    provenance = {"stage": "swa", "epochs": epochs, "window": [start, stop], "bn_samples": seen}
    bundle = export_model(module, reader, report, {"training": train_config.as_params(), "swa": vars(config)}, provenance,
                           featurize_config)  # fmt: skip
    metrics = {"epochs": epochs, "bn_samples": seen, "threshold": report["threshold"], **report["val"]}
    return bundle, metrics
