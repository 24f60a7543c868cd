"""A fingerprint of this machine's pinned CPU numerics: equal fingerprints, equal training bits.

`dvc repro` reproduces ``dvc.lock`` bit for bit only where the floating-point kernels give the
same last bits (:mod:`pocknet.determinism` pins what it can). Whether two machines do cannot be
read off ``lscpu``: it depends on how MKL, oneDNN, ATen, NumPy and OpenBLAS dispatch there. So
this module runs a few training steps of the kind the pipeline runs (MKL matrix products over
thousands of rows on the pinned threads, BatchNorm, oneDNN's GELU, Adam, BCE; NumPy's exp/log and
an OpenBLAS product) under the pinned settings and hashes the results. The reproducibility test
compares training outputs bit for bit where the fingerprint equals the reference machine's.

Run as ``python -m pocknet.cpu_fingerprint`` (prints JSON); it must start its own process, because
the settings are read when numpy and torch load.
"""

from __future__ import annotations

import hashlib
import json
import platform
from pathlib import Path

from pocknet.determinism import pin_cpu_numerics

__all__ = ["cpu_description", "numerics_fingerprint"]


def cpu_description() -> str:
    """Vendor, family, model and SMT layout: what a reader compares when fingerprints differ."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("vendor_id", "cpu family", "model", "model name", "siblings", "cpu cores") and key not in fields:
                fields[key] = value.strip()
    except OSError:
        return platform.processor() or platform.machine()
    return ", ".join(f"{k} {v}" for k, v in fields.items())


def numerics_fingerprint() -> str:
    """16 hex digits of sha256 over a few pinned-CPU training steps and NumPy kernels."""
    import numpy as np
    import torch

    digest = hashlib.sha256()
    torch.manual_seed(0)
    x = torch.randn(4096, 35)
    y = (torch.rand(4096, 1) < 0.05).float()
    net = torch.nn.Sequential(
        torch.nn.Linear(35, 128), torch.nn.BatchNorm1d(128), torch.nn.GELU(),
        torch.nn.Linear(128, 128), torch.nn.GELU(), torch.nn.Linear(128, 1),
    )  # fmt: skip
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    for _ in range(5):
        optimiser.zero_grad()
        loss = loss_fn(net(x), y)
        loss.backward()
        optimiser.step()
    for tensor in net.state_dict().values():
        digest.update(tensor.detach().numpy().tobytes())
    rng = np.random.default_rng(0)
    values = rng.random((512, 256))
    digest.update(np.exp(values).tobytes() + np.log1p(values).tobytes() + (values @ values.T).tobytes())
    digest.update(np.exp(values.astype(np.float32)).tobytes())
    return digest.hexdigest()[:16]


def main() -> None:
    pinned = pin_cpu_numerics()
    import torch

    print(json.dumps({
        "fingerprint": numerics_fingerprint(),
        "pinned": pinned,
        "cpu": cpu_description(),
        "aten": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
