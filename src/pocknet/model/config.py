"""Model hyper-parameters: the ``training.model`` block of params.yaml → :class:`ModelConfig`.

Sizes (``hidden``, ``heads``, …) come from params.yaml; the three values that
describe the *data* (``n_features``, ``embedding_dim``, ``k``) are never written
there but read from the H5 file by the caller and passed by keyword, so a model
can never be built for a different feature width, ESM model or neighbourhood
size than the data it is trained on.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError

__all__ = ["CONTEXT_FIELDS", "CONTEXTS", "DATA_DERIVED_FIELDS", "DISTANCE_BIASES", "NORMS", "ModelConfig"]

NORMS = ("batch", "layer")
DISTANCE_BIASES = ("rbf", "linear", "none")
CONTEXTS = ("none", "attention")
# Fields taken from the data (H5 attributes), not from params.yaml.
DATA_DERIVED_FIELDS = ("n_features", "embedding_dim", "k")
# Fields of the spatial-context branch: left out of ``to_dict`` while ``context`` is ``"none"``, so
# checkpoints and model files of the per-point model are byte-identical to those written before
# the branch existed; ``from_dict`` reads a dict without them as the per-point model.
CONTEXT_FIELDS = ("context", "context_k", "context_radius", "context_stride", "context_layers")

_WHERE = "training.model"


def _integer(name: str, value: object, minimum: int) -> int:
    # numpy integers (H5 attributes) are fine; bools and floats are not.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(f"{_WHERE}.{name} must be an integer, got {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{_WHERE}.{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _real(name: str, value: object) -> float:
    # YAML writes ``16`` for 16.0; accept any real number, reject bools and strings.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{_WHERE}.{name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of :class:`pocknet.model.PocketNet`.

    Parameters
    ----------
    n_features : int
        Tabular descriptors per SAS point (35 in P2Rank order; 34 without bfactor). From the data.
    embedding_dim : int
        Width ``D`` of the residue embeddings (2560 for ``esm2_t36_3B_UR50D``); ``0`` builds the
        tabular-only model, which has no residue branch and reads no embedding inputs. From the data.
    k : int
        Neighbour residues per point (centre residue excluded). From the data.
    hidden : int
        Width of every hidden representation.
    tabular_layers : int
        Linear→Norm→GELU→Dropout blocks in the tabular encoder.
    norm : {"batch", "layer"}
        Normalisation in the tabular encoder and head. ``"batch"`` keeps running statistics (the SWA
        step recalibrates them); ``"layer"`` is batch-size independent.
    dropout : float
        Dropout probability, ``0 <= dropout < 1``.
    heads : int
        Attention heads of the neighbourhood attention; must divide ``hidden``.
    distance_bias : {"rbf", "linear", "none"}
        How the point→residue distance biases attention: a learned function of a radial-basis
        expansion, a learned per-head linear decay, or nothing (ablation).
    rbf_centers : int
        Gaussian centres spread evenly over ``[0, rbf_max]``.
    rbf_max : float
        Å; distances beyond are treated as ``rbf_max``.
    head_layers : int
        Layers of the output MLP including the final Linear→1 (``1``: a linear read-out).
    context : {"none", "attention"}
        Spatial context (:mod:`pocknet.model.context`): ``"none"`` scores each point from its own
        descriptors (the per-point MLP); ``"attention"`` lets each point attend, over
        ``context_layers`` layers, to the tabular encodings of up to ``context_k`` nearby SAS points.
    context_k : int
        Context points per point (padding where fewer lie within ``context_radius``).
    context_radius : float
        Å; context points farther than this are never used (also the range of their distance bias).
    context_stride : int
        Context points are drawn from every ``context_stride``-th SAS point of the protein (in file
        order): ``1`` gives the ``context_k`` nearest points (~3.7 Å for 16 on a typical surface),
        ``8`` spreads 16 context points over ~9 Å at an eighth of the cost.
    context_layers : int
        Attention layers from the point to its context points (plus a learned null token); the
        point's own encoding passes through a residual connection.
    """

    n_features: int = 35
    embedding_dim: int = 0
    k: int = 16
    hidden: int = 128
    tabular_layers: int = 2
    norm: str = "batch"
    dropout: float = 0.1
    heads: int = 4
    distance_bias: str = "rbf"
    rbf_centers: int = 16
    rbf_max: float = 16.0
    head_layers: int = 2
    context: str = "none"
    context_k: int = 16
    context_radius: float = 10.0
    context_stride: int = 8
    context_layers: int = 1

    def __post_init__(self) -> None:
        minima = {
            "n_features": 1,
            "embedding_dim": 0,
            "k": 0,
            "hidden": 1,
            "tabular_layers": 1,
            "heads": 1,
            "rbf_centers": 1,
            "head_layers": 1,
            "context_k": 1,
            "context_stride": 1,
            "context_layers": 1,
        }
        for name, minimum in minima.items():
            object.__setattr__(self, name, _integer(name, getattr(self, name), minimum))
        for name in ("dropout", "rbf_max", "context_radius"):
            object.__setattr__(self, name, _real(name, getattr(self, name)))
        if self.norm not in NORMS:
            raise ConfigError(f"{_WHERE}.norm must be one of {list(NORMS)}, got {self.norm!r}")
        if self.distance_bias not in DISTANCE_BIASES:
            raise ConfigError(
                f"{_WHERE}.distance_bias must be one of {list(DISTANCE_BIASES)}, got {self.distance_bias!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{_WHERE}.dropout must satisfy 0 <= dropout < 1, got {self.dropout!r}")
        for name in ("rbf_max", "context_radius"):
            value = getattr(self, name)
            if not value > 0.0 or value == float("inf"):
                raise ConfigError(f"{_WHERE}.{name} must be a positive, finite distance in Å, got {value!r}")
        if self.context not in CONTEXTS:
            raise ConfigError(f"{_WHERE}.context must be one of {list(CONTEXTS)}, got {self.context!r}")
        # Heads only exist in the attention branches; a per-point tabular model need not satisfy this.
        if (self.uses_embeddings or self.uses_context) and self.hidden % self.heads:
            raise ConfigError(f"{_WHERE}.heads ({self.heads}) must divide {_WHERE}.hidden ({self.hidden})")

    @property
    def uses_embeddings(self) -> bool:
        """True when the model has the residue branch (``embedding_dim > 0``)."""
        return self.embedding_dim > 0

    @property
    def uses_context(self) -> bool:
        """True when the model has the spatial-context branch (``context != "none"``)."""
        return self.context != "none"

    @classmethod
    def from_params(
        cls,
        params: Mapping[str, Any] | None,
        *,
        n_features: int,
        embedding_dim: int,
        k: int,
    ) -> ModelConfig:
        """Build from the ``training.model`` block plus the data-derived sizes.

        Parameters
        ----------
        params : mapping or None
            The ``training.model`` block (sizes only). Unknown keys are errors, because a misspelt
            key would otherwise silently train with the default. The data-derived fields are errors
            too: written in params.yaml they could disagree with the H5 file.
        n_features, embedding_dim, k : int
            Read from the H5 file by the caller.

        Raises
        ------
        ConfigError
            Unknown or data-derived keys, or a value the model cannot use.
        """
        values = dict(params or {})
        derived = sorted(set(values) & set(DATA_DERIVED_FIELDS))
        if derived:
            raise ConfigError(
                f"{_WHERE}: {derived} come from the data (H5 file), not from params.yaml; remove them"
            )
        values.update(n_features=n_features, embedding_dim=embedding_dim, k=k)
        return dataclass_from_params(cls, values, _WHERE)

    def to_dict(self) -> dict[str, int | float | str]:
        """Plain JSON-able values (for checkpoints' hyper-parameters and model cards).

        Without spatial context the ``context*`` fields are left out: the dict (and so every
        checkpoint and model file) is then exactly what it was before the branch existed, and
        :meth:`from_dict` restores it.
        """
        values = dataclasses.asdict(self)
        if not self.uses_context:
            for name in CONTEXT_FIELDS:
                values.pop(name)
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        """The inverse of :meth:`to_dict`: a dict without ``context`` is a per-point model (``"none"``),
        whatever today's default, so files written before the context branch load as what they are."""
        return cls(**{"context": "none", **values})
