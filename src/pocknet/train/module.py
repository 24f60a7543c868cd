"""The LightningModule: loss, optimiser and validation PR-AUC around the plain ``nn.Module``.

Loss: BCE with ``pos_weight`` (``auto`` = negatives / positives of the training split) or
focal; neutral points (label -1) are dropped from the loss and ignored by the metrics.
AdamW + OneCycle.
"""

from __future__ import annotations

from typing import Any, Mapping

import lightning as L
import torch
from torch.nn import functional as F
from torchmetrics.classification import BinaryAveragePrecision
from torchmetrics.utilities import dim_zero_cat

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
            ModelConfig.from_dict(model_config),
            feature_mean=None if feature_mean is None else torch.tensor(feature_mean),
            feature_std=None if feature_std is None else torch.tensor(feature_std),
        )
        if prevalence is not None:
            self.model.init_output_bias(prevalence)
        self.pos_weight = float(pos_weight)
        # exact average precision (every score a threshold, as sklearn's), neutral points (-1) left out;
        # under DDP torchmetrics gathers every rank's points before computing. Float64 scores: the same
        # number as pocknet.metrics.points.pr_auc to ~1e-8, so the history agrees with the exported metrics.
        self.val_pr_auc = BinaryAveragePrecision(thresholds=None, ignore_index=-1)

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
        self.val_pr_auc.update(torch.sigmoid(logits.detach()).double(), batch["label"].detach().long())

    def on_validation_epoch_end(self) -> None:
        labels = dim_zero_cat(self.val_pr_auc.target) if self.val_pr_auc.target else torch.zeros(0)
        counts = torch.stack([(labels == 1).sum(), (labels == 0).sum()])  # neutral points are not kept
        if self.trainer.world_size > 1:
            counts = self.all_gather(counts).reshape(-1, 2).sum(0)
        both_classes = bool((counts > 0).all())
        value = float(self.val_pr_auc.compute()) if both_classes else 0.0  # one class: no PR curve (0, as before)
        self.val_pr_auc.reset()
        self.log("val_pr_auc", value, sync_dist=False, rank_zero_only=False)

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
