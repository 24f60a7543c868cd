"""Container files are consistent (the images themselves are built by docker/build-local.sh,
outside CI: ~15 min, recorded in benchmarks/RESULTS.md)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"


def test_both_images_share_the_container_contract():
    for name in ("Dockerfile", "Dockerfile.cuda"):
        text = (DOCKER / name).read_text()
        assert re.search(r"^ARG BASE_IMAGE=\S+:\S+", text, re.MULTILINE), name  # pinned by tag
        assert text.count("FROM ${BASE_IMAGE}") == 2, name  # builder + runtime
        assert "USER pocknet" in text and 'ENTRYPOINT ["pocknet"]' in text, name
        for var in ("TORCH_HOME=/models/torch", "WANDB_MODE=offline", "DVC_NO_ANALYTICS=1", "HDF5_USE_FILE_LOCKING=FALSE"):
            assert var in text, (name, var)
        # ESM2 weights are mounted at run time, never copied in or fetched during the build
        assert not re.search(r"^(COPY|ADD|RUN)\b.*(\.pt\b|esm\.pretrained|hub\.load)", text, re.MULTILINE), name


def test_cuda_image_pins_a_torch_build_with_volta_kernels():
    text = (DOCKER / "Dockerfile.cuda").read_text()
    assert re.search(r'^ARG TORCH_INDEX_URL="https://download.pytorch.org/whl/cu12\d"', text, re.MULTILINE)
    assert 'ARG REQUIRED_CUDA_ARCHS="sm_70 sm_80 sm_90"' in text
    assert "check_torch_cuda.py" in text


def test_compose_reserves_gpus_for_the_pipeline_and_runs_predict_offline():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    pipeline, predict = compose["services"]["pipeline"], compose["services"]["predict"]
    devices = pipeline["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
    assert pipeline["entrypoint"] == ["dvc"] and pipeline["build"]["dockerfile"] == "docker/Dockerfile.cuda"
    esm = [v for v in pipeline["volumes"] if v["target"] == "/models/torch"]
    assert esm and esm[0]["read_only"] is True
    assert predict["command"][0] == "predict" and predict["network_mode"] == "none"


def test_compose_has_a_dask_scheduler_and_workers_on_an_internal_network():
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    scheduler, worker = compose["services"]["dask-scheduler"], compose["services"]["dask-worker"]
    assert scheduler["entrypoint"] == worker["entrypoint"] == ["dask"]
    assert scheduler["command"][:5] == ["scheduler", "--host", "0.0.0.0", "--port", "8786"]
    assert worker["command"][:2] == ["worker", "tcp://dask-scheduler:8786"]
    assert scheduler["image"] == worker["image"] == compose["services"]["predict"]["image"] == "pocknet:cpu"
    assert {v["target"] for v in worker["volumes"]} == {"/in", "/out"}  # the paths the client names
    assert compose["networks"]["dask"]["internal"] is True and worker["networks"] == scheduler["networks"] == ["dask"]


def test_build_context_keeps_data_and_credentials_out():
    ignored = set((REPO / ".dockerignore").read_text().split())
    assert {"data", ".venv", ".dvc/cache", ".dvc/config.local", ".git"} <= ignored
    subprocess.run(["bash", "-n", str(DOCKER / "build-local.sh")], check=True)
