"""Fit the pocket rescorer on training proteins' pockets; keep it only where validation says so.

The point model ranks pockets by Σ p². The rescorer (:mod:`pocknet.predict.pocket_rescoring`)
re-ranks them from per-pocket numbers. Its examples are the pockets of the *training* proteins
(the shipped model's pockets at the validation-chosen seed thresholds; target: centre within 4 Å
of a relevant ligand atom, DCA); the validation proteins then decide, with ``finalize.pocket_rescoring:
validation``, whether the re-ranked pockets find more ligands (DCA top-n) than Σ p² ranking does.
Test and external sets are never read. ``benchmarks/pocket_rescoring.py`` chose the model class
(gradient-boosted trees over logistic regression) by cross-validation on training proteins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.featurize.descriptor_columns import DESCRIPTOR_NAMES
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins
from pocknet.model.files import ModelBundle
from pocknet.predict.calibration import pocket_hits
from pocknet.predict.pocket_rescoring import PocketRescorer, pocket_feature_names, pocket_features
from pocknet.progress import progress

__all__ = [
    "RESCORING_MODES",
    "PocketExamples",
    "RescorerSettings",
    "export_trees",
    "fit_pocket_rescorer",
    "pocket_examples",
    "resolve_pocket_rescorer",
]

log = logging.getLogger(__name__)

RESCORING_MODES = ("validation", "none", "always")


@dataclass(frozen=True)
class RescorerSettings:
    """``finalize.pocket_rescorer``: scikit-learn HistGradientBoostingClassifier settings (no early stopping)."""

    max_iter: int = 200
    learning_rate: float = 0.05
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 50
    l2_regularization: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_iter", "max_leaf_nodes", "min_samples_leaf"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (2 if name == "max_leaf_nodes" else 1)
            ):
                raise ConfigError(
                    f"finalize.pocket_rescorer.{name} must be a positive integer, got {value!r}"
                )
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate <= 1):
            raise ConfigError(
                f"finalize.pocket_rescorer.learning_rate must be in (0, 1], got {self.learning_rate!r}"
            )
        if not (isinstance(self.l2_regularization, (int, float)) and self.l2_regularization >= 0):
            raise ConfigError(
                f"finalize.pocket_rescorer.l2_regularization must be >= 0, got {self.l2_regularization!r}"
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> RescorerSettings:
        return dataclass_from_params(cls, params, "finalize.pocket_rescorer")


def export_trees(model: Any, feature_names: Sequence[str]) -> PocketRescorer:
    """A fitted binary ``HistGradientBoostingClassifier`` as flat node arrays (numerical splits only)."""
    trees = [predictors[0].nodes for predictors in model._predictors]
    if any(tree["is_categorical"].any() for tree in trees):
        raise ValueError("pocket rescorer trees must split on numerical features only")
    offsets = np.cumsum([0] + [len(tree) for tree in trees])
    nodes = np.concatenate(trees)
    shift = np.repeat(offsets[:-1], [len(tree) for tree in trees])
    leaf = nodes["is_leaf"].astype(bool)
    return PocketRescorer(
        feature_names=tuple(feature_names),
        baseline=float(np.asarray(model._baseline_prediction).ravel()[0]),
        roots=offsets[:-1].astype(np.int64),
        feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
        threshold=nodes["num_threshold"].astype(np.float64),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=np.where(leaf, 0, nodes["left"].astype(np.int64) + shift),
        right=np.where(leaf, 0, nodes["right"].astype(np.int64) + shift),
        is_leaf=leaf,
        value=nodes["value"].astype(np.float64),
    )


def fit_pocket_rescorer(
    features: np.ndarray,
    hits: np.ndarray,
    feature_names: Sequence[str],
    settings: RescorerSettings = RescorerSettings(),
) -> PocketRescorer:
    """Gradient-boosted trees of ``hits`` on ``features``, on one OpenMP thread (the same bits on any machine)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    features = np.asarray(features, dtype=np.float64)
    hits = np.asarray(hits, dtype=bool)
    if features.ndim != 2 or features.shape != (len(hits), len(feature_names)):
        raise ValueError(
            f"features must have shape [{len(hits)}, {len(feature_names)}], got {features.shape}"
        )
    if hits.all() or not hits.any():
        raise ValueError("fitting a pocket rescorer needs both hit and missed pockets")
    model = HistGradientBoostingClassifier(
        max_iter=settings.max_iter, learning_rate=settings.learning_rate, max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf, l2_regularization=settings.l2_regularization,
        early_stopping=False, random_state=0,
    )  # fmt: skip
    with threadpool_limits(limits=1, user_api="openmp"):
        model.fit(features, hits)
    return export_trees(model, feature_names)


