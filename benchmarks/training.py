"""Training throughput (points/s) of the tabular-only and fusion models.

Times full training steps (batch gather from an in-memory PointDataset with a
float16 residue table, forward, BCE backward, AdamW step) on synthetic data of
the real shapes: 35 features, k = 16 neighbours, ESM2-3B width 2560.

Usage: python benchmarks/training.py [--device cpu|cuda] [--steps 20] [--batch 1024]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from torch.nn import functional as F

from pocknet.model import ModelConfig, PocketNet
from pocknet.trainset.arrays import PointDataset, SplitArrays


def synthetic(n_points: int, n_residues: int, k: int, dim: int, seed: int = 0) -> tuple[SplitArrays, torch.Tensor | None]:
    rng = np.random.default_rng(seed)
    arrays = SplitArrays(
        tabular=rng.normal(size=(n_points, 35)).astype(np.float32),
        label=(rng.random(n_points) < 0.03).astype(np.int8),
        protein=np.zeros(n_points, np.int32),
        residue=rng.integers(0, n_residues, n_points),
        neighbours=rng.integers(0, n_residues, (n_points, k)),
        neighbour_dist=rng.uniform(3, 15, (n_points, k)).astype(np.float32),
    )
    table = torch.from_numpy(rng.normal(size=(n_residues, dim)).astype(np.float16)) if dim else None
    return arrays, table


def throughput(dim: int, device: str, steps: int, batch: int) -> float:
    torch.manual_seed(0)
    arrays, table = synthetic(200_000, 20_000, 16, dim)
    dataset = PointDataset(arrays, table)
    model = PocketNet(ModelConfig(embedding_dim=dim, k=16)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(1)
    model.train()

    def step() -> None:
        idx = rng.integers(0, len(dataset), batch).tolist()
        data = {k: v.to(device, non_blocking=True) for k, v in dataset.__getitems__(idx).items()}
        loss = F.binary_cross_entropy_with_logits(model(data), data["label"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=1024)
    args = parser.parse_args()
    for name, dim in (("tabular-only", 0), ("fusion (D=2560, k=16)", 2560)):
        rate = throughput(dim, args.device, args.steps, args.batch)
        print(f"{name:24s} {rate:10.0f} points/s  (batch {args.batch}, {args.device})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, torch {torch.__version__}, threads {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
