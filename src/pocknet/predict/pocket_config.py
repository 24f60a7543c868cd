"""The ``pockets`` block of params.yaml: how point probabilities become pockets (SCIENCE.md §7).

Kept apart from :mod:`pocknet.predict.pockets` (the recipe) so the settings, their checks and
how an unresolved ``validation`` reads in an older model file live in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError

__all__ = ["CLUSTER_METHODS", "SECOND_SEED_MODES", "SEED_THRESHOLD_MODES", "PocketConfig"]

CLUSTER_METHODS = ("single_linkage", "dbscan")
SEED_THRESHOLD_MODES = ("validation", "point")
SECOND_SEED_MODES = ("validation", "none")


def _is_probability(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0.0 <= value <= 1.0


def _probabilities(value: Any, name: str) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value \
            or not all(_is_probability(c) for c in value):  # fmt: skip
        raise ConfigError(f"pockets.{name} must be a non-empty list of probabilities, got {value!r}")
    return tuple(float(c) for c in value)


@dataclass(frozen=True)
class PocketConfig:
    """How point probabilities become pockets.

    Parameters
    ----------
    method
        ``"single_linkage"`` (P2Rank-like, default) or ``"dbscan"``.
    link_distance
        Single linkage: two selected points within this distance (Å) are linked.
    min_points
        Single linkage: smaller connected components are discarded as noise.
    grow_distance
        SAS points within this distance (Å) of a core point join the pocket.
    dbscan_eps, dbscan_min_samples
        DBSCAN neighbourhood radius (Å) and core-point neighbour count (itself included).
    residue_distance
        Exposed atoms within this distance (Å) of a pocket point define its atoms and residues.
    residue_score_radius
        Points within this distance (Å) of a residue's atoms make its residue score.
    seed_threshold
        Points with ``p >= seed_threshold`` seed pockets. ``"validation"``: the finalize stage
        picks it among ``seed_threshold_candidates`` and the model's point threshold by validation
        DCA top-n (:mod:`pocknet.predict.seed_threshold`) and writes the number into the model
        file; ``"point"``: the model's point threshold (validation IoU); or a number. A model
        file without a number (written before this setting) seeds at its point threshold.
    seed_threshold_candidates
        Point probabilities (the model's uncalibrated scale) tried by the finalize stage.
    second_seed_threshold
        A second, lower seed threshold: the pockets it seeds that share no point with the first
        level's are ranked after all of them (a weaker secondary site still gets a pocket without
        blurring the main ones, which one low threshold does). ``"none"``: one level;
        ``"validation"``: chosen by the finalize stage together with the seed threshold, among
        ``second_seed_threshold_candidates`` and none; or a number. It acts only below the seed
        threshold; a model file without a number has one level.
    second_seed_threshold_candidates
        Point probabilities tried for the second level by the finalize stage.
    """

    method: str = "single_linkage"
    link_distance: float = 3.0
    min_points: int = 3
    grow_distance: float = 3.5
    dbscan_eps: float = 3.0
    dbscan_min_samples: int = 5
    residue_distance: float = 3.5
    residue_score_radius: float = 6.1
    seed_threshold: str | float = "validation"
    seed_threshold_candidates: tuple[float, ...] = (0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
    second_seed_threshold: str | float = "validation"
    second_seed_threshold_candidates: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95)

    def __post_init__(self) -> None:
        if self.method not in CLUSTER_METHODS:
            raise ConfigError(f"pockets.method must be one of {list(CLUSTER_METHODS)}, got {self.method!r}")
        for name in (
            "link_distance",
            "grow_distance",
            "dbscan_eps",
            "residue_distance",
            "residue_score_radius",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise ConfigError(f"pockets.{name} must be a finite number of Å, got {value!r}")
            # grow_distance 0 is meaningful (no growth); every other radius must be positive.
            if value < 0 or (value == 0 and name != "grow_distance"):
                raise ConfigError(f"pockets.{name} must be > 0 Å (>= 0 for grow_distance), got {value!r}")
            object.__setattr__(self, name, float(value))
        for name in ("min_points", "dbscan_min_samples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"pockets.{name} must be an integer >= 1, got {value!r}")
            object.__setattr__(self, name, int(value))
        for name, modes in (
            ("seed_threshold", SEED_THRESHOLD_MODES),
            ("second_seed_threshold", SECOND_SEED_MODES),
        ):
            value = getattr(self, name)
            if isinstance(value, str):
                if value not in modes:
                    raise ConfigError(
                        f"pockets.{name} must be one of {list(modes)} or a number, got {value!r}"
                    )
            elif not _is_probability(value):
                raise ConfigError(f"pockets.{name} must be a probability in [0, 1], got {value!r}")
            else:
                object.__setattr__(self, name, float(value))
        for name in ("seed_threshold_candidates", "second_seed_threshold_candidates"):
            object.__setattr__(self, name, _probabilities(getattr(self, name), name))

    def seed_for(self, point_threshold: float) -> float:
        """The threshold that seeds pockets for a model whose point threshold is ``point_threshold``."""
        return self.seed_threshold if isinstance(self.seed_threshold, float) else float(point_threshold)

    def second_seed_for(self, seed: float) -> float | None:
        """The second-level seed threshold under ``seed``; None: one level (also while unresolved)."""
        second = self.second_seed_threshold
        return second if isinstance(second, float) and second < seed else None

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> PocketConfig:
        """Build from the ``pockets`` block of params.yaml; unknown keys are errors.

        A misspelt key would otherwise silently run with the default.
        """
        return dataclass_from_params(cls, params, "pockets")
