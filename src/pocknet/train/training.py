"""Lightning training of the fusion model on the H5 training set (SCIENCE.md §4, §6).

``PocketModule`` (LightningModule) wraps :class:`pocknet.model.PocketNet`
(plain ``nn.Module``); ``PointDataModule`` serves train/val points from the
H5 file. Model selection, early stopping and the point threshold use the
**validation** split only; test and external proteins are never loaded here.

Loss: BCE with ``pos_weight`` (``auto`` = negatives / positives of the
training split) or focal; neutral points (label -1) are dropped from training
and ignored by the metrics. AdamW + OneCycle, gradient clipping, a checkpoint
every epoch in a stable directory (a DVC output).

Trainer settings (accelerator, devices, strategy, precision, num_nodes) come
from params, so one CPU, one GPU and DDP over many GPUs run the same code.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.trainset.h5store import H5Reader
from pocknet.logs import defer_to_logging_config
from pocknet.metrics import best_threshold, point_metrics, pr_auc
from pocknet.model import ModelConfig, PocketNet
from pocknet.progress import on_terminal
from pocknet.trainset.arrays import (
    ContextSpec,
    PointDataset,
    SplitArrays,
    context_spec,
    load_embeddings,
    load_split,
    passthrough_collate,
)
from pocknet.train.progress import LineProgress

defer_to_logging_config()

__all__ = [
    "TrainingConfig",
    "PointDataModule",
    "PocketModule",
    "EpochHistory",
    "fit",
    "predict_split",
    "validation_report",
    "params_hash",
    "export_model",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingConfig:
    """The ``training`` block of params.yaml (``model`` holds the network sizes)."""

    seed: int = 13
    batch_size: int = 1024
    max_epochs: int = 20
    min_epochs: int = 1
    learning_rate: float = 1e-3  # OneCycle peak
    weight_decay: float = 0.01
    pos_weight: float | str = "auto"
    loss: str = "bce"  # bce | focal
    focal_gamma: float = 2.0
    gradient_clip: float = 1.0
    patience: int = 5  # epochs without validation PR-AUC gain before stopping
    threshold_criterion: str = "iou"  # iou | f1, maximised on validation
    num_workers: int = 0
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_nodes: int = 1
    deterministic: bool = True
    checkpoint_dir: str = "data/05_models/checkpoints"
    dvclive_dir: str = "dvclive/training"
    wandb: bool = False  # offline W&B logging when true (never required)
    wandb_project: str = "pocknet"
    model: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.loss not in ("bce", "focal"):
            raise ConfigError(f"training.loss must be bce or focal, got {self.loss!r}")
        if self.threshold_criterion not in ("iou", "f1"):
            raise ConfigError(f"training.threshold_criterion must be iou or f1, got {self.threshold_criterion!r}")
        if not (self.pos_weight == "auto" or (isinstance(self.pos_weight, (int, float)) and self.pos_weight > 0)):
            raise ConfigError(f"training.pos_weight must be 'auto' or a positive number, got {self.pos_weight!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "TrainingConfig":
        return dataclass_from_params(cls, params, "training")


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


class PointDataModule(L.LightningDataModule):
    """Train (neutral points dropped) and validation points of the H5 file, in memory.

    ``context``: the spatial-context definition of the model (:func:`pocknet.trainset.arrays.context_spec`);
    with it every point also carries its context points, computed from the stored coordinates.
    """

    def __init__(
        self,
        h5_path: str | Path,
        batch_size: int,
        num_workers: int = 0,
        seed: int = 0,
        context: ContextSpec | None = None,
    ) -> None:
        super().__init__()
        self.h5_path = Path(h5_path)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.context = context
        self.train_arrays: SplitArrays | None = None
        self.val_arrays: SplitArrays | None = None
        self.embeddings: torch.Tensor | None = None
        self.reader = H5Reader(self.h5_path)

    def setup(self, stage: str | None = None) -> None:
        if self.train_arrays is not None:
            return
        self.train_arrays = load_split(self.reader, "train", self.context).without_neutral()
        self.val_arrays = load_split(self.reader, "val", self.context)
        if len(self.train_arrays) == 0 or len(self.val_arrays) == 0:
            raise ConfigError(
                f"{self.h5_path}: training needs train and val points "
                f"(train {len(self.train_arrays)}, val {len(self.val_arrays)}); check h5_assembly.splits"
            )
        self.embeddings = load_embeddings(self.reader)

    @property
    def feature_stats(self) -> tuple[np.ndarray, np.ndarray]:
        assert self.train_arrays is not None
        x = self.train_arrays.tabular.astype(np.float64)
        return x.mean(axis=0).astype(np.float32), x.std(axis=0).astype(np.float32)

    def _loader(self, arrays: SplitArrays, shuffle: bool) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            PointDataset(arrays, self.embeddings),
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            collate_fn=passthrough_collate,
            generator=generator,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle and len(arrays) > self.batch_size,  # BatchNorm cannot train on 1 row
        )

    def train_dataloader(self) -> DataLoader:
        assert self.train_arrays is not None
        return self._loader(self.train_arrays, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        assert self.val_arrays is not None
        return self._loader(self.val_arrays, shuffle=False)


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


def _loggers(config: TrainingConfig) -> list[Any]:
    loggers: list[Any] = []
    try:
        from dvclive.lightning import DVCLiveLogger

        loggers.append(DVCLiveLogger(dir=config.dvclive_dir, save_dvc_exp=False, report=None, dvcyaml=False))
    except ImportError:  # pragma: no cover - dvclive is a dependency
        log.warning("dvclive not installed: no DVC plots")
    if config.wandb:
        os.environ.setdefault("WANDB_MODE", "offline")
        from lightning.pytorch.loggers import WandbLogger

        loggers.append(WandbLogger(project=config.wandb_project, offline=True))
    return loggers


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


def _pos_weight(config: TrainingConfig, arrays: SplitArrays) -> float:
    if config.pos_weight != "auto":
        return float(config.pos_weight)
    positives = int(np.sum(arrays.label == 1))
    negatives = int(np.sum(arrays.label == 0))
    if positives == 0:
        raise ConfigError("training split has no positive points: cannot train")
    return negatives / positives


def fit(h5_path: str | Path, params: Mapping[str, Any]) -> tuple[PocketModule, pd.DataFrame, PointDataModule]:
    """Train; returns the module at its best validation epoch, the epoch history and the data."""
    config = TrainingConfig.from_params(params)
    L.seed_everything(config.seed, workers=True)
    data = PointDataModule(h5_path, config.batch_size, config.num_workers, seed=config.seed)
    reader = data.reader
    model_config = ModelConfig.from_params(
        config.model, n_features=len(reader.feature_names), embedding_dim=reader.embedding_dim, k=reader.k
    )
    data.context = context_spec(model_config)
    data.setup("fit")
    assert data.train_arrays is not None
    mean, std = data.feature_stats
    module = PocketModule(
        model_config=model_config.to_dict(),
        training=dict(params),
        pos_weight=_pos_weight(config, data.train_arrays),
        feature_mean=mean.tolist(),
        feature_std=std.tolist(),
        prevalence=data.train_arrays.prevalence,
    )
    checkpoint_dir = Path(config.checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*checkpoint_dir.glob("*.ckpt"), checkpoint_dir / "history.csv"]:
        stale.unlink(missing_ok=True)
    history = EpochHistory(checkpoint_dir)
    callbacks = [
        PortableCheckpoint(
            dirpath=checkpoint_dir,
            filename="epoch={epoch:03d}",
            auto_insert_metric_name=False,
            save_top_k=-1,
            every_n_epochs=1,
            save_on_train_epoch_end=False,
        ),
        L.pytorch.callbacks.EarlyStopping(monitor="val_pr_auc", mode="max", patience=config.patience),
        history,
        LineProgress(),
    ]
    trainer = L.Trainer(
        accelerator=config.accelerator,
        devices=config.devices,
        strategy=config.strategy,
        precision=config.precision,
        num_nodes=config.num_nodes,
        max_epochs=config.max_epochs,
        min_epochs=config.min_epochs,
        gradient_clip_val=config.gradient_clip,
        deterministic=config.deterministic,
        callbacks=callbacks,
        logger=_loggers(config) or False,
        enable_progress_bar=on_terminal(),  # off a terminal, LineProgress logs plain lines
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=data)
    frame = history.read()
    if trainer.global_rank == 0 and len(frame):
        best = frame.loc[frame["val_pr_auc"].idxmax()]
        state = torch.load(best["checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    return module, frame, data


@torch.no_grad()
def predict_split(model: torch.nn.Module, data: PointDataModule, split: str = "val") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, probabilities, protein rows) of a split, in eval mode on the CPU."""
    arrays = data.val_arrays if split == "val" else data.train_arrays
    assert arrays is not None
    model.eval()
    loader = data._loader(arrays, shuffle=False)
    scores = [torch.sigmoid(model(batch)).float() for batch in loader]
    probabilities = torch.cat(scores).numpy() if scores else np.zeros(0, np.float32)
    return arrays.label.astype(np.int8), probabilities, arrays.protein


