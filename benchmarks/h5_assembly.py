"""H5 assembly memory/time (1x vs 4x the p2rank-test set) and ESM2 throughput of the tiny model.

Peak RSS must stay flat when the number of proteins grows: the writer streams
protein by protein. Each assembly runs in a fresh process so ru_maxrss is its own.

Usage: python benchmarks/h5_assembly.py [--datasets ../shared/datasets] [--esm tiny|none]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from pocknet.structure.datasets import scan_folder
from pocknet.featurize.feature_files import load_features, save_features
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.embed.residue_chains import chains_table


def prepare(datasets: Path, work: Path, esm: str) -> None:
    """Featurise p2rank-test into work/features and (tiny) embed its chains into work/cache."""
    # torch only here, so the assembly processes measure the assembly, not an idle torch import
    from pocknet.embed.cache import EmbeddingCache, embed_with_cache
    from pocknet.embed.config import EmbeddingConfig
    from pocknet.embed.embedder import EsmEmbedder
    from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint

    features = []
    for entry in scan_folder(datasets / "p2rank-test").entries:
        f = featurize_file(entry.path, FeaturizeConfig(), id=entry.id)
        save_features(f, work / "features" / f"{entry.id}.npz")
        features.append(f)
    if esm == "tiny":
        model = write_tiny_esm2_checkpoint(work / "esm2_t2_tiny.pt")
        embedder = EsmEmbedder(EmbeddingConfig(model=str(model)))
        sequences = sorted(set(chains_table(features)["sequence"]))
        start = time.perf_counter()
        embedder.embed(sequences)  # throughput, without the cache
        seconds = time.perf_counter() - start
        residues = sum(len(s) for s in sequences)
        print(f"tiny ESM2 (2 layers, 32-d) on CPU: {residues} residues in {seconds:.2f} s = {residues / seconds:.0f} residues/s")
        embed_with_cache(sequences, embedder, EmbeddingCache.for_embedder(work / "cache", embedder))


def assemble(work: Path, repeats: int, esm: str) -> None:
    """Assemble `repeats` copies of the prepared set (child process)."""
    from pocknet.trainset.assembly import AssemblyConfig, plan_training_set, write_training_set

    files = sorted((work / "features").rglob("*.npz"))
    loaders, manifest_rows, split_rows = {}, [], []
    for r in range(repeats):
        for path in files:
            base = load_features(path)
            pid = f"{base.id}#{r}"
            loaders[pid] = lambda path=path, pid=pid: dataclasses.replace(load_features(path), id=pid)
            split_rows.append({"protein": pid, "split": "train"})
            for chain in chains_table([base]).itertuples():
                manifest_rows.append({"protein": pid, "chain": chain.chain, "model": "esm2_t2_tiny" if esm == "tiny" else "none",
                                      "layer": 2 if esm == "tiny" else -1, "dim": 32 if esm == "tiny" else 0})
    plan = plan_training_set(
        loaders, pd.DataFrame(split_rows), pd.DataFrame(manifest_rows), AssemblyConfig(k=16, neighbour_distance="ca"),
        cache_dir=work / "cache", params={"benchmark": True},
    )  # fmt: skip
    start = time.perf_counter()
    out = work / f"train_{repeats}x.h5"
    write_training_set(plan, out)
    seconds = time.perf_counter() - start
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{repeats}x: {plan.n_proteins} proteins, {seconds:.2f} s, peak RSS {rss_mb:.0f} MB, file {out.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets")))
    parser.add_argument("--esm", choices=("tiny", "none"), default="tiny")
    parser.add_argument("--assemble", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.assemble:
        assemble(args.assemble, args.repeats, args.esm)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(args.datasets, work, args.esm)
        for repeats in (1, 4):
            cmd = [sys.executable, __file__, "--assemble", str(work), "--repeats", str(repeats), "--esm", args.esm]
            print(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}")


if __name__ == "__main__":
    main()
