"""swa in process: average the checkpoints of the validation-chosen epoch window of the training
stage's run, recalibrate BatchNorm on the training points (see :mod:`.fixtures`)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from pocknet.pipelines.swa.pipeline import create_pipeline

from .fixtures import mini_project


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("swa")


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"training_history", "training_set", "params:swa", "params:training",
                                 "params:data_engineering"}
    assert pipeline.outputs() == {"swa_model", "swa_metrics"}


def test_window_is_the_best_validation_window(project, outputs):
    history = project.result("training")["training_history"]
    window = project.params["swa"]["window"]
    means = [history["val_pr_auc"].iloc[i : i + window].mean() for i in range(len(history) - window + 1)]
    start = int(np.argmax(means))
    metrics = outputs["swa_metrics"]
    assert metrics == json.loads(json.dumps(metrics))
    assert metrics["epochs"] == history["epoch"].iloc[start : start + window].tolist()
    provenance = outputs["swa_model"].provenance
    assert provenance["stage"] == "swa" and provenance["epochs"] == metrics["epochs"]
    assert provenance["window"] == [start, start + window]


def test_weights_are_the_mean_of_the_window_and_batchnorm_is_recalibrated(project, outputs):
    history = project.result("training")["training_history"].set_index("epoch")
    epochs = outputs["swa_metrics"]["epochs"]
    members = [
        torch.load(history.loc[e, "checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
        for e in epochs
    ]
    averaged = outputs["swa_model"].state_dict
    assert set(averaged) == set(project.result("training")["trained_model"].state_dict)
    bn_stats = [key for key in averaged if key.endswith(("running_mean", "running_var"))]
    assert bn_stats, "params.yaml's model uses BatchNorm"
    for key, value in averaged.items():
        plain = torch.stack([m[f"model.{key}"].double() for m in members]).mean(0).to(value.dtype)
        if key in bn_stats:
            assert not torch.allclose(value, plain), f"{key} was not recalibrated"
            assert torch.isfinite(value).all() and (key.endswith("running_mean") or (value > 0).all())
        elif value.is_floating_point():
            assert torch.equal(value, plain), key


def test_batchnorm_saw_the_training_points_in_training_batches(project, outputs):
    """``bn_batches: null``: every full training batch (neutral points are not trained on); with
    spatial context each batch's context rows pass the same encoder (and its BatchNorm) too."""
    summary = project.result("h5_assembly")["training_set_summary"]
    batch = project.params["training"]["batch_size"]
    samples = outputs["swa_metrics"]["bn_samples"]
    model = outputs["swa_model"].model_config
    assert project.params["swa"]["bn_batches"] is None
    points = summary["train"]["points"]
    upper = points * (1 + model["context_k"]) if model.get("context", "none") != "none" else points
    assert points - batch < samples <= upper


def test_bundle_is_evaluated_on_validation_like_the_trained_model(project, outputs):
    swa, metrics = outputs["swa_model"], outputs["swa_metrics"]
    trained = project.result("training")["trained_model"]
    assert 0.0 <= metrics["threshold"] <= 1.0 and swa.threshold == metrics["threshold"]
    assert 0.0 < metrics["pr_auc"] <= 1.0
    assert swa.metrics["pr_auc"] == metrics["pr_auc"]
    for key in ("feature_names", "embedding_model", "embedding_layer", "k", "neighbour_distance", "model_config",
                "featurize_config", "threshold_criterion"):  # fmt: skip
        assert getattr(swa, key) == getattr(trained, key), key
