"""Thin nodes: the pocket seed threshold (pocknet.predict.seed_threshold), the pocket rescorer
(pocknet.train.pocket_rescorer), then pocknet.train.finalize picks the shipped model and calibrates
its probabilities."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from pocknet.featurize.features import ProteinFeatures
from pocknet.model.files import ModelBundle
from pocknet.predict.pockets import PocketConfig
from pocknet.predict.seed_threshold import resolve_seed_threshold
from pocknet.train.finalize import FinalizeConfig, calibrate_bundle, select_candidate
from pocknet.train.pocket_rescorer import RescorerSettings, resolve_pocket_rescorer


def _candidates(trained_model: ModelBundle, swa_model: ModelBundle) -> dict[str, ModelBundle]:
    """The two models the shipped one is picked from, by the names the metrics record."""
    return {"best_epoch": trained_model, "swa": swa_model}


def choose_pocket_seed_threshold(
    trained_model: ModelBundle,
    swa_model: ModelBundle,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: dict[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The pocket settings with the seed thresholds that maximise validation DCA top-n, and their table."""
    candidates = _candidates(trained_model, swa_model)
    bundle = candidates[select_candidate(candidates)]
    return resolve_seed_threshold(bundle, protein_features, splits, pockets)


def fit_pocket_rescorer(
    trained_model: ModelBundle,
    swa_model: ModelBundle,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: dict[str, Any],
    finalize: dict[str, Any],
) -> dict[str, Any]:
    """The pocket rescorer fitted on training proteins' pockets, kept if validation says so, and its numbers."""
    config = FinalizeConfig.from_params(finalize)
    candidates = _candidates(trained_model, swa_model)
    bundle = candidates[select_candidate(candidates)].replace(pockets=dict(pockets))
    return resolve_pocket_rescorer(bundle, protein_features, splits, config.pocket_rescoring,
                                   RescorerSettings.from_params(config.pocket_rescorer))  # fmt: skip


def finalize_model(
    trained_model: ModelBundle,
    swa_model: ModelBundle,
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: dict[str, Any],
    finalize: dict[str, Any],
    pocket_rescoring: dict[str, Any],
) -> tuple[ModelBundle, dict[str, Any], pd.DataFrame]:
    """Best-epoch vs SWA by validation PR-AUC, then point/residue/pocket calibration on validation proteins."""
    bundle, metrics, reliability = calibrate_bundle(_candidates(trained_model, swa_model), protein_features, splits, pockets,
                                                    FinalizeConfig.from_params(finalize), pocket_rescoring["rescorer"])  # fmt: skip
    bundle = bundle.replace(provenance={**bundle.provenance, "pocket_rescoring": pocket_rescoring["metrics"]})
    config = PocketConfig.from_params(pockets)
    seed = config.seed_for(bundle.threshold)
    second = config.second_seed_for(seed)
    return bundle, {**metrics, "pocket_seed_threshold": seed, "pocket_second_seed_threshold": second,
                    "pocket_rescoring": pocket_rescoring["metrics"]}, reliability  # fmt: skip
