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

import json
import logging
import os
from pathlib import Path
from typing import Any, Mapping

import lightning as L
import numpy as np
import pandas as pd
import torch

from pocknet.errors import ConfigError
from pocknet.featurize.features import FEATURIZE_BLOCKS
from pocknet.logs import defer_to_logging_config
from pocknet.metrics.points import best_threshold, point_metrics
from pocknet.model import ModelConfig
from pocknet.model.files import ModelBundle
from pocknet.progress import on_terminal
from pocknet.train.callbacks import EpochHistory, PortableCheckpoint
from pocknet.train.config import TrainingConfig, params_hash
from pocknet.train.datamodule import PointDataModule
from pocknet.train.module import PocketModule
from pocknet.train.progress import LineProgress
from pocknet.trainset.arrays import SplitArrays, context_spec
from pocknet.trainset.h5reader import H5Reader

defer_to_logging_config()

__all__ = ["fit", "predict_split", "validation_report", "export_model"]

log = logging.getLogger(__name__)


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


def _pos_weight(config: TrainingConfig, arrays: SplitArrays) -> float:
    if config.pos_weight != "auto":
        return float(config.pos_weight)
    positives = int(np.sum(arrays.label == 1))
    negatives = int(np.sum(arrays.label == 0))
    if positives == 0:
        raise ConfigError("training split has no positive points: cannot train")
    return negatives / positives


def fit(h5_path: str | Path, config: TrainingConfig) -> tuple[PocketModule, pd.DataFrame, PointDataModule]:
    """Train; returns the module at its best validation epoch, the epoch history and the data."""
    L.seed_everything(config.seed, workers=True)
    data = PointDataModule(h5_path, config.batch_size, config.num_workers, seed=config.seed)
    reader = data.reader
    data.feature_names = config.feature_names(reader.feature_names)  # training.exclude_features left out
    model_config = ModelConfig.from_params(
        config.model, n_features=len(data.feature_names), embedding_dim=reader.embedding_dim, k=reader.k
    )
    data.context = context_spec(model_config)
    data.setup("fit")
    assert data.train_arrays is not None
    mean, std = data.feature_stats
    module = PocketModule(
        model_config=model_config.to_dict(),
        training=config.as_params(),  # checkpoint hyper-parameters: plain values
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


def export_model(
    module: PocketModule,
    reader: H5Reader,
    report: Mapping[str, Any],
    params: Mapping[str, Any],
    provenance: Mapping[str, Any],
    featurize_config: Mapping[str, Any] | None = None,
) -> ModelBundle:
    """The model file content (see :mod:`pocknet.model.files`) for a trained or averaged module.

    Its ``feature_names`` are the columns the module was trained on: the training set's, less
    the module's ``training.exclude_features``. ``featurize_config``: the featurisation blocks
    (:func:`pocknet.featurize.features.featurize_blocks` of the stage's ``data_engineering``
    params), which `pocknet predict` re-applies to new structures; they must be the ones the
    training set records (a stale H5 is refused). None: not recorded (library defaults).
    """

    attrs = reader.attrs
    if featurize_config is not None:
        _check_featurised_with(reader, featurize_config)
    return ModelBundle.from_network(
        module.model,
        model_config=module.hparams["model_config"],
        feature_names=module.config.feature_names(reader.feature_names),
        embedding_model=attrs["embedding_model"],
        embedding_layer=attrs["embedding_layer"],
        k=reader.k,
        neighbour_distance=attrs["neighbour_distance"],
        threshold=report["threshold"],
        threshold_criterion=report["threshold_criterion"],
        metrics=report["val"],
        params_hash=params_hash(params),
        provenance=provenance,
        featurize_config=dict(featurize_config or {}),
    )


def _check_featurised_with(reader: H5Reader, featurize_config: Mapping[str, Any]) -> None:
    """Refuse a training set whose recorded featurisation differs from the stage's params."""
    recorded = json.loads(reader.attrs.get("params_json") or "{}").get("data_engineering")
    if recorded is None:  # a file written outside the pipeline records no provenance
        return
    given = json.loads(json.dumps(dict(featurize_config), default=str))
    written = {key: recorded[key] for key in FEATURIZE_BLOCKS if key in recorded}
    if written != given:
        differ = sorted(key for key in FEATURIZE_BLOCKS if written.get(key) != given.get(key))
        raise ConfigError(f"{reader.path}: featurised with other data_engineering settings ({', '.join(differ)}) "
                          "than the params given; re-run the featurisation and h5_assembly stages")  # fmt: skip
