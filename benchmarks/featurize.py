"""Featurisation speed and memory.

1. Median seconds per protein over the p2rank-test structures, one core
   (load + SAS points + 35 descriptors + labels; best of --repeats per protein).
2. Peak memory and time on a synthetic ~42 000-atom complex: seven translated
   copies of BU48's largest entry (1ivd, 6 044 heavy atoms) written as one PDB.

Usage: python benchmarks/featurize.py [--datasets ../shared/datasets] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# one core, one BLAS thread: the target is per-core throughput
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

from pocknet.structure.datasets import scan_folder
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.structure.reader import load_structure


def time_dataset(root: Path, repeats: int) -> list[tuple[str, int, int, float]]:
    config = FeaturizeConfig()
    rows = []
    for entry in scan_folder(root).entries:
        n_atoms = len(load_structure(entry.path).atoms)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            feats = featurize_file(entry.path, config)
            best = min(best, time.perf_counter() - start)
        rows.append((entry.id, n_atoms, feats.n_points, best))
    return rows


def big_complex(source: Path, copies: int, out: Path) -> int:
    lines = [ln for ln in source.read_text().splitlines() if ln.startswith(("ATOM", "HETATM"))]
    chains = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    written = []
    for k in range(copies):
        dx = 200.0 * k  # far apart: copies must not bury each other
        for ln in lines:
            x = float(ln[30:38]) + dx
            chain = chains[(chains.index(ln[21]) + 4 * k) % 26] if ln[21] in chains else ln[21]
            written.append(f"{ln[:21]}{chain}{ln[22:30]}{x:8.3f}{ln[38:]}")
    out.write_text("\n".join(written) + "\nEND\n")
    return len(load_structure(out).atoms)


def measure_big(path: Path) -> tuple[float, float, int, int]:
    """Time and peak RSS of featurising one file, in a fresh process."""
    code = (
        "import resource,time,sys;from pocknet.featurize.features import FeaturizeConfig,featurize_file;"
        "t=time.perf_counter();f=featurize_file(sys.argv[1],FeaturizeConfig());"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, f.n_points,"
        " len(f.residue_chain))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    seconds, rss_kb, points, residues = out.stdout.split()
    return float(seconds), int(rss_kb) / 1024**2, int(points), int(residues)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets")))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=7)
    args = parser.parse_args()

    rows = time_dataset(args.datasets / "p2rank-test", args.repeats)
    print(f"{'structure':45s} {'atoms':>6s} {'points':>7s} {'seconds':>8s}")
    for name, atoms, points, seconds in rows:
        print(f"{name:45s} {atoms:6d} {points:7d} {seconds:8.3f}")
    median = statistics.median(r[3] for r in rows)
    near_2000 = min(rows, key=lambda r: abs(r[1] - 2000))
    print(f"\nmedian seconds per protein (p2rank-test, {len(rows)} structures, 1 core): {median:.3f}")
    print(f"closest to 2 000 atoms: {near_2000[0]} ({near_2000[1]} atoms): {near_2000[3]:.3f} s (target <= 0.5 s)")

    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.pdb"
        n_atoms = big_complex(args.datasets / "bu48" / "holo" / "1ivd.pdb", args.copies, big)
        seconds, peak_gb, points, residues = measure_big(big)
        print(
            f"synthetic complex: {n_atoms} protein heavy atoms, {residues} residues, {points} SAS points: "
            f"{seconds:.2f} s, peak RSS {peak_gb:.2f} GB"
        )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")


if __name__ == "__main__":
    main()
