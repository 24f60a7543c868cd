"""What the second pocket level (or the pocket rescorer) costs `pocknet predict`: the shipped model with and without it.

Times ``Predictor.predict_file`` and writing the five default formats for the shipped model as it
is and without the part named by ``--variant`` (``second-level``: ``second_seed_threshold: none``;
``rescorer``: no pocket rescorer), interleaved structure by structure on one core, best of
``--repeats``; CPU seconds of this process (``time.process_time``), which other jobs on the
machine disturb less than wall time. Same structures as benchmarks/predict_speed.py (the first
40 COACH420 entries by default).

Usage: python benchmarks/two_level_speed.py [--variant second-level|rescorer] [--datasets ../shared/datasets]
       [--set coach40|p2rank-test] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
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
FORMATS = ("csv", "pdb", "pml", "cxc", "json")


def structures(datasets: Path, which: str) -> list[Path]:
    if which == "coach40":
        lines = (datasets / "coach420" / "coach420.ds").read_text().splitlines()
        names = [
            line.split()[0]
            for line in lines
            if line.strip() and not line.startswith(("#", "PARAM", "HEADER"))
        ]
        return [datasets / "coach420" / name for name in names[:40]]
    return [entry.path for entry in scan_folder(datasets / "p2rank-test").entries]


def cpu_seconds(predictor: Predictor, path: Path, out: Path, repeats: int) -> tuple[float, float, int]:
    """(best predict CPU s, best predict + write CPU s, pockets) for one structure."""
    best_predict, best_total = float("inf"), float("inf")
    for _ in range(repeats):
        start = time.process_time()
        prediction = predictor.predict_file(path)
        predicted = time.process_time()
        write_outputs(prediction, out, FORMATS)
        best_predict = min(best_predict, predicted - start)
        best_total = min(best_total, time.process_time() - start)
    return best_predict, best_total, len(prediction.pockets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets"))
    )
    parser.add_argument("--set", default="coach40", choices=["coach40", "p2rank-test"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variant", default="second-level", choices=["second-level", "rescorer"])
    args = parser.parse_args()
    shipped = Predictor(predicted_model=None)
    config = shipped.pocket_config
    print(f"shipped: seed {config.seed_for(shipped.bundle.threshold)}, second {config.second_seed_threshold}, "
          f"rescorer {shipped.info()['pocket_rescorer']}")  # fmt: skip
    if args.variant == "second-level":
        names = ("one level", "two levels")
        without = shipped.bundle.replace(pockets={**shipped.bundle.pockets, "second_seed_threshold": "none"})
    else:
        names = ("no rescorer", "rescorer")
        without = shipped.bundle.replace(pocket_rescorer=None)
    pair = (Predictor(bundle=without), shipped)
    times: dict[str, list[tuple[float, float, int]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as out:
        for path in structures(args.datasets, args.set):
            for name, predictor in zip(names, pair):
                times[name].append(cpu_seconds(predictor, path, Path(out), args.repeats))
    for name, rows in times.items():
        predict, total, pockets = zip(*rows)
        print(f"{name:11s}: predict {statistics.median(predict):.4f} s, predict + write {statistics.median(total):.4f} s "
              f"(median CPU s per structure), pockets per structure {statistics.mean(pockets):.1f}")  # fmt: skip
    ratios = [b[1] / a[1] for a, b in zip(times[names[0]], times[names[1]])]
    print(f"{names[1]} / {names[0]}, predict + write, per structure: median {statistics.median(ratios):.3f} "
          f"(range {min(ratios):.3f}–{max(ratios):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
