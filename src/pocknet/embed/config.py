"""The ``embedding`` block of params.yaml, validated (SCIENCE.md §5).

Kept apart from the model code so reading and checking the settings needs
neither ``torch`` nor ``esm``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError

__all__ = ["EmbeddingConfig"]


@dataclass(frozen=True)
class EmbeddingConfig:
    """The ``embedding`` block of params.yaml: which model, which layer, how to batch.

    Parameters
    ----------
    model
        A fair-esm ESM2 name (looked up in ``$TORCH_HOME/hub/checkpoints``), a path
        to a local ``.pt`` checkpoint, or ``"none"`` for no embeddings.
    layer
        Representation layer: ``-1`` (default) is the last layer; otherwise
        ``0..num_layers`` (0 = token embeddings), negative values count from the end.
    window
        Maximum residues per forward pass; ESM2 was trained on 1022 + BOS/EOS.
    overlap
        Residues shared by consecutive windows of a longer chain (``0 <= overlap < window``).
    token_budget
        Maximum tokens (padded, BOS/EOS included) per batch; bounds GPU memory.
        A window longer than the budget runs alone.
    device
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    half_precision
        Run in float16 on CUDA (ignored on CPU, where float16 is slow and inexact).
    sha256
        Expected SHA-256 of the weights file; checked before loading when set.
    cache_dir
        The content-addressed cache (:mod:`pocknet.embed.cache`), keyed by (model, layer, sequence).
    """

    model: str = "none"
    layer: int = -1
    window: int = 1022
    overlap: int = 256
    token_budget: int = 4096
    device: str = "auto"
    half_precision: bool = True
    sha256: str | None = None
    cache_dir: str = "data/03_embeddings/cache"

    def __post_init__(self) -> None:
        if isinstance(self.model, Path):
            object.__setattr__(self, "model", str(self.model))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(
                f"embedding.model must be an ESM2 name, a .pt path or 'none', got {self.model!r}"
            )
        for name in ("layer", "window", "overlap", "token_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"embedding.{name} must be an integer, got {value!r}")
        if self.window < 1:
            raise ConfigError(f"embedding.window must be >= 1 residue, got {self.window}")
        if not 0 <= self.overlap < self.window:
            raise ConfigError(
                f"embedding.overlap must satisfy 0 <= overlap < window ({self.window}), got {self.overlap}"
            )
        if self.token_budget < 3:
            raise ConfigError(
                f"embedding.token_budget must be >= 3 (one residue + BOS/EOS), got {self.token_budget}"
            )
        if not isinstance(self.device, str) or not self.device.strip():
            raise ConfigError(f"embedding.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        if not isinstance(self.half_precision, bool):
            raise ConfigError(f"embedding.half_precision must be true or false, got {self.half_precision!r}")
        if self.sha256 is not None:
            digest = str(self.sha256).strip().lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ConfigError(f"embedding.sha256 must be 64 hex digits or null, got {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)

    @property
    def is_none(self) -> bool:
        """True when embeddings are switched off (``model: none``, any case)."""
        return self.model.strip().lower() == "none"

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "EmbeddingConfig":
        """Build from the ``embedding`` block of params.yaml; unknown keys are errors.

        Unknown keys are rejected rather than ignored because a misspelt key
        (``windows:``) would otherwise silently run with the default.
        """
        return dataclass_from_params(cls, params, "embedding")
