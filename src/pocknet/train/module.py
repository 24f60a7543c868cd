"""The LightningModule: loss, optimiser and validation PR-AUC around the plain ``nn.Module``.

Loss: BCE with ``pos_weight`` (``auto`` = negatives / positives of the training split) or
focal; neutral points (label -1) are dropped from the loss and ignored by the metrics.
AdamW + OneCycle.
"""

from __future__ import annotations

from typing import Any, Mapping

import lightning as L
import numpy as np
import torch
from torch.nn import functional as F

from pocknet.metrics.points import pr_auc
from pocknet.model import ModelConfig, PocketNet
from pocknet.train.config import TrainingConfig

__all__ = ["PocketModule", "focal_loss"]


def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float, pos_weight: float) -> torch.Tensor:
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * target + (1 - p) * (1 - target)
    weight = target * pos_weight + (1 - target)
    return (weight * (1 - p_t) ** gamma * bce).mean()


class PocketModule(L.LightningModule):
    """Loss, optimiser and validation metrics around a :class:`PocketNet`."""

    def __init__(
        self,
        model_config: dict[str, Any],
        training: dict[str, Any],
        pos_weight: float,
        feature_mean: list[float] | None = None,
        feature_std: list[float] | None = None,
        prevalence: float | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = TrainingConfig.from_params(training)
        self.model = PocketNet(
            ModelConfig(**model_config),
            feature_mean=None if feature_mean is None else torch.tensor(feature_mean),
            feature_std=None if feature_std is None else torch.tensor(feature_std),
        )
        if prevalence is not None:
            self.model.init_output_bias(prevalence)
        self.pos_weight = float(pos_weight)
        self._val_scores: list[torch.Tensor] = []
        self._val_labels: list[torch.Tensor] = []

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.model(batch)

    def _loss(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        labelled = label >= 0
        logits, target = logits[labelled], label[labelled]
        if self.config.loss == "focal":
            return focal_loss(logits, target, self.config.focal_gamma, self.pos_weight)
        weight = torch.tensor(self.pos_weight, device=logits.device)
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)

    def training_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(self(batch), batch["label"])
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["label"]), sync_dist=True)
        return loss

    def validation_step(self, batch: Mapping[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(batch)
        loss = self._loss(logits, batch["label"])
        self.log("val_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["label"]), sync_dist=True)
        self._val_scores.append(torch.sigmoid(logits).detach().float())
        self._val_labels.append(batch["label"].detach())

    def on_validation_epoch_end(self) -> None:
        scores = torch.cat(self._val_scores) if self._val_scores else torch.zeros(0)
        labels = torch.cat(self._val_labels) if self._val_labels else torch.zeros(0)
        self._val_scores.clear()
        self._val_labels.clear()
        if self.trainer.world_size > 1:  # DistributedSampler gives every rank the same count
            scores = self.all_gather(scores).flatten()
            labels = self.all_gather(labels).flatten()
        value = pr_auc(labels.cpu().numpy().astype(np.int8), scores.cpu().numpy())
        self.log("val_pr_auc", float(np.nan_to_num(value, nan=0.0)), sync_dist=False, rank_zero_only=False)

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = torch.optim.AdamW(
            self.parameters(), lr=self.config.learning_rate, weight_decay=self.config.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=self.config.learning_rate,
            total_steps=max(1, int(self.trainer.estimated_stepping_batches)),
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
