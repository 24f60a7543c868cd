"""Thin node: pocknet.train.training does the work."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pocknet.featurize.features import featurize_blocks
from pocknet.model.files import ModelBundle
from pocknet.trainset.h5reader import H5Reader
from pocknet.train.config import TrainingConfig
from pocknet.train.training import export_model, fit, validation_report


def train_model(
    training_set: H5Reader,
    training: dict[str, Any],
    h5_assembly: dict[str, Any],
    embedding: dict[str, Any],
    data_engineering: dict[str, Any],
) -> tuple[ModelBundle, pd.DataFrame, dict[str, Any]]:
    """Train, pick the best validation epoch, choose the threshold on validation, export."""
    config = TrainingConfig.from_params(training)
    module, history, data = fit(training_set.path, config)
    report = validation_report(module.model, data, config.threshold_criterion)
    best = history.loc[history["val_pr_auc"].idxmax()]
    provenance = {"stage": "training", "best_epoch": int(best["epoch"]), "checkpoint": best["checkpoint"], "seed": config.seed}
    params = {"training": training, "h5_assembly": h5_assembly, "embedding": embedding}
    bundle = export_model(module, training_set, report, params, provenance, featurize_blocks(data_engineering))
    metrics = {"best_epoch": int(best["epoch"]), "epochs": int(len(history)), "threshold": report["threshold"], **report["val"]}
    return bundle, history, metrics
