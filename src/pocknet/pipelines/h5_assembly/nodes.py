"""Thin nodes: splits and leakage (pocknet.trainset.splits), the H5 plan (pocknet.trainset.assembly), validation."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pandas as pd

from pocknet.embed.config import EmbeddingConfig
from pocknet.featurize.features import ProteinFeatures
from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.h5validate import validate
from pocknet.progress import progress
from pocknet.trainset.splits import (
    apply_leaks,
    assign_splits,
    external_homologues,
    find_leaks,
    split_counts,
)
from pocknet.trainset.assembly import AssemblyConfig, TrainingSetPlan, plan_training_set, training_set_summary

log = logging.getLogger(__name__)


def make_splits(
    residue_chains: pd.DataFrame, params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split (by entry or sequence cluster); report (and by default drop) train/val chains leaking
    into test; report external chains with a train/val homologue (the external "unseen" subset)."""
    config = AssemblyConfig.from_params(params).splits
    splits = assign_splits(sorted(set(residue_chains["protein"])), config, chains=residue_chains)
    leaks = find_leaks(residue_chains, splits, config, progress=progress)
    if len(leaks):
        log.warning("%d train/val chain(s) >= %.0f%% identical to a test chain", len(leaks), 100 * config.leakage_identity)
    splits = apply_leaks(splits, leaks, config)
    log.info("splits: %s", split_counts(splits))
    homologues = external_homologues(residue_chains, splits, config, progress=progress)
    seen = homologues["protein"].nunique()
    total = int((splits["split"] == "external").sum())
    log.info("external structures with a train/val homologue: %d of %d (the rest are 'unseen')", seen, total)
    return splits, leaks, homologues


def plan_h5(
    protein_features: dict[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    embedding_manifest: pd.DataFrame,
    params: dict[str, Any],
    embedding: dict[str, Any],
    data_engineering: dict[str, Any],
) -> TrainingSetPlan:
    return plan_training_set(
        protein_features,
        splits,
        embedding_manifest,
        AssemblyConfig.from_params(params),
        cache_dir=EmbeddingConfig.from_params(embedding).cache_dir,
        params={"data_engineering": data_engineering, "embedding": embedding, "h5_assembly": params},
    )


def check_h5(training_set: H5Reader) -> dict[str, Any]:
    """Validate every invariant of the written file, then summarise it (DVC metrics)."""
    validate(training_set.path)
    return training_set_summary(training_set)
