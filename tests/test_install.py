"""The set-up asks for a CPU-only torch where no NVIDIA GPU is visible, whatever index pip uses.

`make setup` installs ``torch==<version>+cpu`` first: the ``+cpu`` local version exists only
on CPU builds, so no index can resolve it to a CUDA build (a plain ``torch==2.13.0`` from PyPI
is the CUDA build, gigabytes of nvidia-* wheels). Checked with ``pip install --dry-run --report``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _torch_spec(**env: str) -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make not installed")
    args = [make, "-s", "--no-print-directory", "print-torch-spec", *(f"{k}={v}" for k, v in env.items())]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()


def _fake_wheel(folder: Path, version: str, requires: tuple[str, ...] = ()) -> None:
    """A metadata-only torch wheel, enough for pip's resolver (nothing is installed)."""
    tag = "py3-none-any"
    dist = f"torch-{version}.dist-info"
    metadata = "Metadata-Version: 2.1\nName: torch\nVersion: " + version + "\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(folder / f"torch-{version}-{tag}.whl", "w") as wheel:
        wheel.writestr(f"{dist}/METADATA", metadata)
        wheel.writestr(f"{dist}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n")
        wheel.writestr(f"{dist}/RECORD", "")


def _dry_run(spec: str, *pip_args: str) -> dict:
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
           "--quiet", "--report", "-", *pip_args, spec]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_spec_is_cpu_only_without_a_gpu_and_plain_with_one() -> None:
    if shutil.which("nvidia-smi"):
        pytest.skip("an NVIDIA GPU tool is present on this machine")
    assert _torch_spec() == "torch==2.13.0+cpu"
    assert _torch_spec(HAS_NVIDIA_GPU="yes") == "torch==2.13.0"  # the CUDA build where a GPU is


def test_cpu_spec_never_resolves_to_a_cuda_build(tmp_path: Path) -> None:
    """PyPI holds only the CUDA build: the plain pin takes it, the `+cpu` pin never does."""
    pypi_like, both = tmp_path / "pypi", tmp_path / "both"
    for folder in (pypi_like, both):
        folder.mkdir()
        _fake_wheel(folder, "2.13.0", requires=("nvidia-cublas-cu13==13.0.0",))  # PyPI's torch
    _fake_wheel(both, "2.13.0+cpu")  # + the PyTorch CPU index (the Makefile's fallback)
    isolated = ("--no-index", "--isolated", "--find-links")
    plain = _dry_run("torch==2.13.0", *isolated, str(pypi_like))["install"]
    assert "nvidia-cublas-cu13==13.0.0" in plain[0]["metadata"]["requires_dist"]  # why a plain pin is wrong
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--quiet", "--report", "-",
           *isolated, str(pypi_like), _torch_spec()]  # fmt: skip
    refused = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "torch==2.13.0+cpu" in refused.stderr  # → the CPU index
    picked = _dry_run(_torch_spec(), *isolated, str(both))["install"]
    assert [item["metadata"]["version"] for item in picked] == ["2.13.0+cpu"]
    assert not picked[0]["metadata"].get("requires_dist")


def test_cpu_spec_installs_here_from_the_configured_indexes() -> None:
    """On this machine pip's own configuration (a local CPU wheel) satisfies the spec."""
    report = _dry_run(_torch_spec())
    item = report["install"][0]
    assert item["metadata"]["name"] == "torch" and item["metadata"]["version"].endswith("+cpu")
    assert "cu1" not in item["download_info"]["url"]
