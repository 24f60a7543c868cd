"""`pocknet predict` speed: median seconds per protein on one core, interpreter start excluded.

Times `Predictor.predict_file` (read → featurise → score with the shipped model → pockets →
residue scores) and, separately, writing all output formats, over the p2rank-test structures
(or the first 40 COACH420 structures, ``--set coach40``): best of ``--repeats``, as wall seconds
and as CPU seconds of this process (``time.process_time``), which other jobs on a busy machine
disturb less. Phase by phase: benchmarks/predict_profile.py; the CLI end to end against
fpocket-rs: benchmarks/predict_vs_fpocket.py.

Usage: python benchmarks/predict_speed.py [--datasets ../shared/datasets] [--set p2rank-test|coach40] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import torch

from pocknet.predict.predictor import Predictor
from pocknet.predict.writers import write_outputs
from pocknet.structure.datasets import scan_folder

torch.set_num_threads(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", default="p2rank-test", choices=["p2rank-test", "coach40"])
    args = parser.parse_args()
    if args.set == "coach40":
        names = [line.split()[0] for line in (args.datasets / "coach420" / "coach420.ds").read_text().splitlines()
                 if line.strip() and not line.startswith(("#", "PARAM", "HEADER"))]  # fmt: skip
        paths = [args.datasets / "coach420" / name for name in names[:40]]
    else:
        paths = [entry.path for entry in scan_folder(args.datasets / "p2rank-test").entries]
    predictor = Predictor()
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for path in paths:
            best, cpu, write = float("inf"), float("inf"), float("inf")
            for _ in range(args.repeats):
                start, start_cpu = time.perf_counter(), time.process_time()
                prediction = predictor.predict_file(path)
                best = min(best, time.perf_counter() - start)
                cpu = min(cpu, time.process_time() - start_cpu)
                start = time.perf_counter()
                write_outputs(prediction, Path(out), ("csv", "pdb", "pml", "cxc", "json"))
                write = min(write, time.perf_counter() - start)
            rows.append((path.name, len(prediction.features.atom_coords), len(prediction.pockets), best, cpu, write))
    print(f"{'structure':45s} {'atoms':>6s} {'pockets':>7s} {'predict s':>9s} {'CPU s':>6s} {'write s':>8s}")
    for name, atoms, pockets, seconds, cpu, write in rows:
        print(f"{name:45s} {atoms:6d} {pockets:7d} {seconds:9.3f} {cpu:6.3f} {write:8.3f}")
    median = statistics.median(r[3] for r in rows)
    near = min(rows, key=lambda r: abs(r[1] - 2000))
    print(f"\nmedian predict seconds per protein (1 core): {median:.3f} (CPU {statistics.median(r[4] for r in rows):.3f}); "
          f"median write: {statistics.median(r[5] for r in rows):.3f}")  # fmt: skip
    print(f"median atoms: {statistics.median(r[1] for r in rows):.0f}")
    print(f"closest to 2 000 atoms: {near[0]} ({near[1]} atoms): {near[3]:.3f} s, CPU {near[4]:.3f} s (target <= 0.2 s)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, torch {torch.__version__}")


if __name__ == "__main__":
    main()
