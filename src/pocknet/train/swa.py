"""Stochastic weight averaging chosen on validation only (SCIENCE.md §6).

The original PockNet blended checkpoints by their BU48 (test) score and
averaged BatchNorm statistics without recomputing them. Here:

1. :func:`choose_window` picks the contiguous window of epochs with the best
   mean **validation** score — the test set is never an input;
2. :func:`average_state_dicts` averages the weights of that window;
3. :func:`recalibrate_batchnorm` recomputes BatchNorm running statistics for the
   averaged weights. Averaged statistics belong to none of the averaged
   networks: the activations of the averaged network have their own mean and
   variance, which must be measured on (training) data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from pocknet.errors import ConfigError

__all__ = ["average_state_dicts", "choose_window", "recalibrate_batchnorm"]

log = logging.getLogger(__name__)


def choose_window(scores: Sequence[float], width: int) -> tuple[int, int]:
    """Half-open epoch range ``[start, stop)`` of the ``width`` epochs with the best mean score.

    ``scores`` are per-epoch validation scores, higher is better (pass a negated
    loss). NaN counts as -inf, so a window touching a diverged epoch is never
    chosen while a finite one exists. Exact ties go to the **later** window:
    later epochs have had more training at the same validation quality. A
    ``width`` longer than the run gives the whole run.
    """
    if width < 1:
        raise ConfigError(f"swa: window width must be >= 1, got {width}")
    values = np.asarray(scores, dtype=np.float64).reshape(-1)
    if len(values) == 0:
        raise ValueError("swa: no validation scores to choose a window from")
    if width >= len(values):
        return 0, len(values)
    values = np.where(np.isnan(values), -np.inf, values)
    means = np.lib.stride_tricks.sliding_window_view(values, width).mean(axis=1)
    start = len(means) - 1 - int(np.argmax(means[::-1]))  # last maximum = later window
    if not np.isfinite(means[start]):
        log.warning("swa: every %d-epoch window contains a NaN validation score; using the last", width)
    return start, start + width


def average_state_dicts(state_dicts: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Arithmetic mean of every floating-point tensor over the members.

    Summed in float64 and cast back to each tensor's dtype, so the result does
    not depend on member order beyond rounding of the final cast and half
    precision weights do not lose the average. Non-floating entries (BatchNorm
    ``num_batches_tracked``, other counters, non-tensor extra state) cannot be
    averaged meaningfully and are taken from the **last** member, the latest
    state of the run. All members must have the same keys and shapes.
    """
    if len(state_dicts) == 0:
        raise ValueError("swa: cannot average an empty list of state dicts")
    reference = state_dicts[0]
    keys = list(reference.keys())
    for i, sd in enumerate(state_dicts[1:], start=1):
        if set(sd.keys()) != set(keys):
            missing = sorted(set(keys) - set(sd.keys()))
            extra = sorted(set(sd.keys()) - set(keys))
            raise ValueError(
                f"swa: state dict {i} differs in keys from state dict 0: missing {missing}, extra {extra}"
            )
    last = state_dicts[-1]
    n = len(state_dicts)
    averaged: dict[str, torch.Tensor] = {}
    for key in keys:
        ref = reference[key]
        if not (isinstance(ref, torch.Tensor) and ref.is_floating_point()):
            value = last[key]
            averaged[key] = value.detach().clone() if isinstance(value, torch.Tensor) else value
            continue
        total = torch.zeros(ref.shape, dtype=torch.float64, device=ref.device)
        for i, sd in enumerate(state_dicts):
            t = sd[key]
            if t.shape != ref.shape:
                raise ValueError(
                    f"swa: {key!r} has shape {tuple(t.shape)} in state dict {i}, {tuple(ref.shape)} in 0"
                )
            total += t.detach().to(device=ref.device, dtype=torch.float64)
        averaged[key] = (total / n).to(ref.dtype)
    return averaged


def _to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor of a (nested dict / list / tuple) batch to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def recalibrate_batchnorm(
    model: nn.Module,
    batches: Iterable[Any],
    forward: Callable[[nn.Module, Any], Any] | None = None,
    device: str | torch.device = "cpu",
) -> int:
    """Recompute BatchNorm running statistics of ``model`` from ``batches``; return samples seen.

    Same procedure as ``torch.optim.swa_utils.update_bn`` (reset, momentum=None
    so the running statistics become the cumulative average of the per-batch
    statistics, one pass in train mode without gradients), but the forward is a
    callable so models taking dict batches work, and every module's own
    train/eval flag and momentum are restored afterwards. Tensors in each batch
    are moved to ``device`` (where the model must live).

    The count returned is the number of rows (first dimension) the first
    BatchNorm layer normalised — the samples its statistics come from (points,
    for a point-wise model). Returns 0 without touching the data when the model
    has no BatchNorm layer that tracks running statistics.

    Notes
    -----
    As in ``update_bn`` the running mean/variance are the mean over batches of
    each batch's mean and unbiased variance; with equal-sized batches the mean
    equals the mean of all data, and with one batch both equal the statistics
    of the data. Use training data in the same batching as training.
    """
    bns = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not bns:
        return 0
    device = torch.device(device)
    run = forward if forward is not None else (lambda m, b: m(b))
    modes = {m: m.training for m in model.modules()}
    momenta = {bn: bn.momentum for bn in bns}
    rows = {bn: 0 for bn in bns}

    def count(module: nn.Module, inputs: tuple[Any, ...]) -> None:
        rows[module] += int(inputs[0].shape[0])

    hooks = [bn.register_forward_pre_hook(count) for bn in bns]
    try:
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        with torch.no_grad():
            for batch in batches:
                run(model, _to_device(batch, device))
    finally:
        for h in hooks:
            h.remove()
        for bn, momentum in momenta.items():
            bn.momentum = momentum
        for m, training in modes.items():
            m.training = training
    unused = [bn for bn in bns if rows[bn] == 0]
    if len(unused) == len(bns):
        log.warning("swa: no batch reached a BatchNorm layer; running statistics are reset, not recalibrated")
    elif unused:
        log.warning("swa: %d BatchNorm layer(s) saw no data and keep reset statistics", len(unused))
    return next((rows[bn] for bn in bns if rows[bn]), 0)
