"""Re-rank a structure's pockets with a per-pocket model (PRANK-style rescoring).

Pockets are ranked by Σ p² (:mod:`pocknet.predict.pockets`), which sees only how many confident
points a pocket holds. Whether a pocket centre lies on a ligand also depends on the pocket's
shape and chemistry and on how it compares with the structure's other pockets. The rescorer is a
small gradient-boosted tree ensemble over such per-pocket numbers, fitted on the pockets of
*training* proteins (DCA hit or not) and kept only if validation says so (the finalize stage,
:mod:`pocknet.train.pocket_rescorer`; ``benchmarks/pocket_rescoring.py`` chose the model class).

Everything is numpy in / numpy out; fitting uses scikit-learn, applying it does not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pocknet.errors import PockNetError
from pocknet.predict.prediction import Pocket

__all__ = [
    "POCKET_STRUCTURE_NAMES",
    "POCKET_SUMMARY_NAMES",
    "PocketRescorer",
    "pocket_feature_names",
    "pocket_features",
    "rescore",
    "rescorer_columns",
]

# PocketRescorer's node arrays and their dtypes, in file order
_ARRAYS = {"roots": np.int64, "feature": np.int64, "threshold": np.float64, "missing_left": bool,
           "left": np.int64, "right": np.int64, "is_leaf": bool, "value": np.float64}  # fmt: skip

# Per-pocket numbers that do not depend on the descriptor columns.
POCKET_SUMMARY_NAMES = (
    "log_score",  # log(1 + Σ p²)
    "log_points",  # log of the grown pocket's SAS points
    "mean_p",  # mean point probability
    "max_p",
    "mean_p2",  # Σ p² / points: how confident the average point is
    "relative_score",  # score / the structure's best pocket score
    "score_share",  # score / Σ p² over every SAS point of the structure
    "level2",  # 1 for a second-level pocket
    "log_residues",
    "log_structure_points",  # bigger structures hold more decoy pockets
)
# Per-pocket numbers about the structure around the pocket (after the descriptor means: the
# order the rescorer was chosen in, benchmarks/pocket_context_features.py).
POCKET_STRUCTURE_NAMES = ("chains",)  # distinct chains among the pocket's residues: interfaces
# Descriptor columns whose pocket means are never used: crystallographic B (or pLDDT) has no
# common scale across structures.
_SKIPPED_DESCRIPTORS = ("bfactor.bfactor",)


def pocket_feature_names(descriptor_names: Sequence[str]) -> tuple[str, ...]:
    """Column names of :func:`pocket_features` for a model with these descriptor columns."""
    means = tuple(f"mean:{n}" for n in descriptor_names if n not in _SKIPPED_DESCRIPTORS)
    return POCKET_SUMMARY_NAMES + means + POCKET_STRUCTURE_NAMES


def rescorer_columns(rescorer_names: Sequence[str], names: Sequence[str]) -> np.ndarray:
    """Positions in ``names`` (what :func:`pocket_features` computes) of a rescorer's features, by name.

    A rescorer fitted before a feature was added reads its own columns; one that names a feature
    this version does not compute cannot be used.
    """
    unknown = [n for n in rescorer_names if n not in names]
    if unknown:
        raise PockNetError(
            f"the pocket rescorer reads pocket features this version of PockNet does not compute: "
            f"{', '.join(unknown)} (re-run the finalize stage to refit it)"
        )
    return np.array([names.index(n) for n in rescorer_names], dtype=np.int64)


def pocket_features(
    pockets: Sequence[Pocket],
    probabilities: np.ndarray,
    descriptors: np.ndarray,
    descriptor_names: Sequence[str],
    residue_chain: np.ndarray,
) -> np.ndarray:
    """[K, F] features of each pocket (columns: :func:`pocket_feature_names`).

    Parameters
    ----------
    pockets
        One structure's pockets.
    probabilities
        [P] raw model probabilities of its SAS points (the clustering scale).
    descriptors
        [P, D] its SAS points' descriptors, columns named by ``descriptor_names``.
    residue_chain
        [R] chain identifier of each residue (``Pocket.residue_indices`` index it).
    """
    names = pocket_feature_names(descriptor_names)
    if not pockets:
        return np.zeros((0, len(names)), dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    kept = [i for i, n in enumerate(descriptor_names) if n not in _SKIPPED_DESCRIPTORS]
    descriptors = np.asarray(descriptors, dtype=np.float64)[:, kept]
    sizes = np.array([len(p.point_indices) for p in pockets], dtype=np.float64)
    members = np.concatenate([p.point_indices for p in pockets])
    pocket_of = np.repeat(np.arange(len(pockets)), sizes.astype(np.int64))
    p = probabilities[members]
    scores = np.array([p_.score for p_ in pockets], dtype=np.float64)
    mean_p = np.bincount(pocket_of, weights=p, minlength=len(pockets)) / sizes
    max_p = np.full(len(pockets), -np.inf)
    np.maximum.at(max_p, pocket_of, p)
    descriptor_means = (
        np.stack(
            [
                np.bincount(pocket_of, weights=descriptors[members, k], minlength=len(pockets))
                for k in range(len(kept))
            ],
            axis=1,
        )
        / sizes[:, None]
    )
    total = float(np.sum(probabilities**2))
    summary = np.stack(
        [
            np.log1p(scores),
            np.log(sizes),
            mean_p,
            max_p,
            scores / sizes,
            scores / max(float(scores.max()), 1e-12),
            scores / max(total, 1e-12),
            np.array([p_.level == 2 for p_ in pockets], dtype=np.float64),
            np.log1p([len(p_.residue_indices) for p_ in pockets]),
            np.full(len(pockets), np.log(max(len(probabilities), 1))),
        ],
        axis=1,
    )
    chain_of = np.asarray(residue_chain)
    chains = np.array([len(np.unique(chain_of[p_.residue_indices])) for p_ in pockets], dtype=np.float64)
    return np.concatenate([summary, descriptor_means, chains[:, None]], axis=1)


@dataclass(frozen=True)
class PocketRescorer:
    """Gradient-boosted trees over :func:`pocket_features` columns, as flat arrays.

    The trees are exported from scikit-learn's ``HistGradientBoostingClassifier``
    (:mod:`pocknet.train.pocket_rescorer`) and evaluated here with numpy alone, in the same
    order (baseline, then each tree's leaf value added in turn), so the logits equal
    scikit-learn's ``decision_function`` to the bit. Node arrays are indexed globally;
    ``roots[t]`` is tree ``t``'s first node.
    """

    feature_names: tuple[str, ...]
    baseline: float
    roots: np.ndarray  # [T] int64
    feature: np.ndarray  # [N] int64, column tested by a split node
    threshold: np.ndarray  # [N] float64: x <= threshold goes left
    missing_left: np.ndarray  # [N] bool: where NaN goes
    left: np.ndarray  # [N] int64
    right: np.ndarray  # [N] int64
    is_leaf: np.ndarray  # [N] bool
    value: np.ndarray  # [N] float64, leaf values

    def __post_init__(self) -> None:
        n = len(self.value)
        if any(len(getattr(self, k)) != n for k in _ARRAYS if k != "roots"):
            raise ValueError("pocket rescorer node arrays differ in length")
        inner = ~self.is_leaf
        for name in ("roots", "left", "right"):
            index = getattr(self, name) if name == "roots" else getattr(self, name)[inner]
            if index.size and (index.min() < 0 or index.max() >= n):
                raise ValueError(f"pocket rescorer {name} point outside the {n} nodes")
        columns = self.feature[inner]
        if columns.size and (columns.min() < 0 or columns.max() >= len(self.feature_names)):
            raise ValueError(
                f"pocket rescorer splits on a column outside its {len(self.feature_names)} features"
            )
        if not (np.isfinite(self.value).all() and np.isfinite(self.baseline)):
            raise ValueError("pocket rescorer has non-finite values")

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    def logits(self, features: np.ndarray) -> np.ndarray:
        """[K] log-odds that each pocket's centre lies within 4 Å of a ligand."""
        features = np.asarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != len(self.feature_names):
            raise ValueError(f"features must have shape [K, {len(self.feature_names)}], got {features.shape}")
        rows = np.arange(len(features))[:, None]
        node = np.broadcast_to(self.roots, (len(features), self.n_trees)).copy()  # [K, T]
        while True:
            inner = ~self.is_leaf[node]
            if not inner.any():
                break
            x = features[rows, self.feature[node]]
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)
        raw = np.full(len(features), self.baseline, dtype=np.float64)
        for t in range(self.n_trees):  # tree by tree, as scikit-learn adds them
            raw += self.value[node[:, t]]
        return raw

    def to_dict(self) -> dict[str, Any]:
        """Plain lists and floats: what a model file stores (it loads weights-only)."""
        return {"feature_names": list(self.feature_names), "baseline": float(self.baseline),
                **{k: getattr(self, k).tolist() for k in _ARRAYS}}  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PocketRescorer:
        arrays = {k: np.asarray(data[k], dtype=dtype) for k, dtype in _ARRAYS.items()}
        return cls(tuple(str(n) for n in data["feature_names"]), float(data["baseline"]), **arrays)


def rescore(
    pockets: Sequence[Pocket],
    rescorer: PocketRescorer,
    probabilities: np.ndarray,
    descriptors: np.ndarray,
    descriptor_names: Sequence[str],
    residue_chain: np.ndarray,
    calibrator: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[Pocket, ...]:
    """``pockets`` ranked by the rescorer's logit (ties keep the former order), which each carries.

    ``calibrator`` maps logits to ``Pocket.probability`` (fitted on validation pockets' logits);
    without it the probability is NaN, as for unrescored pockets without a calibrator.
    """
    columns = rescorer_columns(rescorer.feature_names, pocket_feature_names(descriptor_names))
    if not pockets:
        return ()
    features = pocket_features(pockets, probabilities, descriptors, descriptor_names, residue_chain)
    logits = rescorer.logits(features[:, columns])
    calibrated = (
        np.full(len(pockets), np.nan)
        if calibrator is None
        else np.asarray(calibrator(logits), dtype=np.float64)
    )
    order = np.argsort(-logits, kind="stable")
    return tuple(
        dataclasses.replace(pockets[i], rank=rank, rescore=float(logits[i]), probability=float(calibrated[i]))
        for rank, i in enumerate(order.tolist(), start=1)
    )
