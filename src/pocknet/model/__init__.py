"""Neural-network components of PockNet (plain ``nn.Module``; training logic lives in ``pocknet.train``).

:class:`PocketNet` is the one forward path for training, SWA and inference;
:class:`ModelConfig` is its architecture (``training.model`` in params.yaml plus
the data-derived sizes).
"""

from __future__ import annotations

from pocknet.model.config import CONTEXT_FIELDS, CONTEXTS, DATA_DERIVED_FIELDS, DISTANCE_BIASES, NORMS, ModelConfig
from pocknet.model.context import ContextAttention, ContextLayer
from pocknet.model.encoders import ResidueEncoder, TabularEncoder, make_norm, mlp_blocks
from pocknet.model.fusion import (
    CONTEXT_KEYS,
    EMBEDDING_KEYS,
    MIN_STD,
    TABULAR_KEY,
    BatchError,
    GatedFusion,
    MissingBatchKeyError,
    PocketNet,
)
from pocknet.model.neighbourhood import DistanceBias, NeighbourhoodAttention

__all__ = [
    "CONTEXT_FIELDS",
    "CONTEXT_KEYS",
    "CONTEXTS",
    "ContextAttention",
    "ContextLayer",
    "DATA_DERIVED_FIELDS",
    "DISTANCE_BIASES",
    "EMBEDDING_KEYS",
    "MIN_STD",
    "NORMS",
    "TABULAR_KEY",
    "BatchError",
    "DistanceBias",
    "GatedFusion",
    "MissingBatchKeyError",
    "ModelConfig",
    "NeighbourhoodAttention",
    "PocketNet",
    "ResidueEncoder",
    "TabularEncoder",
    "make_norm",
    "mlp_blocks",
]
