"""The full point scorer: standardise → encode → (attend over residues, gate) → head → logit.

:class:`PocketNet` is the single forward path used by training, SWA and
inference alike (SCIENCE.md §5: the original skipped the neighbour branch at
inference). Its feature standardisation lives in buffers, so a saved state dict
carries the normalisation it was trained with.

Batch contract (``forward(batch)``):

=======================  ==============  ========  ==========================================
key                      shape           dtype     when
=======================  ==============  ========  ==========================================
``tabular``              ``[B, F]``      float32   always (raw descriptors, not standardised)
``centre_embedding``     ``[B, D]``      float     ``embedding_dim > 0``
``neighbour_embedding``  ``[B, k, D]``   float     ``embedding_dim > 0`` (padding rows: any value)
``neighbour_dist``       ``[B, k]``      float     ``embedding_dim > 0`` (Å; padding −1)
``neighbour_mask``       ``[B, k]``      bool      ``embedding_dim > 0`` (True = real neighbour)
``context_tabular``      ``[M, F]``      float32   ``context != "none"`` (raw descriptors of context points)
``context_index``        ``[B, c]``      int64     ``context != "none"`` (rows of ``context_tabular``; −1 padding)
``context_dist``         ``[B, c]``      float     ``context != "none"`` (Å; padding −1)
=======================  ==============  ========  ==========================================

(``c`` = ``context_k``.) Float inputs of another precision (e.g. float16 embeddings from the H5
file) are cast to the model's dtype. A model never reads the keys of a branch it does not have,
so they may be absent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from pocknet.errors import PockNetError
from pocknet.model.config import ModelConfig
from pocknet.model.context import ContextAttention
from pocknet.model.encoders import ResidueEncoder, TabularEncoder, mlp_blocks
from pocknet.model.neighbourhood import NeighbourhoodAttention

__all__ = [
    "CONTEXT_KEYS",
    "EMBEDDING_KEYS",
    "MIN_STD",
    "TABULAR_KEY",
    "BatchError",
    "GatedFusion",
    "MissingBatchKeyError",
    "PocketNet",
]

TABULAR_KEY = "tabular"
EMBEDDING_KEYS = ("centre_embedding", "neighbour_embedding", "neighbour_dist", "neighbour_mask")
CONTEXT_KEYS = ("context_tabular", "context_index", "context_dist")
MIN_STD = 1e-6  # constant columns (std 0) must not divide by zero
_PREVALENCE_CLAMP = (1e-4, 1.0 - 1e-4)

ArrayLike = Tensor | np.ndarray | Sequence[float]


class BatchError(PockNetError, ValueError):
    """A batch tensor has the wrong shape, width or dtype for this model.

    Usually a user error (embeddings of another ESM model than the checkpoint's, an H5 file built
    with another ``k``), hence a :class:`~pocknet.errors.PockNetError`; also a ``ValueError``.
    """


class MissingBatchKeyError(PockNetError, KeyError):
    """A key the model needs is missing from the batch (e.g. a tabular-only H5 fed to a fusion model)."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class GatedFusion(nn.Module):
    """``g = σ(W [centre, context])``; ``g · centre + (1 − g) · context``.

    Lets the model fall back on the point's own residue where the neighbourhood adds nothing
    (and vice versa), feature by feature.
    """

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * hidden, hidden)

    def forward(self, centre: Tensor, context: Tensor) -> Tensor:
        """``[B, hidden]`` × 2 → ``[B, hidden]``."""
        g = torch.sigmoid(self.gate(torch.cat([centre, context], dim=-1)))
        return g * centre + (1.0 - g) * context


def _vector(value: ArrayLike | None, n: int, default: float, name: str) -> Tensor:
    """A float32 ``[n]`` copy of ``value`` (``default`` everywhere when None), checked finite."""
    if value is None:
        return torch.full((n,), default, dtype=torch.float32)
    if isinstance(value, Tensor):
        tensor = value.detach().to(device="cpu", dtype=torch.float32)
    else:
        tensor = torch.as_tensor(np.asarray(value, dtype=np.float32))
    if tuple(tensor.shape) != (n,):
        raise ValueError(f"{name} must have shape [{n}] (one value per feature), got {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains non-finite values")
    return tensor.clone()


