"""`pocknet predict --scheduler local:N` on the HOLO4K subset: wall time, structures/s, peak memory per worker.

Starts the LocalCluster that `--scheduler local:N` starts (`pocknet.predict.distributed.local_cluster`),
then times `pocknet.predict_many(..., client=...)` over the first `--limit` entries of `holo4k/holo4k.ds`
(all 1 741 by default), every output format of `pocknet predict`. While it runs, a thread samples
each Dask worker's process tree every `--interval` s: the Dask worker, its forkserver and its pocknet
child (model + the structure in hand). Memory is PSS (shared pages split between the processes that
map them: the forkserver's preloaded torch is counted once, not once per child), and, separately,
the largest RSS any single pocknet child reached.

Usage: python benchmarks/dask_holo4k.py [--workers 2] [--limit N] [--datasets ../shared/datasets]
                                        [--out DIR] [--timeout 600] [--max-memory 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import threading
import time
from pathlib import Path

import psutil

import pocknet
from pocknet.predict.distributed import local_cluster
from pocknet.structure.datasets import read_ds


class TreeSampler(threading.Thread):
    """Peak PSS of each worker's process tree, and the peak RSS of any single process below it."""

    def __init__(self, pids: dict[str, int], interval: float) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.peak_tree = {name: 0 for name in pids}
        self.peak_child = {name: 0 for name in pids}
        self.stop = threading.Event()

    def sample(self) -> None:
        for name, pid in self.pids.items():
            try:
                root = psutil.Process(pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for proc in tree:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:
                    continue
                total += info.pss
                if proc.pid != pid:
                    self.peak_child[name] = max(self.peak_child[name], info.rss)
            self.peak_tree[name] = max(self.peak_tree[name], total)

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.sample()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets"))
    )
    parser.add_argument("--workers", type=int, default=2, help="local:N worker processes (one thread each)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N entries of holo4k.ds")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: a temporary one)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--max-memory", type=float, default=4.0)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory samples")
    args = parser.parse_args()
    from distributed import Client

    entries = read_ds(args.datasets / "holo4k" / "holo4k.ds").entries
    paths = [str(e.path) for e in entries[: args.limit]]
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or Path(scratch) / "out"
        start = time.perf_counter()
        with local_cluster(args.workers) as cluster, Client(cluster) as client:
            startup = time.perf_counter() - start
            pids = client.run(os.getpid)
            sampler = TreeSampler(pids, args.interval)
            sampler.start()
            start = time.perf_counter()
            manifest = pocknet.predict_many(paths, out, client=client, timeout=args.timeout,
                                            max_memory=args.max_memory, progress=True)  # fmt: skip
            wall = time.perf_counter() - start
            sampler.stop.set()
            sampler.join()
        counts = manifest["status"].value_counts().to_dict()
    ok = counts.get("ok", 0)
    seconds = manifest.loc[manifest["status"] == "ok", "seconds"]
    print(f"\nstructures: {len(paths)} of holo4k.ds ({ok} ok, {counts.get('failed', 0)} failed)")
    print(f"cluster start (local:{args.workers}): {startup:.1f} s")
    print(f"wall time (first model load included): {wall:.1f} s; {len(paths) / wall:.2f} structures/s")
    print(f"per structure in the workers: median {seconds.median():.2f} s, max {seconds.max():.2f} s")
    for name in sorted(pids, key=str):
        print(f"worker {name}: peak PSS of its tree {sampler.peak_tree[name] / 2**20:.0f} MiB; "
              f"largest pocknet child RSS {sampler.peak_child[name] / 2**20:.0f} MiB")  # fmt: skip
    failed = manifest[manifest["status"] == "failed"]
    for row in failed.itertuples():
        print(f"failed: {row.error}")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, "
          f"pocknet {pocknet.__version__}")  # fmt: skip


if __name__ == "__main__":
    main()
