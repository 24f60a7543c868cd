"""`pocknet predict` (the CLI, end to end) against fpocket-rs's Python API on the same structures, one core.

Both run in the same session on the same files (default: the first 40 COACH420 structures),
pinned to one CPU (``taskset -c <cpu>``, also inherited by PockNet's worker processes), with
one OpenMP/MKL/BLAS thread, interleaved over ``--repeats`` rounds so that a busy machine
slows both alike:

* PockNet: ``python -m pocknet predict <files> -o <tmp>`` (default formats, one worker):
  interpreter start, imports, model loading, featurisation, scoring, pockets and writing
  every output file;
* fpocket-rs: a fresh interpreter that imports ``fpocket_rs`` and calls
  ``fpocket_rs.detect_pockets(path)`` on each file (its default parameters, its own
  parsing of the same file; results discarded, nothing written).

Printed per round: wall and CPU seconds (user + system of the child processes; PockNet's
forkserver and worker included) of each, and the ratio PockNet / fpocket-rs; then medians.
fpocket-rs lives in its own virtualenv (``--fpocket-python``; see benchmarks/peers.py for the
set-up); the current interpreter is used if it imports ``fpocket_rs``.

``--baseline-src`` also times another source tree's CLI in each round (before/after).

Usage: python benchmarks/predict_vs_fpocket.py [--datasets ../shared/datasets] [--n 40] [--repeats 3]
           [--fpocket-python /tmp/peers-venv/bin/python] [--cpu 0] [--baseline-src /tmp/base/src]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FPOCKET_RUNNER = """
import sys
import fpocket_rs
for path in sys.argv[1:]:
    fpocket_rs.detect_pockets(path)
"""


def coach420(datasets: Path, n: int) -> list[Path]:
    names = [line.split()[0] for line in (datasets / "coach420" / "coach420.ds").read_text().splitlines()
             if line.strip() and not line.startswith(("#", "PARAM", "HEADER"))]  # fmt: skip
    return [datasets / "coach420" / name for name in names[:n]]


def fpocket_python(requested: str | None) -> str:
    if requested:
        return requested
    probe = subprocess.run([sys.executable, "-c", "import fpocket_rs"], capture_output=True, check=False)
    if probe.returncode == 0:
        return sys.executable
    default = "/tmp/peers-venv/bin/python"
    if Path(default).exists():
        return default
    raise SystemExit(
        "fpocket-rs not found: pip install fpocket-rs==0.1.0 (its own venv) and pass --fpocket-python"
    )


def adopt_orphans() -> bool:
    """Become the reaper of our orphaned descendants (Linux), so their CPU time is counted.

    PockNet's forkserver (and through it the worker) outlives the CLI process by a moment
    and is nobody's waited-for child: without this its CPU seconds would go unseen.
    """
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def reap(timeout: float = 30.0) -> None:
    """Wait for adopted descendants to exit (their rusage then joins RUSAGE_CHILDREN)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.01)


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of ``command``; CPU = user + system of it and all its descendants."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    reap()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets"))
    )
    parser.add_argument("--n", type=int, default=40, help="first N COACH420 structures")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fpocket-python", default=None)
    parser.add_argument(
        "--cpu", type=int, default=None, help="the CPU to pin to (default: the lowest allowed)"
    )
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also time the CLI of another source tree (e.g. an export of the previous commit)",
    )
    args = parser.parse_args()

    files = [str(p) for p in coach420(args.datasets, args.n)]
    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    pin = ["taskset", "-c", str(cpu)] if shutil.which("taskset") else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

    def with_src(src: Path) -> dict[str, str]:
        path = str(src)
        return {**env, "PYTHONPATH": path + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else path}

    this = with_src(Path(__file__).resolve().parents[1] / "src")
    baseline = with_src(args.baseline_src) if args.baseline_src else None
    fpocket = fpocket_python(args.fpocket_python)
    if not adopt_orphans():
        print(
            "note: cannot adopt orphaned processes here; PockNet's CPU seconds miss its worker",
            file=sys.stderr,
        )

    def cli(run_env: dict[str, str]) -> tuple[float, float]:
        with tempfile.TemporaryDirectory() as out:
            return timed([*pin, sys.executable, "-m", "pocknet", "predict", *files, "-o", out], run_env)

    rows = []
    print(f"{len(files)} COACH420 structures; CPU {cpu}{'' if pin else ' (taskset missing: not pinned)'}; "
          f"1 thread\n")  # fmt: skip
    extra = " baseline CLI wall s | CPU s |" if baseline else ""
    print(
        f"| round | PockNet CLI wall s | CPU s | fpocket-rs wall s | CPU s | ratio wall | ratio CPU |{extra}"
    )
    print("|---|---|---|---|---|---|---|" + ("---|---|" if baseline else ""))
    for round_ in range(1, args.repeats + 1):
        pocknet = cli(this)
        peer = timed([*pin, fpocket, "-c", FPOCKET_RUNNER, *files], env)
        base = cli(baseline) if baseline else None
        rows.append((pocknet, peer, base))
        print(f"| {round_} | {pocknet[0]:.2f} | {pocknet[1]:.2f} | {peer[0]:.2f} | {peer[1]:.2f} | "
              f"{pocknet[0] / peer[0]:.2f} | {pocknet[1] / peer[1]:.2f} |"
              + (f" {base[0]:.2f} | {base[1]:.2f} |" if base else ""), flush=True)  # fmt: skip
    med = [statistics.median(r[i][j] for r in rows) for i in (0, 1) for j in (0, 1)]
    ratio_wall = statistics.median(r[0][0] / r[1][0] for r in rows)
    ratio_cpu = statistics.median(r[0][1] / r[1][1] for r in rows)
    base_med = (f" {statistics.median(r[2][0] for r in rows):.2f} | {statistics.median(r[2][1] for r in rows):.2f} |"
                if baseline else "")  # fmt: skip
    print(f"| median | {med[0]:.2f} | {med[1]:.2f} | {med[2]:.2f} | {med[3]:.2f} | {ratio_wall:.2f} | {ratio_cpu:.2f} |"
          + base_med)  # fmt: skip
    print(f"\nratio PockNet / fpocket-rs (median of rounds): wall {ratio_wall:.2f}, CPU {ratio_cpu:.2f} "
          f"(<= 1: the CLI is no slower)")  # fmt: skip
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")


if __name__ == "__main__":
    main()
