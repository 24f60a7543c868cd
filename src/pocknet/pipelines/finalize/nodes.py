"""Thin node: pocknet.train.finalize picks the shipped model and calibrates its probabilities."""

from __future__ import annotations

from typing import Any, Callable

import pandas as pd

from pocknet.featurize.features import ProteinFeatures
from pocknet.model.files import ModelBundle
from pocknet.train.finalize import FinalizeConfig, calibrate_bundle


def finalize_model(
    trained_model: ModelBundle,
    swa_model: ModelBundle,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: dict[str, Any],
    finalize: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any], pd.DataFrame]:
    """Best-epoch vs SWA by validation PR-AUC, then point/residue/pocket calibration on validation proteins."""
    candidates = {"best_epoch": trained_model, "swa": swa_model}
    return calibrate_bundle(candidates, protein_features, splits, pockets, FinalizeConfig.from_params(finalize))
