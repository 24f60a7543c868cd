"""Spatial context (issue #14): validation PR-AUC and `pocknet predict` time, context vs per-point MLP.

1. Trains each variant on the local H5 (``data/04_h5/training_set.h5``: CHEN11 train/val) with the
   ``training`` block of params.yaml, the same seed, ``--epochs`` epochs (OneCycle over those
   epochs), and reports the best validation PR-AUC (validation only; no test or external set is
   read). Checkpoints go to a scratch folder, never to ``data/05_models``.
2. Times ``Predictor.predict_file`` (read → featurise → score → pockets → residue scores) per
   protein of p2rank-test on one core (one torch/BLAS thread, pinned), interleaving the variants
   and taking the best of ``--repeats`` runs per protein, then the median over proteins.

Usage: python benchmarks/context.py [--epochs 4] [--variants mlp,ctx1] [--out /tmp/pocknet_context]
       python benchmarks/context.py --time-only   # reuse the models trained by a previous run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import torch
import yaml

VARIANTS = {
    "mlp": {},
    "ctx1": {"context": "attention", "context_layers": 1},
    "ctx2": {"context": "attention", "context_layers": 2},
    "ctx1_stride1": {"context": "attention", "context_layers": 1, "context_stride": 1},  # nearest points only
}


def train(variant: str, h5: Path, epochs: int, out: Path) -> dict:
    from pocknet.model.files import save_model
    from pocknet.train.config import TrainingConfig
    from pocknet.train.training import export_model, fit, validation_report
    from pocknet.trainset.h5reader import H5Reader

    params = yaml.safe_load(Path("params.yaml").read_text())["training"]
    params.update(
        max_epochs=epochs,
        min_epochs=epochs,
        accelerator="cpu",
        checkpoint_dir=str(out / variant / "checkpoints"),
        dvclive_dir=str(out / variant / "dvclive"),
        wandb=False,
    )
    params["model"] = {**params["model"], **VARIANTS[variant]}
    start = time.perf_counter()
    module, history, data = fit(h5, TrainingConfig.from_params(params))
    seconds = time.perf_counter() - start
    report = validation_report(module.model, data, params["threshold_criterion"])
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {"training": params}, {"stage": "benchmark", "name": variant})
    save_model(bundle, out / f"{variant}.pt")
    return {
        "variant": variant,
        "model": params["model"],
        "parameters": module.model.describe(),
        "epochs": epochs,
        "train_seconds": round(seconds, 1),
        "val_pr_auc_per_epoch": [round(float(x), 4) for x in history["val_pr_auc"]],
        "val_pr_auc_best_epoch": round(float(history["val_pr_auc"].max()), 4),
        "val_pr_auc_exported": round(float(report["val"]["pr_auc"]), 4),
        "val_roc_auc": round(float(report["val"]["roc_auc"]), 4),
        "val_iou": round(float(report["val"]["iou"]), 4),
        "val_pr_auc_protein_mean": round(float(report["val"].get("pr_auc_protein_mean", float("nan"))), 4),
    }


def time_predict(variants: list[str], out: Path, datasets: Path, repeats: int) -> dict:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
    from pocknet.predict.predictor import Predictor
    from pocknet.structure.datasets import scan_folder

    predictors = {v: Predictor(out / f"{v}.pt") for v in variants}
    entries = scan_folder(datasets / "p2rank-test").entries
    for predictor in predictors.values():  # warm-up (imports, allocator)
        predictor.predict_file(entries[0].path)
    rows = []
    for entry in entries:
        best = {v: float("inf") for v in variants}
        for _ in range(repeats):
            for v, predictor in predictors.items():
                start = time.perf_counter()
                prediction = predictor.predict_file(entry.path)
                best[v] = min(best[v], time.perf_counter() - start)
        rows.append({"structure": entry.id, "atoms": len(prediction.features.atom_coords),
                     "points": prediction.features.n_points, **best})  # fmt: skip
        print(f"{entry.id:45s} {rows[-1]['atoms']:6d} atoms {rows[-1]['points']:6d} points "
              + " ".join(f"{v} {best[v]:.3f}s" for v in variants), flush=True)  # fmt: skip
    medians = {v: statistics.median(r[v] for r in rows) for v in variants}
    ratios = {v: statistics.median(r[v] / r[variants[0]] for r in rows) for v in variants}
    return {"structures": len(rows), "median_seconds": medians, "median_ratio_to_first": ratios, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h5", type=Path, default=Path("data/04_h5/training_set.h5"))
    parser.add_argument("--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "data/01_raw")))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--variants", default="mlp,ctx1")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("/tmp/pocknet_context"))
    parser.add_argument("--time-only", action="store_true")
    parser.add_argument("--train-only", action="store_true")
    args = parser.parse_args()
    variants = args.variants.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {"training": {}}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}, torch {torch.__version__}"
    if not args.time_only:
        for v in variants:
            results["training"][v] = train(v, args.h5, args.epochs, args.out)
            print(json.dumps(results["training"][v]), flush=True)
            results_path.write_text(json.dumps(results, indent=1))
    if not args.train_only:
        results["predict"] = time_predict(variants, args.out, args.datasets, args.repeats)
        results_path.write_text(json.dumps(results, indent=1))
        print(json.dumps({k: v for k, v in results["predict"].items() if k != "rows"}, indent=1))
    print(f"results: {results_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