def validation_report(model: torch.nn.Module, data: PointDataModule, criterion: str) -> dict[str, Any]:
    """Threshold chosen on validation (IoU or F1) and the validation point metrics at it."""
    labels, scores, protein = predict_split(model, data, "val")
    threshold, _ = best_threshold(labels, scores, criterion=criterion)
    metrics = point_metrics(labels, scores, threshold, protein=protein)
    return {"threshold": float(threshold), "threshold_criterion": criterion, "val": metrics}


def config_dict(config: TrainingConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config), default=str))


def export_model(
    module: PocketModule,
    reader: H5Reader,
    report: Mapping[str, Any],
    params: Mapping[str, Any],
    provenance: Mapping[str, Any],
) -> dict[str, Any]:
    """The model file content (see :mod:`pocknet.model.files`) for a trained or averaged module."""
    from pocknet.model.files import make_bundle

    attrs = reader.attrs
    featurize = json.loads(attrs.get("params_json") or "{}").get("data_engineering", {})
    return make_bundle(
        module.model,
        model_config=module.hparams["model_config"],
        feature_names=reader.feature_names,
        embedding_model=attrs["embedding_model"],
        embedding_layer=attrs["embedding_layer"],
        k=reader.k,
        neighbour_distance=attrs["neighbour_distance"],
        threshold=report["threshold"],
        threshold_criterion=report["threshold_criterion"],
        metrics=report["val"],
        params_hash=params_hash(params),
        provenance=provenance,
        featurize_config={k: featurize[k] for k in ("ligands", "surface", "descriptors", "labels") if k in featurize},
    )
