"""Training progress as plain log lines: one per epoch, and batch counts within long epochs.

Lightning's bar is a carriage-return widget: off a terminal (``make run > log``, CI) a
39-minute training printed nothing readable. This callback logs through ``pocknet``'s
logger, so the same lines appear in any log, and the bar stays for terminals only.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import lightning as L

from pocknet.progress import INTERVAL, ProgressLine, format_duration

__all__ = ["LineProgress"]

log = logging.getLogger("pocknet.train.training")


class LineProgress(L.Callback):
    """``epoch 3/20: train_loss …, val_pr_auc … (best … at epoch …), 1m 35s, ETA …`` (rank 0 only)."""

    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self.batches: ProgressLine | None = None
        self.epoch_start = 0.0
        self.fit_start = 0.0
        self.best: tuple[float, int] | None = None

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.fit_start = time.monotonic()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.epoch_start = time.monotonic()
        total = trainer.num_training_batches
        self.batches = ProgressLine(
            f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}",
            int(total) if math.isfinite(total) else None,
            unit="batch",
            interval=self.interval,
        )
        self.batches.last = self.epoch_start

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args: Any) -> None:
        if trainer.is_global_zero and self.batches is not None:
            total = self.batches.total
            if total is None or self.batches.count + 1 < total:  # the epoch line reports the end
                self.batches.update()
            else:
                self.batches.count += 1

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        epoch = trainer.current_epoch + 1
        parts = [f"{k} {metrics[k]:.4f}" for k in ("train_loss", "val_loss", "val_pr_auc") if k in metrics]
        value = metrics.get("val_pr_auc")
        if value is not None and (self.best is None or value > self.best[0]):
            self.best = (value, epoch)
        if self.best is not None:
            parts.append(f"best val_pr_auc {self.best[0]:.4f} at epoch {self.best[1]}")
        now = time.monotonic()
        parts.append(f"{format_duration(now - self.epoch_start)}")
        remaining = (trainer.max_epochs or epoch) - epoch
        if remaining > 0:
            per_epoch = (now - self.fit_start) / epoch
            parts.append(f"at most {format_duration(per_epoch * remaining)} left ({remaining} epochs)")
        log.info("epoch %d/%s: %s", epoch, trainer.max_epochs, ", ".join(parts))
