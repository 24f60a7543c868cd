"""Attention from a SAS point over its residue neighbourhood, biased by distance.

The query is the point itself (its tabular encoding together with its centre
residue); keys and values are ``k + 1`` residue tokens: the centre residue
(distance 0, marked with a learned type vector so it is never confused with a
neighbour that happens to be close) followed by the ``k`` nearest other
residues. A learned per-head additive bias turns the point→residue distance
into a prior ("near residues matter more"), which plain dot-product attention
could only learn indirectly.

Padding neighbours (fewer than ``k`` residues in the protein; index ``-1`` and
distance ``-1`` in the data) are removed from the softmax with ``-inf``. The
centre token is always valid, so every row has at least one finite logit and
the output is never NaN, even for a point whose neighbours are all padding.

Attention is written out with ``einsum`` instead of ``nn.MultiheadAttention``
so that the bias and the mask are explicit and testable.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pocknet.model.config import DISTANCE_BIASES

__all__ = ["DistanceBias", "NeighbourhoodAttention"]


def _inverse_softplus(value: float) -> float:
    return math.log(math.expm1(value))


class DistanceBias(nn.Module):
    """Per-head additive attention bias as a learned function of distance.

    Parameters
    ----------
    mode : {"rbf", "linear", "none"}
        ``"rbf"``: Gaussian radial-basis expansion of the distance → Linear → one bias per head (any
        smooth shape, e.g. "prefer residues 4–8 Å away"). ``"linear"``: ``-softplus(w_h) · d``, a
        monotone decay whose rate each head learns (ALiBi-like; slopes start geometric between
        0.05 and 0.5 per Å so heads begin at different ranges). ``"none"``: zero (ablation).
    heads : int
    rbf_centers : int
        Gaussians evenly spaced over ``[0, rbf_max]``; their width is the spacing.
    rbf_max : float
        Å. Distances are clamped to ``[0, rbf_max]``: beyond it every far residue gets the bias of
        ``rbf_max`` rather than the bias drifting back to the Linear's intercept as the Gaussians
        vanish.
    kernel : {"gaussian", "triangle"}
        Basis functions of ``"rbf"``: Gaussians, or triangles (hat functions of the same spacing:
        a piecewise-linear bias, with no ``exp``; several times cheaper on a CPU, used by the
        spatial-context branch, which evaluates ``k`` distances for every point).
    """

    def __init__(
        self, mode: str, heads: int, rbf_centers: int, rbf_max: float, kernel: str = "gaussian"
    ) -> None:
        super().__init__()
        if mode not in DISTANCE_BIASES:
            raise ValueError(f"distance_bias must be one of {list(DISTANCE_BIASES)}, got {mode!r}")
        if kernel not in ("gaussian", "triangle"):
            raise ValueError(f"kernel must be gaussian or triangle, got {kernel!r}")
        self.mode = mode
        self.kernel = kernel
        self.heads = heads
        self.rbf_max = float(rbf_max)
        if mode == "rbf":
            centres = torch.linspace(0.0, self.rbf_max, rbf_centers, dtype=torch.float32)
            width = self.rbf_max / (rbf_centers - 1) if rbf_centers > 1 else self.rbf_max
            # Derived from the config, so not part of the state dict.
            self.register_buffer("centres", centres, persistent=False)
            self.gamma = 1.0 / (width * width)
            self.width = width
            self.proj = nn.Linear(rbf_centers, heads)
        elif mode == "linear":
            slopes = (
                torch.logspace(math.log10(0.05), math.log10(0.5), heads) if heads > 1 else torch.tensor([0.1])
            )
            self.raw_slope = nn.Parameter(torch.tensor([_inverse_softplus(float(s)) for s in slopes]))

    def forward(self, distance: Tensor) -> Tensor:
        """``[B, T]`` distances in Å → ``[B, heads, T]`` additive logits.

        Callers replace padding distances before calling (the values there are masked anyway).
        """
        d = distance.clamp(min=0.0, max=self.rbf_max)
        if self.mode == "rbf":
            return self.per_token(d).transpose(1, 2)
        if self.mode == "linear":
            return -F.softplus(self.raw_slope)[None, :, None] * d[:, None, :]
        return d.new_zeros(d.shape[0], self.heads, d.shape[1])

    def per_token(self, distance: Tensor) -> Tensor:
        """``[..., T]`` distances → ``[..., T, heads]`` (the bias in token-major layout)."""
        d = distance.clamp(min=0.0, max=self.rbf_max)
        if self.mode == "linear":
            return -F.softplus(self.raw_slope) * d.unsqueeze(-1)
        if self.mode == "none":
            return d.new_zeros(*d.shape, self.heads)
        if self.kernel == "gaussian":
            return self.proj(torch.exp(-self.gamma * (d.unsqueeze(-1) - self.centres.to(d.dtype)) ** 2))
        centres = len(self.centres)
        if centres == 1:
            return self.proj(torch.relu(1.0 - d.unsqueeze(-1) / self.width))
        # A hat function is non-zero at two neighbouring centres only (weights 1 - f and f), so
        # projecting the basis is interpolating the projection's rows: no [..., T, C] tensor, one
        # gather of (row i + bias, row i+1 - row i) per distance.
        position = d / self.width
        lower = position.floor().clamp_(max=centres - 2)
        f = (position - lower).reshape(-1, 1)
        rows = self.proj.weight.t()  # [C, heads]
        table = torch.cat([rows[:-1] + self.proj.bias, rows[1:] - rows[:-1]], dim=1)  # [C-1, 2·heads]
        picked = table.index_select(0, lower.long().reshape(-1))
        return torch.addcmul(picked[:, : self.heads], picked[:, self.heads :], f).view(*d.shape, self.heads)


class NeighbourhoodAttention(nn.Module):
    """Multi-head attention of one point over ``[centre residue, k neighbours]``.

    Parameters
    ----------
    hidden : int
        Width of the point and residue encodings and of the output.
    heads : int
        Must divide ``hidden``.
    distance_bias : {"rbf", "linear", "none"}
        See :class:`DistanceBias`.
    rbf_centers : int
    rbf_max : float
    dropout : float
        On the attention weights and the output.
    """

    def __init__(
        self,
        hidden: int,
        heads: int,
        distance_bias: str,
        rbf_centers: int,
        rbf_max: float,
        dropout: float,
    ) -> None:
        super().__init__()
        if hidden % heads:
            raise ValueError(f"heads ({heads}) must divide hidden ({hidden})")
        self.hidden = hidden
        self.heads = heads
        self.head_dim = hidden // heads
        # The query sees both what the point's chemistry looks like and which residue it sits on.
        self.query = nn.Linear(2 * hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.centre_type = nn.Parameter(torch.randn(hidden) * 0.02)
        self.bias = DistanceBias(distance_bias, heads, rbf_centers, rbf_max)
        self.attn_dropout = nn.Dropout(dropout)
        self.out_dropout = nn.Dropout(dropout)

    def forward(
        self,
        point: Tensor,
        centre: Tensor,
        neighbours: Tensor,
        neighbour_dist: Tensor,
        neighbour_mask: Tensor,
        *,
        return_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Context vector of each point.

        Parameters
        ----------
        point : Tensor [B, hidden]
            Tabular encoding of the point.
        centre : Tensor [B, hidden]
            Encoding of the point's own residue.
        neighbours : Tensor [B, k, hidden]
            Encodings of the k nearest other residues (padding rows: anything finite).
        neighbour_dist : Tensor [B, k]
            Point→residue distance in Å (padding: −1, ignored).
        neighbour_mask : Tensor [B, k] bool
            True for real neighbours.
        return_weights : bool
            Also return the attention weights ``[B, heads, k + 1]`` (token 0 is the centre), for
            inspection and tests.

        Returns
        -------
        Tensor [B, hidden]
            (and the weights when asked).
        """
        batch, k = neighbour_mask.shape
        tokens = torch.cat([(centre + self.centre_type).unsqueeze(1), neighbours], dim=1)  # [B, k+1, H]
        valid = torch.cat([neighbour_mask.new_ones(batch, 1), neighbour_mask], dim=1)  # [B, k+1]
        dist = torch.cat([neighbour_dist.new_zeros(batch, 1), neighbour_dist], dim=1)
        dist = torch.where(valid, dist, torch.zeros_like(dist))

        q = self.query(torch.cat([point, centre], dim=-1)).view(batch, self.heads, self.head_dim)
        keys = self.key(tokens).view(batch, k + 1, self.heads, self.head_dim)
        values = self.value(tokens).view(batch, k + 1, self.heads, self.head_dim)

        scores = torch.einsum("bhd,bthd->bht", q, keys) / math.sqrt(self.head_dim)
        scores = scores + self.bias(dist)
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # centre always valid: no all -inf row
        context = torch.einsum("bht,bthd->bhd", self.attn_dropout(weights), values).reshape(
            batch, self.hidden
        )
        context = self.out_dropout(self.out(context))
        if return_weights:
            return context, weights
        return context
