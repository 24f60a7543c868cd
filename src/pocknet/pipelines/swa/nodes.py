"""Thin node: pocknet.swa averages, pocknet.training evaluates on validation."""

from __future__ import annotations

from typing import Any

import pandas as pd

from pocknet.h5store import H5Reader
from pocknet.swa_stage import SwaConfig, stochastic_weight_average


def average_weights(
    training_history: pd.DataFrame, training_set: H5Reader, swa: dict[str, Any], training: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    return stochastic_weight_average(training_history, training_set, SwaConfig.from_params(swa), training)
