"""The SWA stage on real checkpoints: window on validation, exact averaging, BN recalibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocknet.errors import ConfigError
from pocknet.h5store import H5Reader
from pocknet.swa_stage import SwaConfig, stochastic_weight_average, swa_window
from pocknet.training import fit
from training_fixtures import tiny_training_params, write_h5


@pytest.fixture(scope="module")
def trained(tmp_path_factory, p2rank_test):
    tmp = tmp_path_factory.mktemp("swa")
    h5 = write_h5(tmp / "tab.h5", p2rank_test)
    params = tiny_training_params(tmp, max_epochs=3, patience=10)
    _, history, _ = fit(h5, params)
    return h5, history, params


def test_average_is_the_mean_and_bn_is_recalibrated(trained):
    h5, history, params = trained
    config = SwaConfig(mode="fixed", start=1, stop=3)
    with H5Reader(h5) as reader:
        bundle, metrics = stochastic_weight_average(history, reader, config, params)
    members = [torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in history["checkpoint"][1:3]]
    averaged = bundle["state_dict"]
    bn_stats = [k for k in averaged if k.endswith(("running_mean", "running_var"))]
    assert bn_stats, "the default model has BatchNorm"
    for key, value in averaged.items():
        member_values = [m[f"model.{key}"] for m in members]
        plain = torch.stack([v.double() for v in member_values]).mean(0).to(value.dtype)
        if key in bn_stats:
            assert not torch.allclose(value, plain), f"{key} was not recalibrated"
        elif value.is_floating_point():
            assert torch.equal(value, plain), key
    assert metrics["epochs"] == [1, 2] and metrics["bn_samples"] > 0
    assert 0.0 <= metrics["threshold"] <= 1.0 and np.isfinite(metrics["pr_auc"])
    assert bundle["provenance"]["stage"] == "swa"


def test_best_window_is_chosen_on_validation(trained):
    _, history, _ = trained
    start, stop = swa_window(history, SwaConfig(window=2))
    means = [history["val_pr_auc"].iloc[i : i + 2].mean() for i in range(len(history) - 1)]
    assert stop - start == 2 and means[start] == max(means)
    with pytest.raises(ConfigError, match="swa.start"):
        swa_window(history, SwaConfig(mode="fixed"))
