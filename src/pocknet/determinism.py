"""CPU numerics that give the same bits on any x86-64 machine, for the pipeline's stages.

`dvc repro` on a clean clone must reproduce the committed ``dvc.lock``. On the CPU the
same seed, code and data still gave different trained weights on different machines:

* the intra-op thread count (torch defaults to the number of cores) changes the order of
  floating-point reductions (BatchNorm statistics, matrix products);
* MKL picks kernels by CPU generation (AVX2, AVX-512), with different rounding; MKL's
  Conditional Numerical Reproducibility mode (``MKL_CBWR=COMPATIBLE``) removes that;
* ATen's own vectorised kernels and oneDNN dispatch on the CPU's instruction set too.

:func:`pin_cpu_numerics` fixes all of these through environment variables, which the
libraries read when they load, so it must run before ``torch`` is imported: the Kedro
project settings call it first thing. The cost is speed (two threads, no AVX-512 in
MKL), which the small tabular model barely notices. GPU runs are not covered
(cuBLAS/cuDNN reductions are not bit-exact; see the README).
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["CPU_THREADS_ENV", "pin_cpu_numerics", "reproducible_cpu_env"]

log = logging.getLogger(__name__)

#: Overrides the pipeline's thread count (default 2). Another value gives other last bits.
CPU_THREADS_ENV = "POCKNET_CPU_THREADS"
_DEFAULT_THREADS = 2


def reproducible_cpu_env(threads: int | None = None) -> dict[str, str]:
    """Environment variables that pin CPU numerics (see the module docstring)."""
    count = str(threads or int(os.environ.get(CPU_THREADS_ENV, _DEFAULT_THREADS)))
    return {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "MKL_CBWR": "COMPATIBLE",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }


def pin_cpu_numerics(threads: int | None = None) -> bool:
    """Set :func:`reproducible_cpu_env` in ``os.environ``; False (and a warning) if torch is loaded."""
    env = reproducible_cpu_env(threads)
    os.environ.update(env)
    if "torch" in sys.modules:  # too late for the load-time settings; threads can still be set
        import torch

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
        log.warning("torch was imported before pin_cpu_numerics(): CPU results may differ between machines")
        return False
    return True
