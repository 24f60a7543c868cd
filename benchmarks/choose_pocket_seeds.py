"""Validation only: give an existing model file the finalize stage's choice of pocket seed thresholds.

Runs exactly what the finalize stage runs (:func:`pocknet.predict.seed_threshold.resolve_seed_threshold`)
on the model's raw probabilities, with ``seed_threshold`` and ``second_seed_threshold`` both left to
validation, and writes a copy of the model with the chosen numbers. Calibration is left out of the
copy (it was fitted to the old pockets), so compare copies with
``benchmarks/compare_validation_pockets.py``, which reads raw probabilities only. Lets a model from
an earlier run (e.g. ``benchmarks/models/pocknet_context_seeded.pt``) be compared at its own
validation choices without retraining.

Usage: python benchmarks/choose_pocket_seeds.py MODEL OUT.pt [--table OUT.csv] [--params params.yaml]
       [--features data/02_features/proteins] [--splits data/04_h5/splits.csv]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import yaml
from validation_pockets import add_data_arguments, raw_predictor

from pocknet.featurize.feature_files import load_features
from pocknet.model.files import save_model
from pocknet.predict.seed_threshold import resolve_seed_threshold


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--table", type=Path, help="write the validation table here")
    parser.add_argument(
        "--params", type=Path, default=Path("params.yaml"), help="candidates from its pockets block"
    )
    add_data_arguments(parser)
    args = parser.parse_args()
    bundle = raw_predictor(args.model).bundle
    candidates = yaml.safe_load(args.params.read_text())["pockets"]
    pockets = {**bundle.pockets, "seed_threshold": "validation", "second_seed_threshold": "validation"}
    for key in ("seed_threshold_candidates", "second_seed_threshold_candidates"):
        pockets[key] = candidates[key]
    splits = pd.read_csv(args.splits)
    ids = splits.loc[splits["split"] == "val", "protein"]
    features = {pid: (lambda pid=pid: load_features(args.features / f"{pid}.npz")) for pid in ids}
    chosen, table = resolve_seed_threshold(bundle, features, splits, pockets)
    save_model(bundle.replace(pockets=chosen), args.out)
    if args.table:
        table.to_csv(args.table, index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"chosen: seed {chosen['seed_threshold']}, second {chosen['second_seed_threshold']} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
