"""Per-input encoders: tabular descriptors → ``[B, hidden]``, residue embeddings → ``[..., hidden]``.

Plain :class:`torch.nn.Module` components with no training logic, so the same
modules serve training, SWA and single-structure inference.
"""

from __future__ import annotations

from torch import Tensor, nn

from pocknet.model.config import NORMS

__all__ = ["ResidueEncoder", "TabularEncoder", "make_norm", "mlp_blocks"]


def make_norm(norm: str, width: int) -> nn.Module:
    """``BatchNorm1d`` (with running statistics, for SWA recalibration) or ``LayerNorm``.

    Parameters
    ----------
    norm : {"batch", "layer"}
    width : int
        Features normalised (the last dimension of a ``[B, width]`` input).
    """
    if norm == "batch":
        return nn.BatchNorm1d(width, track_running_stats=True)
    if norm == "layer":
        return nn.LayerNorm(width)
    raise ValueError(f"norm must be one of {list(NORMS)}, got {norm!r}")


def mlp_blocks(in_dim: int, hidden: int, layers: int, norm: str, dropout: float) -> nn.Sequential:
    """``layers`` blocks of Linear→Norm→GELU→Dropout, the first from ``in_dim``, the rest ``hidden``-wide.

    One definition for the tabular encoder and the head keeps their behaviour (and the set of
    BatchNorm layers SWA must recalibrate) in one place. ``layers == 0`` gives an identity.
    """
    blocks: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), make_norm(norm, hidden), nn.GELU(), nn.Dropout(dropout)]
        width = hidden
    return nn.Sequential(*blocks)


class TabularEncoder(nn.Module):
    """MLP over the (already standardised) per-point descriptors.

    Parameters
    ----------
    n_features : int
        Descriptor columns ``F``.
    hidden : int
        Output width.
    layers : int
        Linear→Norm→GELU→Dropout blocks (at least one).
    norm : {"batch", "layer"}
    dropout : float

    Notes
    -----
    Input ``[B, F]`` float, output ``[B, hidden]``. Standardisation is done by
    :class:`~pocknet.model.fusion.PocketNet` (its buffers travel with the state dict), not here.
    """

    def __init__(self, n_features: int, hidden: int, layers: int, norm: str, dropout: float) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"TabularEncoder needs at least one layer, got {layers}")
        self.net = mlp_blocks(n_features, hidden, layers, norm, dropout)

    def forward(self, tabular: Tensor) -> Tensor:
        """``[B, F]`` → ``[B, hidden]``."""
        return self.net(tabular)


class ResidueEncoder(nn.Module):
    """Projects ESM2 residue vectors (e.g. 2560-d) down to ``hidden``.

    One set of weights encodes the centre residue ``[B, D]`` and the neighbours ``[B, k, D]``
    alike, so a residue means the same thing whichever role it plays. LayerNorm (not BatchNorm)
    because neighbour tokens include padding rows and vary in number per point.

    Parameters
    ----------
    embedding_dim : int
        Width ``D`` of the residue embeddings.
    hidden : int
        Output width.
    dropout : float
    """

    def __init__(self, embedding_dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embedding_dim, hidden), nn.LayerNorm(hidden), nn.GELU(), nn.Dropout(dropout)
        )

    def forward(self, embedding: Tensor) -> Tensor:
        """``[..., D]`` → ``[..., hidden]`` (any leading shape)."""
        return self.net(embedding)
