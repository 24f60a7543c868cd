"""Pinned CPU numerics (pocknet.determinism): a stage process really runs AVX2-level kernels."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
from project_copy import cpu_fingerprint

from pocknet.determinism import pin_cpu_numerics, reproducible_cpu_env

_PROBE = """
import json
import pocknet.settings  # what `kedro run` imports before any stage code
import numpy, torch
from numpy._core._multiarray_umath import __cpu_features__
from threadpoolctl import threadpool_info
print(json.dumps({
    "numpy_x86_v4": __cpu_features__.get("X86_V4", False),
    "numpy_avx512_spr": __cpu_features__.get("AVX512_SPR", False),
    "openblas": sorted({i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"}),
    "aten": torch.backends.cpu.get_cpu_capability(),
    "threads": torch.get_num_threads(),
}))
"""


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="the pinned levels are x86-64's")
def test_a_stage_process_runs_avx2_level_kernels_on_two_threads():
    env = {k: v for k, v in os.environ.items() if k not in reproducible_cpu_env()}
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True).stdout
    probe = json.loads(out.strip().splitlines()[-1])
    assert probe["numpy_x86_v4"] is False and probe["numpy_avx512_spr"] is False
    assert probe["openblas"] and set(probe["openblas"]) == {"Haswell"}
    assert probe["aten"] in ("AVX2", "DEFAULT")  # DEFAULT only on a CPU without AVX2
    assert probe["threads"] == 2


def test_pinning_after_numpy_is_loaded_says_it_is_too_late(monkeypatch, caplog):
    import torch

    threads = torch.get_num_threads()
    for key in reproducible_cpu_env():
        monkeypatch.setenv(key, os.environ.get(key, ""))  # restored after the test
    try:
        assert pin_cpu_numerics(threads=3) is False
        assert torch.get_num_threads() == 3  # the thread count can still be set
    finally:
        torch.set_num_threads(threads)
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "numpy and torch imported before pin_cpu_numerics()" in caplog.text


def _fingerprint(**extra: str) -> dict:
    return cpu_fingerprint({k: v for k, v in os.environ.items() if k not in reproducible_cpu_env()} | extra)


def test_the_numerics_fingerprint_is_stable_and_sees_the_thread_count():
    """Same machine, same settings: same fingerprint; MKL on one thread rounds otherwise."""
    first, again, one_thread = _fingerprint(), _fingerprint(), _fingerprint(POCKNET_CPU_THREADS="1")
    assert first["pinned"] is True and first["threads"] == 2 and one_thread["threads"] == 1
    assert len(first["fingerprint"]) == 16 and int(first["fingerprint"], 16) >= 0
    assert first["fingerprint"] == again["fingerprint"]
    assert one_thread["fingerprint"] != first["fingerprint"]
    assert first["cpu"]
