"""training in process: a tiny fusion network, 2 epochs on CPU, on the H5 file the h5_assembly
stage wrote (see :mod:`.fixtures`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pocknet.pipelines.training.pipeline import create_pipeline

from .fixtures import ESM_DIM, ESM_NAME, mini_project

HISTORY_COLUMNS = ["epoch", "val_pr_auc", "val_loss", "train_loss", "checkpoint"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("training")


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"training_set", "params:training", "params:h5_assembly", "params:embedding",
                                 "params:data_engineering"}
    assert pipeline.outputs() == {"trained_model", "training_history", "training_metrics"}


def test_history_has_one_row_and_checkpoint_per_epoch(project, outputs):
    history = outputs["training_history"]
    epochs = project.params["training"]["max_epochs"]
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == list(range(epochs))
    assert history[["val_pr_auc", "val_loss", "train_loss"]].notna().all().all()
    assert history["val_pr_auc"].between(0, 1).all() and (history[["val_loss", "train_loss"]] > 0).all().all()
    for epoch, checkpoint in zip(history["epoch"], history["checkpoint"]):
        assert checkpoint.endswith(f"epoch={epoch:03d}.ckpt")
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        assert state["epoch"] == epoch and state["state_dict"]


def test_metrics_describe_the_best_validation_epoch(outputs):
    history, metrics = outputs["training_history"], outputs["training_metrics"]
    assert metrics == json.loads(json.dumps(metrics))
    best = history.loc[history["val_pr_auc"].idxmax()]
    assert metrics["best_epoch"] == best["epoch"] and metrics["epochs"] == len(history)
    assert 0.0 <= metrics["threshold"] <= 1.0
    assert math.isclose(metrics["pr_auc"], best["val_pr_auc"], rel_tol=1e-4)
    assert 0.0 < metrics["pr_auc"] <= 1.0


def test_model_bundle_records_the_training_set_and_threshold(project, outputs):
    bundle, metrics = outputs["trained_model"], outputs["training_metrics"]
    h5 = project.result("h5_assembly")["training_set"]
    assert list(bundle.feature_names) == list(h5.feature_names)
    assert bundle.embedding_model == ESM_NAME
    assert (
        bundle.k == h5.k
        and bundle.neighbour_distance == h5.attrs["neighbour_distance"]
    )
    assert bundle.threshold == metrics["threshold"]
    assert bundle.threshold_criterion == project.params["training"]["threshold_criterion"]
    provenance = bundle.provenance
    assert provenance["stage"] == "training" and provenance["best_epoch"] == metrics["best_epoch"]
    assert bundle.model_config["hidden"] == project.params["training"]["model"]["hidden"]
    assert bundle.model_config["embedding_dim"] == ESM_DIM
    assert len(bundle.params_hash) == 64
    # the featurisation inference must repeat: the data_engineering blocks the H5 file was built with
    featurize = {
        k: project.params["data_engineering"][k] for k in ("ligands", "surface", "descriptors", "labels")
    }
    assert bundle.featurize_config == json.loads(json.dumps(featurize))
    state = bundle.state_dict
    assert state and all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_best_epoch_weights_are_exported(outputs):
    history, bundle = outputs["training_history"], outputs["trained_model"]
    best = history.loc[history["val_pr_auc"].idxmax()]
    checkpoint = torch.load(best["checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    for key, value in bundle.state_dict.items():
        torch.testing.assert_close(value, checkpoint[f"model.{key}"], rtol=0, atol=0, msg=key)


def test_model_file_dataset_round_trip_and_prediction(project, outputs, tmp_path):
    """What the node returns is what the catalog's ModelFileDataset persists and loads back (weights only)."""
    from pocknet.catalog_datasets import ModelFileDataset
    from pocknet.predict.predictor import Predictor

    bundle = outputs["trained_model"]
    dataset = ModelFileDataset(filepath=str(tmp_path / "model.pt"))
    dataset.save(bundle)
    loaded = dataset.load()
    assert loaded.threshold == bundle.threshold
    for key, value in bundle.state_dict.items():
        assert torch.equal(loaded.state_dict[key], value), key
    features = project.features("bu48/holo/1nlu.pdb")
    with project.esm_weights():  # a fusion model embeds the chains with its recorded ESM2
        scores = Predictor(bundle=loaded).score(features)
    assert scores.shape == (features.n_points,) and ((scores >= 0) & (scores <= 1)).all()
    assert np.unique(scores).size > 1


def test_checkpoints_and_dvclive_go_where_params_say(project, outputs):
    params = project.params["training"]
    checkpoints = {p.name for p in Path(params["checkpoint_dir"]).iterdir()}
    assert {f"epoch={e:03d}.ckpt" for e in outputs["training_history"]["epoch"]} <= checkpoints
    assert any(Path(params["dvclive_dir"]).rglob("*"))
