"""`kedro viz build` on a clean copy of the project, offline.

`kedro viz build` has no output option (it always writes ./build), so it runs in a clean copy.
A sitecustomize on PYTHONPATH blocks and logs every non-loopback connection / DNS lookup in the
kedro process and its children: the build must not touch the network (telemetry is off).
Note that `kedro viz build` exits 0 even when the build fails, so the test checks the files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from project_copy import copy_project, run, tool_env

pytestmark = pytest.mark.slow

PIPELINES = {"data_engineering", "embedding", "h5_assembly", "training", "swa", "finalize", "inference", "reporting"}
# dataset -> a pipeline that must contain it
DATASETS = {
    "protein_features": "data_engineering",
    "residue_chains": "embedding",
    "training_set": "h5_assembly",
    "trained_model": "training",
    "swa_model": "swa",
    "final_model": "finalize",
    "predictions": "inference",
    "evaluation_metrics": "reporting",
}

NET_GUARD = """
import ipaddress, os, socket

_LOG = os.environ["POCKNET_NET_LOG"]


def _local(host):
    if host is None or host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    with open(_LOG, "a") as log:
        log.write(f"{os.getpid()} {what}\\n")
    raise OSError(f"network access blocked by test: {what}")


_connect, _connect_ex, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo


def _check(sock, address):
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _local(address[0]):
        _refuse(f"connect {address!r}")


def connect(self, address):
    _check(self, address)
    return _connect(self, address)


def connect_ex(self, address):
    _check(self, address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if not _local(host.decode() if isinstance(host, bytes) else host):
        _refuse(f"getaddrinfo {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
"""


@pytest.fixture(scope="module")
def viz_build(tmp_path_factory) -> tuple[Path, str, Path]:
    tmp = tmp_path_factory.mktemp("viz")
    root = copy_project(tmp / "pocknet")
    guard = tmp / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(NET_GUARD)
    net_log = tmp / "network.log"
    net_log.touch()
    pythonpath = os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")]))
    env = tool_env(PYTHONPATH=pythonpath, POCKNET_NET_LOG=str(net_log))
    out = run(["kedro", "viz", "build"], root, env=env, timeout=300)
    return root / "build", out, net_log


def _load(path: Path):
    assert path.is_file(), f"missing {path}"
    return json.loads(path.read_text())


def test_build_is_offline(viz_build):
    build, out, net_log = viz_build
    assert "Success! Kedro-Viz build files" in out, out[-3000:]
    assert net_log.read_text() == "", f"network access attempted:\n{net_log.read_text()}"
    assert (build / "index.html").is_file()


def test_main_json_lists_every_pipeline_and_dataset(viz_build):
    build, _, _ = viz_build
    main = _load(build / "api" / "main")
    assert {p["id"] for p in main["pipelines"]} == PIPELINES | {"__default__"}
    data = {n["name"]: n for n in main["nodes"] if n["type"] == "data"}
    for dataset, pipeline in DATASETS.items():
        assert dataset in data, f"{dataset} missing from api/main"
        assert pipeline in data[dataset]["pipelines"], (dataset, data[dataset]["pipelines"])


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_pipeline_json(viz_build, pipeline):
    build, _, _ = viz_build
    response = _load(build / "api" / "pipelines" / pipeline)
    assert response["selected_pipeline"] == pipeline
    names = {n["name"] for n in response["nodes"] if n["type"] == "data"}
    assert {d for d, p in DATASETS.items() if p == pipeline} <= names
    assert response["edges"], f"{pipeline}: no edges"
