"""Training on a tiny real H5 set: determinism, DDP (2 CPU processes, gloo), export, fusion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from training_fixtures import tiny_training_params, write_h5

from pocknet.errors import PockNetError
from pocknet.trainset.h5reader import H5Reader
from pocknet.model.files import load_model, save_model
from pocknet.train.config import TrainingConfig
from pocknet.train.training import export_model, fit, validation_report


@pytest.fixture(scope="module")
def tabular_h5(tmp_path_factory, p2rank_test):
    return write_h5(tmp_path_factory.mktemp("h5") / "tab.h5", p2rank_test)


@pytest.fixture(scope="module")
def fusion_h5(tmp_path_factory, p2rank_test):
    return write_h5(tmp_path_factory.mktemp("h5") / "fusion.h5", p2rank_test, embedding_dim=8)


def test_same_seed_gives_identical_validation_metrics(tabular_h5, tmp_path):
    runs = []
    for name in ("a", "b"):
        module, history, data = fit(tabular_h5, TrainingConfig.from_params(tiny_training_params(tmp_path / name)))
        runs.append((history, module.model.state_dict(), validation_report(module.model, data, "iou")))
    (h1, s1, r1), (h2, s2, r2) = runs
    assert h1["val_pr_auc"].tolist() == h2["val_pr_auc"].tolist()
    assert r1["val"] == r2["val"] and r1["threshold"] == r2["threshold"]
    for key in s1:
        assert torch.equal(s1[key], s2[key]), key
    assert len(h1) == 2 and (tmp_path / "a" / "checkpoints" / "epoch=001.ckpt").is_file()
    assert 0.0 < r1["val"]["pr_auc"] <= 1.0


def test_export_and_safe_reload(tabular_h5, tmp_path):
    module, history, data = fit(tabular_h5, TrainingConfig.from_params(tiny_training_params(tmp_path, max_epochs=1)))
    report = validation_report(module.model, data, "f1")
    with H5Reader(tabular_h5) as reader:
        bundle = export_model(module, reader, report, {"training": {}}, {"stage": "test"})
        names = reader.feature_names
    path = tmp_path / "model.pt"
    save_model(bundle, path)
    model, meta = load_model(path, feature_names=names)
    assert meta.threshold == report["threshold"] and meta.threshold_criterion == "f1"
    assert meta.embedding_model == "none" and len(meta.params_hash) == 64
    batch = {"tabular": torch.from_numpy(data.val_arrays.tabular[:64])}
    module.model.eval()
    assert torch.allclose(model(batch), module.model(batch))
    with pytest.raises(PockNetError, match="different feature set"):
        load_model(path, feature_names=list(names)[::-1])
    elsewhere = tmp_path / "another" / "name.pt"
    save_model(bundle, elsewhere)
    assert elsewhere.read_bytes() == path.read_bytes()  # no file name or location inside
    ckpt = torch.load(next((tmp_path / "checkpoints").glob("*.ckpt")), map_location="cpu", weights_only=False)
    state = next(v for k, v in ckpt["callbacks"].items() if k.startswith("PortableCheckpoint"))
    assert not any(str(v).startswith(str(tmp_path)) for v in (state["dirpath"], state["best_model_path"]))


def test_model_records_the_stage_featurisation_and_refuses_a_stale_training_set(tabular_h5, tmp_path):
    import json
    import shutil
    from pathlib import Path

    import h5py
    import yaml

    from pocknet.errors import ConfigError
    from pocknet.featurize.features import featurize_blocks
    repo = Path(__file__).resolve().parents[1]
    blocks = featurize_blocks(yaml.safe_load((repo / "params.yaml").read_text())["data_engineering"])
    h5 = shutil.copyfile(tabular_h5, tmp_path / "recorded.h5")
    with h5py.File(h5, "r+") as handle:
        handle.attrs["params_json"] = json.dumps({"data_engineering": {**blocks, "workers": 2}}, sort_keys=True)
    module, _, data = fit(h5, TrainingConfig.from_params(tiny_training_params(tmp_path, max_epochs=1)))
    report = validation_report(module.model, data, "iou")
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {}, {"stage": "test"}, blocks)
        assert bundle.featurize_config == blocks and list(bundle.featurize_config) == list(blocks)
        stale = {**blocks, "surface": {**blocks["surface"], "probe_radius": 1.4}}
        with pytest.raises(ConfigError, match=r"other data_engineering settings \(surface\)"):
            export_model(module, reader, report, {}, {"stage": "test"}, stale)


def test_fusion_model_trains_with_embeddings(fusion_h5, tmp_path):
    module, history, data = fit(fusion_h5, TrainingConfig.from_params(tiny_training_params(tmp_path, max_epochs=1, loss="focal")))
    assert module.model.config.embedding_dim == 8
    assert np.isfinite(history["val_loss"]).all()


def test_ddp_two_cpu_processes(tabular_h5, tmp_path):
    """DDP over gloo with two CPU processes, in a fresh interpreter.

    In process, after hundreds of other tests, a spawned rank sometimes aborted at exit
    ("terminate called without an active exception") though training had finished; a clean
    interpreter is what `kedro run` gives DDP, so that is what is tested.
    """
    import json
    import subprocess
    import sys

    params = tiny_training_params(tmp_path, max_epochs=1, strategy="ddp_spawn", devices=2, deterministic=False)
    code = (
        "import json, sys\n"
        "from pocknet.train.config import TrainingConfig\nfrom pocknet.train.training import fit\n"
        "if __name__ == '__main__':\n"
        "    module, history, data = fit(sys.argv[1], TrainingConfig.from_params(json.loads(sys.argv[2])))\n"
        "    history.to_csv(sys.argv[3], index=False)\n"
    )
    script = tmp_path / "ddp_fit.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script), str(tabular_h5), json.dumps(params), str(tmp_path / "h.csv")],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    history = pd.read_csv(tmp_path / "h.csv")
    assert len(history) == 1 and np.isfinite(history["val_pr_auc"]).all()
    assert (tmp_path / "checkpoints" / "epoch=000.ckpt").is_file()


def test_training_config_rejects_unknown_and_bad_values():
    with pytest.raises(PockNetError, match="unknown key"):
        TrainingConfig.from_params({"epochs": 3})
    with pytest.raises(PockNetError, match="loss"):
        TrainingConfig.from_params({"loss": "mse"})