@dataclass(frozen=True)
class PocketExamples:
    """One protein's pockets in Σ p² order, as the rescorer sees them."""

    protein: str
    features: np.ndarray  # [K, F] pocket_features
    centres: np.ndarray  # [K, 3]
    ligands: list[np.ndarray]  # relevant ligands' atom coordinates

    @property
    def hits(self) -> np.ndarray:
        """[K] bool: centre within 4 Å of a relevant ligand atom (DCA)."""
        return pocket_hits(self.centres, self.ligands)


def pocket_examples(
    bundle: ModelBundle,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    protein_ids: Sequence[str],
    desc: str,
) -> list[PocketExamples]:
    """The bundle's pockets (no rescorer, no calibration) on each protein with a relevant ligand."""
    from pocknet.predict.predictor import Predictor

    predictor = Predictor(bundle=bundle.replace(calibration=None, pocket_rescorer=None))
    out = []
    for pid in progress(protein_ids, total=len(protein_ids), desc=desc, unit="protein"):
        features = protein_features[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        prediction = predictor.predict_features(features)
        pockets = prediction.pockets
        out.append(PocketExamples(
            protein=pid,
            features=pocket_features(pockets, prediction.raw_probabilities, features.descriptors,
                                     features.descriptor_names, features.residue_chain),
            centres=np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3)),
            ligands=ligands,
        ))  # fmt: skip
    return out


def ranked_success(examples: Sequence[PocketExamples], rescorer: PocketRescorer | None) -> dict[str, float]:
    """Validation DCA top-n, top-(n+2) and success@1 with pockets in Σ p² order (None) or re-ranked."""
    rows = []
    for example in examples:
        order = np.arange(len(example.centres))
        if rescorer is not None and len(order):
            order = np.argsort(-rescorer.logits(example.features), kind="stable")
        rows.append(
            {"protein": example.protein, "centres": example.centres[order], "ligands": example.ligands}
        )
    result = evaluate_proteins(rows)
    return {k: result[k] for k in ("dca_top_n", "dca_top_n2", "dca_success_at_1", "n_ligands", "n_proteins")}


def resolve_pocket_rescorer(
    bundle: ModelBundle,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    mode: str,
    settings: RescorerSettings,
) -> dict[str, Any]:
    """``{"rescorer": model-file dict or None, "metrics": {...}}`` for ``bundle`` (pockets frozen in).

    ``mode``: ``validation`` keeps the rescorer only when it raises validation DCA top-n above Σ p²
    ranking; ``always`` keeps it; ``none`` fits nothing.
    """
    if mode not in RESCORING_MODES:
        raise ConfigError(f"finalize.pocket_rescoring must be one of {list(RESCORING_MODES)}, got {mode!r}")
    if mode == "none":
        return {"rescorer": None, "metrics": {"mode": mode, "used": False}}
    names = pocket_feature_names(DESCRIPTOR_NAMES)
    ids = {split: sorted(splits.loc[splits["split"] == split, "protein"]) for split in ("train", "val")}
    train = pocket_examples(bundle, protein_features, ids["train"], "rescorer: training pockets")
    hits = np.concatenate([e.hits for e in train]) if train else np.zeros(0, dtype=bool)
    metrics: dict[str, Any] = {"mode": mode, "train_proteins": len(train), "train_pockets": int(hits.size),
                               "train_hit_pockets": int(hits.sum())}  # fmt: skip
    if hits.all() or not hits.any():
        log.warning("pocket rescorer: training pockets need both hits and misses (%d of %d hit): none fitted",
                    int(hits.sum()), hits.size)  # fmt: skip
        return {"rescorer": None, "metrics": {**metrics, "used": False}}
    rescorer = fit_pocket_rescorer(np.concatenate([e.features for e in train]), hits, names, settings)
    val = pocket_examples(bundle, protein_features, ids["val"], "rescorer: validation pockets")
    before, after = ranked_success(val, None), ranked_success(val, rescorer)
    used = mode == "always" or after["dca_top_n"] > before["dca_top_n"]
    metrics.update({
        "used": used,
        "trees": rescorer.n_trees,
        **{f"val_{k}_score_order": v for k, v in before.items() if k.startswith("dca")},
        **{f"val_{k}_rescored": v for k, v in after.items() if k.startswith("dca")},
        "val_ligands": before["n_ligands"],
    })  # fmt: skip
    log.info("pocket rescorer (%d trees on %d training pockets): validation DCA top-n %.3f → %.3f, success@1 "
             "%.3f → %.3f over %d ligands: %s", rescorer.n_trees, hits.size, before["dca_top_n"], after["dca_top_n"],
             before["dca_success_at_1"], after["dca_success_at_1"], before["n_ligands"],
             "used" if used else "not used")  # fmt: skip
    return {"rescorer": rescorer.to_dict() if used else None, "metrics": metrics}
