"""Lightning callbacks of a training run: the epoch history file and portable checkpoints."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd

__all__ = ["EpochHistory", "PortableCheckpoint"]


class EpochHistory(L.Callback):
    """One row per validation epoch (metrics and that epoch's checkpoint), kept in a CSV.

    A file, not callback state: with ``ddp_spawn`` training runs in child
    processes, and the parent reads the history from disk afterwards.
    """

    COLUMNS = ["epoch", "val_pr_auc", "val_loss", "train_loss", "checkpoint"]

    def __init__(self, checkpoint_dir: Path) -> None:
        self.checkpoint_dir = checkpoint_dir
        self.path = checkpoint_dir / "history.csv"

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # after this epoch's validation loop (it runs inside the training epoch)
        if trainer.global_rank != 0:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
        row = {
            "epoch": trainer.current_epoch,
            "val_pr_auc": metrics.get("val_pr_auc", math.nan),
            "val_loss": metrics.get("val_loss", math.nan),
            "train_loss": metrics.get("train_loss", math.nan),
            "checkpoint": str(self.checkpoint_dir / f"epoch={trainer.current_epoch:03d}.ckpt"),
        }
        frame = pd.concat([self.read(), pd.DataFrame([row])], ignore_index=True)
        frame.to_csv(self.path, index=False)

    def read(self) -> pd.DataFrame:
        if not self.path.is_file():
            return pd.DataFrame(columns=self.COLUMNS)
        return pd.read_csv(self.path)


class PortableCheckpoint(L.pytorch.callbacks.ModelCheckpoint):
    """Stores its paths relative to the working directory (the project root under `dvc repro`):
    Lightning keeps them absolute, so the same run in another folder gave other checkpoint hashes."""

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        for key, value in state.items():
            if isinstance(value, str):
                state[key] = _relative(value)
            elif key == "best_k_models":
                state[key] = {_relative(k): v for k, v in value.items()}
        return state


def _relative(path: str) -> str:
    if not os.path.isabs(path):
        return path
    try:
        return os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive (Windows)
        return path
