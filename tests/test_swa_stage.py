"""The SWA stage on real checkpoints: window on validation, exact averaging, BN recalibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocknet.errors import ConfigError, PockNetError
from pocknet.trainset.h5reader import H5Reader
from pocknet.train.swa_stage import SwaConfig, stochastic_weight_average, swa_window
from pocknet.train.config import TrainingConfig
from pocknet.train.training import fit
from training_fixtures import tiny_training_params, write_h5


@pytest.fixture(scope="module")
def trained(tmp_path_factory, p2rank_test):
    tmp = tmp_path_factory.mktemp("swa")
    h5 = write_h5(tmp / "tab.h5", p2rank_test)
    params = tiny_training_params(tmp, max_epochs=3, patience=10)
    _, history, _ = fit(h5, TrainingConfig.from_params(params))
    return h5, history, params


def test_average_is_the_mean_and_bn_is_recalibrated(trained):
    h5, history, params = trained
    config = SwaConfig(mode="fixed", start=1, stop=3)
    with H5Reader(h5) as reader:
        bundle, metrics = stochastic_weight_average(history, reader, config, TrainingConfig.from_params(params))
    members = [torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in history["checkpoint"][1:3]]
    averaged = bundle.state_dict
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
    assert bundle.provenance["stage"] == "swa"


def test_best_window_is_chosen_on_validation(trained):
    _, history, _ = trained
    start, stop = swa_window(history, SwaConfig(window=2))
    means = [history["val_pr_auc"].iloc[i : i + 2].mean() for i in range(len(history) - 1)]
    assert stop - start == 2 and means[start] == max(means)
    with pytest.raises(ConfigError, match="swa.start"):
        swa_window(history, SwaConfig(mode="fixed"))


def test_calibration_config_is_validated():
    from pocknet.train.finalize import FinalizeConfig

    assert FinalizeConfig.from_params({"calibration": "pchip", "calibration_bins": 10, "calibration_folds": 5})
    with pytest.raises(ConfigError, match="finalize.calibration"):
        FinalizeConfig(calibration="beta")
    with pytest.raises(ConfigError, match="calibration_folds"):
        FinalizeConfig(calibration_folds=1)
    with pytest.raises(ConfigError, match="swa.*calibration"):  # the key has one home
        SwaConfig.from_params({"calibration": "pchip"})


def _counting_loaders(features):
    """Catalog-style loaders of ``features`` and the list of protein ids they were called for."""
    read = []

    def loader(pid):
        def load():
            read.append(pid)
            return features[pid]

        return load

    return {pid: loader(pid) for pid in features}, read


def test_finalize_calibrates_every_level_on_validation_only(trained, p2rank_test, tmp_path):
    import json

    import pandas as pd
    from training_fixtures import PROTEINS

    from pocknet.featurize.features import FeaturizeConfig, featurize_file
    from pocknet.train.finalize import FinalizeConfig, calibrate_bundle
    from pocknet.model.files import save_model
    from pocknet.predict.predictor import Predictor

    h5, history, params = trained
    with H5Reader(h5) as reader:
        swa_bundle, _ = stochastic_weight_average(history, reader, SwaConfig(mode="fixed", start=1, stop=3), TrainingConfig.from_params(params))
    features = {rel: featurize_file(p2rank_test / rel, FeaturizeConfig()) for rel in PROTEINS}
    ids = sorted(features)
    # three proteins play validation, one is "test" and must not be read
    splits = pd.DataFrame({"protein": ids, "split": ["val", "val", "val", "test"]})
    loaders, read = _counting_loaders(features)
    bundle, metrics, reliability = calibrate_bundle(
        {"swa": swa_bundle}, loaders, splits, {}, FinalizeConfig(calibration_folds=3)
    )
    assert ids[3] not in read
    calibration = bundle.calibration
    assert calibration == json.loads(json.dumps(calibration))
    assert {"point", "residue", "pocket", "ece", "reliability", "targets"} <= set(calibration)
    assert calibration["point"]["method"] == "platt" and calibration["point"]["feature"] == "identity"
    assert calibration["residue"]["method"] == "platt"
    n_points = sum(int((features[pid].labels >= 0).sum()) for pid in ids[:3] if features[pid].ligand_relevant.any())
    assert metrics["calibration"]["point"]["n"] == n_points == bundle.provenance["calibration_points"]
    for level in ("point", "residue"):
        stats = metrics["calibration"][level]
        assert 0.0 <= stats["ece_val_in_sample"] <= 1.0 and 0.0 <= stats["ece_val_cross_fitted"] <= 1.0
        assert stats["ece_val_uncalibrated"] is not None
    assert list(reliability.columns) == ["level", "bin", "lower", "upper", "mean_predicted", "observed", "count"]
    assert not reliability.isna().any().any()
    # the calibrated model file loads weights-only and changes no pocket
    path = tmp_path / "final.pt"
    save_model(bundle, path)
    assert torch.load(path, map_location="cpu", weights_only=True)["calibration"] == calibration
    calibrated = Predictor(path).predict_features(features[ids[0]])
    raw = Predictor(bundle=bundle.replace(calibration=None)).predict_features(features[ids[0]])
    assert [(p.rank, p.score) for p in calibrated.pockets] == [(p.rank, p.score) for p in raw.pockets]
    np.testing.assert_array_equal(calibrated.model_probabilities, raw.probabilities)


def test_the_pocket_rescorer_learns_on_training_proteins_and_ranks_the_shipped_pockets(trained, p2rank_test, tmp_path):
    import pandas as pd
    from training_fixtures import PROTEINS

    from pocknet.featurize.features import FeaturizeConfig, featurize_file
    from pocknet.model.files import save_model
    from pocknet.predict.predictor import Predictor
    from pocknet.train.finalize import FinalizeConfig, calibrate_bundle
    from pocknet.train.pocket_rescorer import RescorerSettings, resolve_pocket_rescorer

    h5, history, params = trained
    with H5Reader(h5) as reader:
        swa_bundle, _ = stochastic_weight_average(history, reader, SwaConfig(mode="fixed", start=1, stop=3),
                                                  TrainingConfig.from_params(params))  # fmt: skip
    features = {rel: featurize_file(p2rank_test / rel, FeaturizeConfig()) for rel in PROTEINS}
    ids = sorted(features)
    # seeds from the tiny model's own score quantiles, so that every protein has several pockets
    scores = np.concatenate([Predictor(bundle=swa_bundle).score(features[pid]) for pid in ids])
    pockets = {"seed_threshold": float(np.quantile(scores, 0.9)), "second_seed_threshold": float(np.quantile(scores, 0.8))}
    swa_bundle = swa_bundle.replace(pockets=pockets)
    splits = pd.DataFrame({"protein": ids, "split": ["train", "train", "val", "test"]})
    loaders, read = _counting_loaders(features)
    settings = RescorerSettings(max_iter=5, min_samples_leaf=2)
    assert resolve_pocket_rescorer(swa_bundle, loaders, splits, "none", settings) == {
        "rescorer": None, "metrics": {"mode": "none", "used": False}}  # fmt: skip
    assert not read
    result = resolve_pocket_rescorer(swa_bundle, loaders, splits, "always", settings)
    assert ids[3] not in read and set(read) == set(ids[:3])  # the test protein is never read
    metrics = result["metrics"]
    assert metrics["used"] and metrics["trees"] == 5 and metrics["train_proteins"] == 2
    assert 0 < metrics["train_hit_pockets"] < metrics["train_pockets"]
    assert {"val_dca_top_n_score_order", "val_dca_top_n_rescored"} <= set(metrics)

    bundle, _, _ = calibrate_bundle({"swa": swa_bundle}, loaders, splits, pockets, FinalizeConfig(calibration_folds=2),
                                    result["rescorer"])  # fmt: skip
    assert bundle.calibration["pocket"]["feature"] == "identity"  # fitted on the rescorer's logits
    path = tmp_path / "final.pt"
    save_model(bundle, path)
    assert torch.load(path, map_location="cpu", weights_only=True)["pocket_rescorer"] == result["rescorer"]
    prediction = Predictor(path).predict_features(features[ids[2]])
    rescores = [p.rescore for p in prediction.pockets]
    assert len(rescores) > 1 and rescores == sorted(rescores, reverse=True)
    probabilities = [p.probability for p in prediction.pockets]
    assert probabilities == sorted(probabilities, reverse=True)  # calibrated on the rescore: rank order kept
    plain = Predictor(bundle=bundle.replace(pocket_rescorer=None, calibration=None)).predict_features(features[ids[2]])
    assert sorted(p.score for p in plain.pockets) == sorted(p.score for p in prediction.pockets)  # same pockets
    assert all(np.isnan(p.rescore) for p in plain.pockets)
    # a rescorer that reads a pocket feature this version does not compute fails when the model loads
    alien = {**result["rescorer"], "feature_names": [*result["rescorer"]["feature_names"][:-1], "from_the_future"]}
    save_model(bundle.replace(pocket_rescorer=alien), path)
    with pytest.raises(PockNetError, match="model settings: .*does not compute: from_the_future"):
        Predictor(path)
    save_model(bundle.replace(pocket_rescorer=None), path)  # no rescorer: no key, so older files keep their bytes
    assert "pocket_rescorer" not in torch.load(path, map_location="cpu", weights_only=True)
    with pytest.raises(ConfigError, match="pocket_rescoring"):
        FinalizeConfig(pocket_rescoring="sometimes")
    with pytest.raises(ConfigError, match="max_iter"):
        FinalizeConfig(pocket_rescorer={"max_iter": 0})
