"""The ``training`` block of params.yaml, typed, and the hash models record of their parameters."""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.featurize.descriptor_columns import DESCRIPTOR_NAMES

__all__ = ["TrainingConfig", "params_hash"]


@dataclass(frozen=True)
class TrainingConfig:
    """The ``training`` block of params.yaml (``model`` holds the network sizes)."""

    seed: int = 13
    batch_size: int = 1024
    max_epochs: int = 20
    min_epochs: int = 1
    learning_rate: float = 0.002  # OneCycle peak
    weight_decay: float = 0.01
    pos_weight: float | str = "auto"
    loss: str = "bce"  # bce | focal
    focal_gamma: float = 2.0
    gradient_clip: float = 1.0
    patience: int = 5  # epochs without validation PR-AUC gain before stopping
    threshold_criterion: str = "iou"  # iou | f1, maximised on validation
    num_workers: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_nodes: int = 1
    deterministic: bool = True
    checkpoint_dir: str = "data/05_models/checkpoints"
    dvclive_dir: str = "dvclive/training"
    wandb: bool = False  # offline W&B logging when true (never required)
    wandb_project: str = "pocknet"
    # Descriptor columns left out of the model (e.g. bfactor.bfactor for predicted structures, whose
    # B-factor column holds pLDDT); the model file lists the columns it was trained on.
    exclude_features: Sequence[str] = ()
    model: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_features", _checked_exclusions(self.exclude_features))
        if self.loss not in ("bce", "focal"):
            raise ConfigError(f"training.loss must be bce or focal, got {self.loss!r}")
        if self.threshold_criterion not in ("iou", "f1"):
            raise ConfigError(f"training.threshold_criterion must be iou or f1, got {self.threshold_criterion!r}")
        if not (self.pos_weight == "auto" or (isinstance(self.pos_weight, (int, float)) and self.pos_weight > 0)):
            raise ConfigError(f"training.pos_weight must be 'auto' or a positive number, got {self.pos_weight!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "TrainingConfig":
        config = dataclass_from_params(cls, params, "training")
        object.__setattr__(config, "_params", dict(params or {}))  # not a field: equality ignores it
        return config

    def feature_names(self, available: Sequence[str]) -> Sequence[str]:
        """The columns of ``available`` (a training set's, in its order) the model is trained on.

        ``available`` itself when nothing is excluded, so the default run is unchanged to the byte.
        """
        if not self.exclude_features:
            return available
        missing = [name for name in self.exclude_features if name not in available]
        if missing:
            raise ConfigError(f"training.exclude_features: {missing[0]!r} is not a column of the training set")
        return tuple(name for name in available if name not in self.exclude_features)

    def as_params(self) -> dict[str, Any]:
        """The block as params.yaml gave it (checkpoint hyper-parameters, the params hash); a
        config built in code has no such block and gives its fields.

        The very mapping, not a rebuilt one: checkpoints pickle it, and equal dicts of other
        string objects pickle to other bytes.
        """
        return dict(getattr(self, "_params", None) or asdict(self))


def _checked_exclusions(value: Any) -> tuple[str, ...]:
    """A tuple of distinct descriptor names that leaves at least one column; one-line errors otherwise."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f"training.exclude_features must be a list of descriptor names, got {value!r}")
    for name in value:
        if name not in DESCRIPTOR_NAMES:
            close = difflib.get_close_matches(str(name), DESCRIPTOR_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else " (names: pocknet.featurize.descriptor_columns)"
            raise ConfigError(f"training.exclude_features: {name!r} is not one of the {len(DESCRIPTOR_NAMES)} descriptor names{hint}")
    if len(set(value)) != len(value):
        raise ConfigError(f"training.exclude_features lists a name twice: {list(value)}")
    if len(value) == len(DESCRIPTOR_NAMES):
        raise ConfigError("training.exclude_features excludes every descriptor: nothing left to train on")
    return tuple(value)


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()
