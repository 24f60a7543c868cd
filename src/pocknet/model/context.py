"""Spatial context: each SAS point attends to the encodings of nearby SAS points.

The per-point model scores a point from its own 35 descriptors. Here the point
also sees up to ``k`` *context points* of the same protein within a radius (the
k nearest of every ``stride``-th point, :func:`pocknet.trainset.neighbours.k_nearest_points`),
encoded by the same tabular encoder as the point itself.

Inputs are a **table** of context-point encodings ``[M, H]`` and, per point, ``k``
row indices into it (``-1``: padding) with the distances in Å. Keys and values
are projected once per table row and gathered per point, so the projections
grow with the table, not with ``B x k``: when a whole protein is scored
(``pocknet predict``) the table is the protein's context points, each projected
once; a training batch of random points carries the rows its points refer to.
Both are the same forward pass (:class:`pocknet.model.PocketNet`) on the same
kind of batch.

Each of ``layers`` layers: the point's state (initially its own encoding)
queries its ``k`` context points plus one learned *null* token (a key/value
pair, the same for every point: "no context needed"; it is always valid, so a
point without any context point never produces NaN). A learned per-head
distance bias (:class:`~pocknet.model.neighbourhood.DistanceBias`, triangle
kernels, one basis for all layers) acts as a prior over range; padding is
removed from the softmax with ``-inf``. The result is added to the state
(residual), which keeps the point's own encoding. Tokens stay fixed across
layers; only the query is refined, so the receptive field is exactly the
point's own context points and a random training batch needs no second-order
neighbours.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from pocknet.model.neighbourhood import DistanceBias

__all__ = ["ContextAttention", "ContextLayer"]


class ContextLayer(nn.Module):
    """One attention step of a point over ``[null token, its k context points]``.

    Queries, keys and values are ``hidden / 4`` wide (rounded to whole heads): the per-point work
    is gathering and weighting ``k`` keys and values, and this keeps it within the time budget of
    ``pocknet predict`` on one core (see benchmarks/RESULTS.md).

    Parameters
    ----------
    hidden : int
    heads : int
        Must divide ``hidden``.
    dropout : float
    """

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"heads ({heads}) must divide hidden ({hidden})")
        self.hidden, self.heads = hidden, heads
        self.dim = heads * max(1, hidden // (4 * heads))  # query = key = value width
        self.query_norm = nn.LayerNorm(hidden)
        self.token_norm = nn.LayerNorm(hidden)
        self.query = nn.Linear(hidden, self.dim)
        self.key = nn.Linear(hidden, self.dim)
        self.value = nn.Linear(hidden, self.dim)
        self.null = nn.Parameter(torch.randn(2 * self.dim) * 0.02)  # the null token's key and value
        self.out = nn.Linear(self.dim, hidden)
        self.attn_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)

    def forward(
        self, state: Tensor, table: Tensor, index: Tensor, bias: Tensor, *, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """New state ``[B, hidden]`` (and the weights ``[B, heads, k + 1]``, token 0 = the null token).

        ``table`` ``[M, hidden]`` (``M >= 1``); ``index`` ``[B, k]`` rows of ``table`` (any valid
        row at padding); ``bias`` ``[B, k, heads]`` additive logits from the distances, ``-inf`` at
        padding.
        """
        batch, k = index.shape
        h, d = self.heads, self.dim // self.heads
        q = self.query(self.query_norm(state)).view(batch, 1, h, d)
        # Projected once per table row, then gathered into contiguous [B, k, h, d] tensors
        # (index_select: much faster than fancy indexing; contiguous: ~2x faster products below).
        tokens = self.token_norm(table)
        flat = index.reshape(-1)
        keys = self.key(tokens).index_select(0, flat).view(batch, k, h, d)
        values = self.value(tokens).index_select(0, flat).view(batch, k, h, d)
        null_key, null_value = self.null.view(2, h, d)
        scale = 1.0 / math.sqrt(d)
        null_scores = (q[:, 0] * null_key).sum(-1) * scale  # [B, h]
        context_scores = (q * keys).sum(-1) * scale + bias  # [B, k, h]
        # Softmax over the last dimension (contiguous): [B, h, k+1], token 0 the null token.
        scores = torch.cat([null_scores.unsqueeze(2), context_scores.transpose(1, 2)], dim=2)
        weights = torch.softmax(scores, dim=-1)  # the null token is always valid: no NaN
        dropped = self.attn_dropout(weights)
        context_weights = dropped[:, :, 1:].transpose(1, 2).contiguous().unsqueeze(-1)  # [B, k, h, 1]
        context = dropped[:, :, :1] * null_value + (context_weights * values).sum(1)  # [B, h, d]
        new_state = state + self.out_dropout(self.out(context.reshape(batch, self.dim)))
        if return_weights:
            return new_state, weights
        return new_state


class ContextAttention(nn.Module):
    """``layers`` :class:`ContextLayer` steps: point encoding + context-point table → refined encoding.

    Parameters
    ----------
    hidden : int
    heads : int
        Must divide ``hidden``.
    layers : int
    distance_bias : {"rbf", "linear", "none"}
        See :class:`~pocknet.model.neighbourhood.DistanceBias` (``"rbf"`` with triangle kernels here).
    rbf_centers : int
    radius : float
        Å; range of the distance bias (context points never lie farther).
    dropout : float
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        layers: int,
        distance_bias: str,
        rbf_centers: int,
        radius: float,
        dropout: float,
    ) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"ContextAttention needs at least one layer, got {layers}")
        self.heads = heads
        self.layers = nn.ModuleList(ContextLayer(hidden, heads, dropout) for _ in range(layers))
        # One distance encoding for all layers (each layer its own heads), computed once per forward.
        self.bias = DistanceBias(distance_bias, heads * layers, rbf_centers, radius, kernel="triangle")

    def forward(
        self, point: Tensor, table: Tensor, index: Tensor, distance: Tensor, *, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """``[B, H]`` point encodings, ``[M, H]`` table, ``[B, k]`` int rows (``-1`` padding), ``[B, k]`` Å → ``[B, H]``.

        Padding entries may hold anything in ``distance``; they are masked here, so neither
        their value nor an empty table (``M == 0``) can reach the output. ``return_weights``: also
        each layer's attention weights ``[B, heads, k + 1]`` (token 0: the null token).
        """
        mask = index >= 0
        if table.shape[0] == 0:  # no context point at all: gather from one (masked) zero row
            table = table.new_zeros(1, table.shape[1])
        safe = torch.where(mask, index, torch.zeros_like(index))
        distance = torch.where(mask, distance, torch.zeros_like(distance))
        bias = self.bias.per_token(distance).masked_fill(~mask[:, :, None], float("-inf"))  # [B, k, h·L]
        h = self.heads
        state, weights = point, []
        for i, layer in enumerate(self.layers):
            out = layer(state, table, safe, bias[..., i * h : (i + 1) * h], return_weights=return_weights)
            if return_weights:
                state, w = out
                weights.append(w)
            else:
                state = out
        return (state, weights) if return_weights else state
