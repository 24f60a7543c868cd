"""A tiny random-weight ESM2 checkpoint in the official fair-esm file layout.

Real ESM2 weights (up to 15 GB) cannot live in tests or CI, and there is no
network to fetch them. This writes a few-kB model that goes through exactly the
same code path as the official files (:func:`pocknet.embed.checkpoint.load_esm2` →
``esm.pretrained.load_model_and_alphabet_core``), so loading, windowing,
batching and caching are tested for real; only the numbers are meaningless.

Layout of an official ESM2 ``.pt`` file, as fair-esm's
``_load_model_and_alphabet_core_v2`` reads it::

    {
        "cfg": {"model": argparse.Namespace(encoder_layers=…, encoder_embed_dim=…,
                                            encoder_attention_heads=…, token_dropout=True, …)},
        "model": {"encoder.sentence_encoder.<ESM2 parameter>": tensor, …,
                  "encoder.lm_head.<parameter>": tensor, …},
    }

fair-esm strips ``encoder.sentence_encoder.`` / ``encoder.`` and dispatches on
the file stem starting with ``esm2``. Contact-head weights are not in the main
file; they come from ``<stem>-contact-regression.pt`` as
``{"model": {"contact_head.regression.weight": …, "contact_head.regression.bias": …}}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pocknet.atomic import atomic_write

__all__ = ["write_tiny_esm2_checkpoint"]


def write_tiny_esm2_checkpoint(
    path: str | Path,
    num_layers: int = 2,
    embed_dim: int = 32,
    attention_heads: int = 4,
    seed: int = 0,
    *,
    contact_regression: bool = False,
) -> Path:
    """Write a seeded random ESM2 checkpoint at ``path`` (atomically) and return it.

    Parameters
    ----------
    path
        Target ``.pt`` file; its stem is the model name and must start with
        ``esm2`` (e.g. ``esm2_t2_tiny_test.pt``), as fair-esm dispatches on it.
    num_layers, embed_dim, attention_heads
        Architecture; ``embed_dim`` must be divisible by ``attention_heads``.
    seed
        Seed for the weights; the same seed gives the same tensors. The global
        torch RNG state is left untouched.
    contact_regression
        Also write ``<stem>-contact-regression.pt`` beside it, as the official
        downloads have.

    Raises
    ------
    ValueError
        Bad file name or architecture.
    """
    import torch
    from esm.model.esm2 import ESM2

    path = Path(path)
    if path.suffix != ".pt" or not path.stem.startswith("esm2"):
        raise ValueError(f"checkpoint name must look like esm2_<name>.pt, got {path.name!r}")
    if num_layers < 1 or embed_dim < 1 or attention_heads < 1 or embed_dim % attention_heads:
        raise ValueError(
            f"need num_layers, embed_dim, attention_heads >= 1 and embed_dim % attention_heads == 0, "
            f"got {num_layers}, {embed_dim}, {attention_heads}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ESM2(
            num_layers=num_layers,
            embed_dim=embed_dim,
            attention_heads=attention_heads,
            alphabet="ESM-1b",
            token_dropout=True,
        )
    state = model.state_dict()
    weights = {}
    for key, tensor in state.items():
        if key.startswith("contact_head."):
            continue
        prefix = "encoder." if key.startswith("lm_head.") else "encoder.sentence_encoder."
        weights[prefix + key] = tensor
    cfg = argparse.Namespace(
        _name="esm2",
        encoder_layers=num_layers,
        encoder_embed_dim=embed_dim,
        encoder_ffn_embed_dim=4 * embed_dim,
        encoder_attention_heads=attention_heads,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        token_dropout=True,
    )
    with atomic_write(path, "wb") as handle:  # a handle, not the temp path: see model_io.save_model
        torch.save({"cfg": {"model": cfg}, "model": weights}, handle)
    if contact_regression:
        regression = {k: v for k, v in state.items() if k.startswith("contact_head.regression.")}
        with atomic_write(path.with_name(path.stem + "-contact-regression.pt"), "wb") as handle:
            torch.save({"model": regression}, handle)
    return path
