"""Thin node: pocknet.predict.inference plans the predictions; the catalog dataset writes them."""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from pocknet.featurize.features import ProteinFeatures
from pocknet.model.files import ModelBundle
from pocknet.predict.inference import PredictionPlan, plan_predictions


def predict_splits(
    final_model: ModelBundle,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    params: dict[str, Any],
) -> PredictionPlan:
    return plan_predictions(final_model, protein_features, splits, params["splits"], params["formats"])
