"""Thin nodes: pocknet.train.swa_stage averages; pocknet.train.finalize picks and calibrates the shipped model."""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from pocknet.featurize.features import ProteinFeatures
from pocknet.train.finalize import calibrate_bundle
from pocknet.trainset.h5store import H5Reader
from pocknet.train.swa_stage import SwaConfig, stochastic_weight_average


def average_weights(
    training_history: pd.DataFrame, training_set: H5Reader, swa: dict[str, Any], training: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    return stochastic_weight_average(training_history, training_set, SwaConfig.from_params(swa), training)


def finalize_model(
    trained_model: dict[str, Any],
    swa_model: dict[str, Any],
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: dict[str, Any],
    swa: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any], pd.DataFrame]:
    """Best-epoch vs SWA by validation PR-AUC, then point/residue/pocket calibration on validation proteins."""
    config = SwaConfig.from_params(swa)
    candidates = {"best_epoch": trained_model, "swa": swa_model}
    return calibrate_bundle(
        candidates, protein_features, splits, pockets,
        method=config.calibration, bins=config.calibration_bins, folds=config.calibration_folds,
    )  # fmt: skip
