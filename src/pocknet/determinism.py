"""CPU numerics that give the same bits on any x86-64 machine, for the pipeline's stages.

`dvc repro` on a clean clone must reproduce the committed ``dvc.lock``. On the CPU the
same seed, code and data still gave different trained weights on different machines:

* the intra-op thread count (torch defaults to the number of cores) changes the order of
  floating-point reductions (BatchNorm statistics, matrix products); MKL's too, and MKL may
  lower it by itself (``MKL_DYNAMIC``), e.g. to the physical cores of a hyper-threaded VM;
* MKL picks kernels by CPU generation (AVX2, AVX-512), with different rounding; MKL's
  Conditional Numerical Reproducibility mode (``MKL_CBWR=COMPATIBLE``) removes that;
* ATen's own vectorised kernels and oneDNN dispatch on the CPU's instruction set too;
* so do NumPy's SIMD loops (``exp``, ``log``... have AVX-512 variants with other last bits)
  and the OpenBLAS that NumPy and SciPy bundle (its kernels are chosen per CPU model). On a
  machine with AVX-512, disabling only NumPy's AVX-512 loops changed the small study's
  finalize and inference outputs; forcing OpenBLAS's Haswell kernels changed calibration.

:func:`pin_cpu_numerics` fixes all of these through environment variables, which the
libraries read when they load, so it must run before ``numpy`` and ``torch`` are imported:
the Kedro project settings call it first thing. Every pinned level is AVX2 (x86-64-v3),
which any x86-64 CPU of the last decade has. The cost is speed (two threads, no AVX-512),
which the small tabular model barely notices. Whether two machines then agree is measured,
not assumed: :mod:`pocknet.cpu_fingerprint`. GPU runs are not covered (cuBLAS/cuDNN
reductions are not bit-exact; see the README).
"""

from __future__ import annotations

import logging
import os
import platform
import sys

__all__ = ["CPU_THREADS_ENV", "pin_cpu_numerics", "reproducible_cpu_env"]

log = logging.getLogger(__name__)

#: Overrides the pipeline's thread count (default 2). Another value gives other last bits.
CPU_THREADS_ENV = "POCKNET_CPU_THREADS"
_DEFAULT_THREADS = 2
_X86_64 = ("x86_64", "amd64")


def reproducible_cpu_env(threads: int | None = None) -> dict[str, str]:
    """Environment variables that pin CPU numerics (see the module docstring)."""
    count = str(threads or int(os.environ.get(CPU_THREADS_ENV, _DEFAULT_THREADS)))
    env = {
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        # MKL may otherwise use fewer threads than asked (e.g. one per physical core on a
        # hyper-threaded VM), and MKL's last bits follow its thread count.
        "MKL_DYNAMIC": "FALSE",
        "OPENBLAS_NUM_THREADS": count,
        "MKL_CBWR": "COMPATIBLE",
    }
    if platform.machine().lower() in _X86_64:
        env |= {
            "ATEN_CPU_CAPABILITY": "avx2",
            "ONEDNN_MAX_CPU_ISA": "AVX2",
            # NumPy's dispatch targets above x86-64-v3 (unknown names are ignored by NumPy).
            "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
            "OPENBLAS_CORETYPE": "Haswell",
        }
    return env


def pin_cpu_numerics(threads: int | None = None) -> bool:
    """Set :func:`reproducible_cpu_env` in ``os.environ``; False (and a warning) if numpy or torch is loaded."""
    env = reproducible_cpu_env(threads)
    os.environ.update(env)
    loaded = [name for name in ("numpy", "torch") if name in sys.modules]
    if "torch" in loaded:  # too late for the load-time settings; threads can still be set
        import torch

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    if loaded:
        log.warning("%s imported before pin_cpu_numerics(): CPU results may differ between machines", " and ".join(loaded))
        return False
    return True