class PocketNet(nn.Module):
    """Ligandability logit of each SAS point from its descriptors and (optionally) residue embeddings.

    Parameters
    ----------
    config : ModelConfig
        ``embedding_dim == 0`` builds the tabular-only model (tabular encoder + head, no residue
        branch); otherwise the fusion model.
    feature_mean, feature_std : array-like [F], optional
        Training-set statistics of the tabular columns; default 0 and 1 (identity). ``std`` is
        clamped to at least ``MIN_STD``. Stored as buffers, so they are saved with the weights.

    Notes
    -----
    Fusion path::

        t   = TabularEncoder((tabular - mean) / std)                  [B, H]
        c   = ResidueEncoder(centre_embedding)                        [B, H]
        n   = ResidueEncoder(neighbour_embedding)                     [B, k, H]
        ctx = NeighbourhoodAttention(t, c, n, dist, mask)             [B, H]
        f   = GatedFusion(c, ctx)                                     [B, H]
        logit = output(head([t, f]))                                  [B]

    The tabular-only path is ``output(head(t))``. With ``context = "attention"`` the point encoding
    is refined first (:mod:`pocknet.model.context`), and ``t`` above is replaced by::

        [t; u] = TabularEncoder(([tabular; context_tabular] - mean) / std)   [B, H], [M, H]
        t      = ContextAttention(t, u, context_index, context_dist)        [B, H]

    (one encoder pass over points and context points, so BatchNorm sees them as one batch).
    """

    def __init__(
        self,
        config: ModelConfig,
        *,
        feature_mean: ArrayLike | None = None,
        feature_std: ArrayLike | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        n = config.n_features
        self.register_buffer("feature_mean", _vector(feature_mean, n, 0.0, "feature_mean"))
        self.register_buffer("feature_std", _vector(feature_std, n, 1.0, "feature_std").clamp(min=MIN_STD))

        h = config.hidden
        self.tabular_encoder = TabularEncoder(n, h, config.tabular_layers, config.norm, config.dropout)
        self.residue_encoder: ResidueEncoder | None = None
        self.attention: NeighbourhoodAttention | None = None
        self.fusion: GatedFusion | None = None
        # Created only when enabled: the per-point model's state dict keeps exactly its old keys.
        self.context: ContextAttention | None = None
        if config.uses_context:
            self.context = ContextAttention(
                h, config.heads, config.context_layers, config.distance_bias, config.rbf_centers,
                config.context_radius, config.dropout,
            )  # fmt: skip
        head_in = h
        if config.uses_embeddings:
            self.residue_encoder = ResidueEncoder(config.embedding_dim, h, config.dropout)
            self.attention = NeighbourhoodAttention(
                h, config.heads, config.distance_bias, config.rbf_centers, config.rbf_max, config.dropout
            )
            self.fusion = GatedFusion(h)
            head_in = 2 * h
        self.head = mlp_blocks(head_in, h, config.head_layers - 1, config.norm, config.dropout)
        self.output = nn.Linear(h if config.head_layers > 1 else head_in, 1)

    # ------------------------------------------------------------------ public helpers

    @property
    def uses_embeddings(self) -> bool:
        """True for the fusion model (reads the embedding keys)."""
        return self.config.uses_embeddings

    @property
    def uses_context(self) -> bool:
        """True for the spatial-context model (reads the context keys)."""
        return self.config.uses_context

    @property
    def batch_keys(self) -> tuple[str, ...]:
        """Keys ``forward`` reads, in the order of the module docstring's table."""
        return (
            TABULAR_KEY,
            *(EMBEDDING_KEYS if self.uses_embeddings else ()),
            *(CONTEXT_KEYS if self.uses_context else ()),
        )

    @torch.no_grad()
    def set_normalisation(self, mean: ArrayLike, std: ArrayLike) -> None:
        """Replace the standardisation statistics (e.g. computed on the training split).

        ``std`` is clamped to at least ``MIN_STD`` so constant columns map to 0, not inf.
        """
        n = self.config.n_features
        self.feature_mean.copy_(_vector(mean, n, 0.0, "feature_mean"))
        self.feature_std.copy_(_vector(std, n, 1.0, "feature_std").clamp(min=MIN_STD))

    @torch.no_grad()
    def init_output_bias(self, prevalence: float) -> None:
        """Start the output at the base rate: bias = logit(prevalence).

        With ~2–3 % positives (SCIENCE.md §4) a zero bias makes the first steps spend their
        gradient on learning the base rate; starting there avoids the initial loss spike.
        ``prevalence`` is clamped to ``(1e-4, 1 - 1e-4)``.
        """
        p = float(prevalence)
        if not math.isfinite(p) or not 0.0 <= p <= 1.0:
            raise ValueError(f"prevalence must be in [0, 1], got {prevalence!r}")
        p = min(max(p, _PREVALENCE_CLAMP[0]), _PREVALENCE_CLAMP[1])
        self.output.bias.fill_(math.log(p / (1.0 - p)))

    def describe(self) -> int:
        """Number of trainable parameters (buffers such as the normalisation excluded)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ------------------------------------------------------------------ forward

    def forward(self, batch: Mapping[str, Tensor]) -> Tensor:
        """Logits ``[B]`` (apply ``sigmoid`` for probabilities).

        Raises
        ------
        MissingBatchKeyError
            A key the model needs is absent (a ``KeyError``).
        BatchError
            Wrong rank, width, batch size, ``k`` or dtype (a ``ValueError``).
        """
        tabular = self._float(batch, TABULAR_KEY, 2)
        if tabular.shape[1] != self.config.n_features:
            raise BatchError(
                f"batch[{TABULAR_KEY!r}] has {tabular.shape[1]} features; this model was built for "
                f"{self.config.n_features}"
            )
        if self.uses_context:
            t = self._with_context(batch, tabular)
        else:
            t = self.tabular_encoder((tabular - self.feature_mean) / self.feature_std)
        if not self.uses_embeddings:
            return self.output(self.head(t)).squeeze(-1)

        centre_emb, neighbour_emb, dist, mask = self._residue_inputs(batch, tabular.shape[0])
        # Zero padding rows before encoding: whatever the loader put there (even NaN) must not
        # reach the values or the gradients of the encoder.
        neighbour_emb = torch.where(mask.unsqueeze(-1), neighbour_emb, torch.zeros_like(neighbour_emb))
        dist = torch.where(mask, dist, torch.zeros_like(dist))
        assert self.residue_encoder is not None and self.attention is not None and self.fusion is not None
        c = self.residue_encoder(centre_emb)
        n = self.residue_encoder(neighbour_emb)
        context = self.attention(t, c, n, dist, mask)
        fused = self.fusion(c, context)
        return self.output(self.head(torch.cat([t, fused], dim=-1))).squeeze(-1)

    def _with_context(self, batch: Mapping[str, Tensor], tabular: Tensor) -> Tensor:
        table, index, dist = self._context_inputs(batch, tabular.shape[0])
        size = tabular.shape[0]
        encoded = self.tabular_encoder((torch.cat([tabular, table]) - self.feature_mean) / self.feature_std)
        assert self.context is not None
        return self.context(encoded[:size], encoded[size:], index, dist)

    # ------------------------------------------------------------------ validation

    def _get(self, batch: Mapping[str, Tensor], key: str) -> Tensor:
        if key not in batch:
            kind = "fusion" if self.uses_embeddings else "tabular-only"
            raise MissingBatchKeyError(
                f"batch is missing {key!r}: the {kind} model needs {list(self.batch_keys)}, "
                f"got {sorted(batch)}"
            )
        value = batch[key]
        if not isinstance(value, Tensor):
            raise BatchError(f"batch[{key!r}] must be a torch.Tensor, got {type(value).__name__}")
        return value

    def _float(self, batch: Mapping[str, Tensor], key: str, ndim: int) -> Tensor:
        value = self._get(batch, key)
        if value.ndim != ndim:
            raise BatchError(f"batch[{key!r}] must have {ndim} dimensions, got shape {list(value.shape)}")
        if not value.is_floating_point():
            raise BatchError(f"batch[{key!r}] must be a float tensor, got {value.dtype}")
        return value.to(self.feature_mean.dtype)

    def _context_inputs(self, batch: Mapping[str, Tensor], size: int) -> tuple[Tensor, Tensor, Tensor]:
        cfg = self.config
        table = self._float(batch, "context_tabular", 2)
        dist = self._float(batch, "context_dist", 2)
        index = self._get(batch, "context_index")
        if index.dtype not in (torch.int64, torch.int32):
            raise BatchError(f"batch['context_index'] must be int64 rows of context_tabular (−1 padding), got {index.dtype}")
        if table.shape[1] != cfg.n_features:
            raise BatchError(
                f"batch['context_tabular'] has {table.shape[1]} features; this model was built for {cfg.n_features}"
            )
        for key, value in (("context_index", index), ("context_dist", dist)):
            if tuple(value.shape) != (size, cfg.context_k):
                raise BatchError(
                    f"batch[{key!r}] has shape {list(value.shape)}, expected {[size, cfg.context_k]} "
                    f"(B={size}, context_k={cfg.context_k})"
                )
        if index.numel() and (int(index.max()) >= table.shape[0] or int(index.min()) < -1):
            raise BatchError(
                f"batch['context_index'] must hold rows of context_tabular (0..{table.shape[0] - 1}) or −1"
            )
        return table, index.long(), dist

    def _residue_inputs(
        self, batch: Mapping[str, Tensor], size: int
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        cfg = self.config
        centre = self._float(batch, "centre_embedding", 2)
        neighbours = self._float(batch, "neighbour_embedding", 3)
        dist = self._float(batch, "neighbour_dist", 2)
        mask = self._get(batch, "neighbour_mask")
        if mask.dtype != torch.bool:
            # An int tensor here is most likely the neighbour *index* (−1 padding → True).
            raise BatchError(
                f"batch['neighbour_mask'] must be bool (True = real neighbour), got {mask.dtype}"
            )
        expected = {
            "centre_embedding": (centre, (size, cfg.embedding_dim)),
            "neighbour_embedding": (neighbours, (size, cfg.k, cfg.embedding_dim)),
            "neighbour_dist": (dist, (size, cfg.k)),
            "neighbour_mask": (mask, (size, cfg.k)),
        }
        for key, (value, shape) in expected.items():
            if tuple(value.shape) != shape:
                raise BatchError(
                    f"batch[{key!r}] has shape {list(value.shape)}, expected {list(shape)} "
                    f"(B={size}, k={cfg.k}, embedding_dim={cfg.embedding_dim})"
                )
        return centre, neighbours, dist, mask
