"""Thin node: pocknet.train.swa_stage averages the weights of a validation-chosen epoch window."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pocknet.featurize.features import featurize_blocks
from pocknet.model.files import ModelBundle
from pocknet.trainset.h5reader import H5Reader
from pocknet.train.swa_stage import SwaConfig, stochastic_weight_average
from pocknet.train.config import TrainingConfig


def average_weights(
    training_history: pd.DataFrame,
    training_set: H5Reader,
    swa: dict[str, Any],
    training: dict[str, Any],
    data_engineering: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any]]:
    config, train_config = SwaConfig.from_params(swa), TrainingConfig.from_params(training)
    return stochastic_weight_average(training_history, training_set, config, train_config, featurize_blocks(data_engineering))
