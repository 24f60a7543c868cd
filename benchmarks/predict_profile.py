"""`pocknet predict` end to end, phase by phase, on one core: where the time of a prediction goes.

Phases: interpreter start; the CLI parent's imports (``pocknet predict`` on an empty folder,
which never starts a worker); the worker's imports (what the forkserver preloads plus the
writers) with loading the bundled model, and the load alone (in process, imports done); the
teardown of an interpreter that holds torch (what the forkserver paid at exit before it
learnt to skip it: :mod:`pocknet.predict.forkserver_exit`); then per structure: parsing, SAS points, descriptors,
labels, the rest of featurisation, scoring, pockets (exposed atoms + clustering), residue
scores, the rest of ``predict_features`` (calibration) and writing the default formats.
Per-structure phases are timed by wrapping the functions ``Predictor.predict_file`` calls,
as CPU seconds (``time.process_time``, what a busy machine disturbs least) and wall seconds,
each the minimum over ``--repeats``. ``--profile N`` adds cProfile's top N functions.

Usage: python benchmarks/predict_profile.py [--set coach40|p2rank-test] [--repeats 3] [--profile 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

DATASETS = Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets"))
PHASES = ("parse", "sas", "descriptors", "labels", "featurize other", "scoring", "pockets", "residues",
          "predict other", "writing")  # fmt: skip


def structures(datasets: Path, which: str) -> list[Path]:
    """The first 40 COACH420 structures (``coach40``) or every p2rank-test structure file."""
    if which == "coach40":
        names = [line.split()[0] for line in (datasets / "coach420" / "coach420.ds").read_text().splitlines()
                 if line.strip() and not line.startswith(("#", "PARAM", "HEADER"))]  # fmt: skip
        return [datasets / "coach420" / n for n in names[:40]]
    from pocknet.structure.datasets import scan_folder

    return [e.path for e in scan_folder(datasets / "p2rank-test").entries]


def child_seconds(args: list[str], repeats: int) -> tuple[float, float]:
    """(median wall, median CPU) seconds of a fresh interpreter running ``args``."""
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def startup(repeats: int) -> dict[str, tuple[float, float]]:
    """Interpreter, CLI parent imports, worker imports: (wall, CPU) each, the interpreter subtracted."""
    interpreter = child_seconds(["-c", "pass"], repeats)
    with tempfile.TemporaryDirectory() as tmp:  # an empty folder fails as an input: no worker starts
        (Path(tmp) / "empty").mkdir()
        parent = child_seconds(["-m", "pocknet", "predict", f"{tmp}/empty", "-o", f"{tmp}/out"], repeats)
    load = (
        "import pocknet.predict.predictor, pocknet.predict.workers, pocknet.predict.writers;"
        "pocknet.predict.predictor.Predictor()"
    )
    worker = child_seconds(["-c", load + "; import os; os._exit(0)"], repeats)
    torn_down = child_seconds(["-c", load], repeats)
    return {
        "interpreter": interpreter,
        "CLI parent imports": (parent[0] - interpreter[0], parent[1] - interpreter[1]),
        "worker imports + model load": (worker[0] - interpreter[0], worker[1] - interpreter[1]),
        "teardown of an interpreter holding torch": (torn_down[0] - worker[0], torn_down[1] - worker[1]),
    }


class Clock:
    """Accumulates wall and CPU seconds per phase while wrapped functions run."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        inner: Callable[..., Any] | None = getattr(owner, name, None)
        if inner is None:  # not called by this version of the code
            return

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return inner(*args, **kwargs)
            finally:
                self.wall[phase] += time.perf_counter() - wall
                self.cpu[phase] += time.process_time() - cpu

        setattr(owner, name, timed)


def instrument(clock: Clock) -> None:
    from pocknet.featurize import features
    from pocknet.predict import predictor

    clock.wrap(predictor, "load_structure", "parse")
    clock.wrap(predictor, "featurize", "featurize")
    clock.wrap(features, "sas_points", "sas")
    clock.wrap(features, "point_descriptors", "descriptors")
    clock.wrap(features, "ligand_distances", "labels")
    clock.wrap(features, "point_labels", "labels")
    clock.wrap(predictor.Predictor, "logits_and_scores", "scoring")
    clock.wrap(predictor.Predictor, "predict_features", "predict_features")
    for name in ("exposed_atoms", "find_pockets"):
        clock.wrap(predictor, name, "pockets")
    for name in ("residue_scores", "zscores", "residue_pocket_ranks"):
        clock.wrap(predictor, name, "residues")


def phases_of(clock: Clock, table: dict[str, float]) -> dict[str, float]:
    out = {p: table.get(p, 0.0) for p in PHASES}
    out["featurize other"] = table.get("featurize", 0.0) - out["sas"] - out["descriptors"] - out["labels"]
    out["predict other"] = (
        table.get("predict_features", 0.0) - out["scoring"] - out["pockets"] - out["residues"]
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--set", default="coach40", choices=["coach40", "p2rank-test"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="also print cProfile's top N (by own time)")
    args = parser.parse_args()
    files = structures(args.datasets, args.set)

    start = startup(max(3, args.repeats))
    import torch

    torch.set_num_threads(1)
    from pocknet.predict.output_folder import write_prediction_set
    from pocknet.predict.predictor import Predictor

    loads = []
    for _ in range(max(3, args.repeats)):
        wall, cpu = time.perf_counter(), time.process_time()
        predictor = Predictor()
        loads.append((time.perf_counter() - wall, time.process_time() - cpu))
    start["model load alone"] = (
        statistics.median(w for w, _ in loads),
        statistics.median(c for _, c in loads),
    )

    clock = Clock()
    instrument(clock)
    formats = ("csv", "pdb", "pml", "cxc", "json")
    best: dict[str, dict[str, tuple[float, float]]] = {}
    totals: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as out:
        for path in files:
            runs = []
            for _ in range(args.repeats):
                clock.wall.clear()
                clock.cpu.clear()
                wall, cpu = time.perf_counter(), time.process_time()
                prediction = predictor.predict_file(path)
                w, c = time.perf_counter(), time.process_time()
                write_prediction_set(prediction, Path(out), formats)
                clock.wall["writing"] += time.perf_counter() - w
                clock.cpu["writing"] += time.process_time() - c
                runs.append((time.perf_counter() - wall, time.process_time() - cpu,
                             phases_of(clock, clock.wall), phases_of(clock, clock.cpu)))  # fmt: skip
            totals[path.name] = (min(r[0] for r in runs), min(r[1] for r in runs))
            best[path.name] = {p: (min(r[2][p] for r in runs), min(r[3][p] for r in runs)) for p in PHASES}
        profile_text = ""
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for path in files:
                write_prediction_set(predictor.predict_file(path), Path(out), formats)
            profiler.disable()
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(args.profile)
            profile_text = stream.getvalue()

    n = len(files)
    print(f"{args.set}: {n} structures, best of {args.repeats}; one core, 1 torch thread\n")
    print("| phase | wall s | CPU s | share of CPU |\n|---|---|---|---|")
    for name, (wall, cpu) in start.items():
        print(f"| {name} (once) | {wall:.3f} | {cpu:.3f} | |")
    cpu_total = sum(t[1] for t in totals.values())
    for phase in PHASES:
        wall = sum(best[s][phase][0] for s in best)
        cpu = sum(best[s][phase][1] for s in best)
        print(f"| {phase} (all {n}) | {wall:.3f} | {cpu:.3f} | {100 * cpu / cpu_total:.0f} % |")
    print(
        f"| **per structure, all {n}** | {sum(t[0] for t in totals.values()):.3f} | {cpu_total:.3f} | 100 % |"
    )
    print(f"\nmedian per structure (predict + write): wall {statistics.median(t[0] for t in totals.values()):.3f} s, "
          f"CPU {statistics.median(t[1] for t in totals.values()):.3f} s")  # fmt: skip
    print(f"python {sys.version.split()[0]}, torch {torch.__version__}")
    if profile_text:
        print("\n" + profile_text)


if __name__ == "__main__":
    main()
