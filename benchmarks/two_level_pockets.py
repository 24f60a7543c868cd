"""Validation only: a two-level pocket former, for each model over a grid of (high, low) thresholds.

Pockets seeded at the high threshold come first, in score order, as today; then the pockets
seeded at the low threshold whose grown points share none with them, ranked after, by score. So a
secondary site whose probabilities never reach the high threshold still gets a pocket, without
blurring the main ones (which a single low threshold does). Pockets come from each model's raw
probabilities and its own pocket settings otherwise. Reads the validation split only; chooses
nothing (results go to RESULTS.md).

Usage: python benchmarks/two_level_pockets.py MODEL [MODEL ...] [--highs 0.97 0.98]
       [--lows 0.5 0.7 0.8 0.9 0.95]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd
from validation_pockets import (
    add_data_arguments,
    raw_predictor,
    record,
    scored_proteins,
    summary_row,
    validation_ids,
)

from pocknet.predict.pockets import find_pockets, stack_levels


def grid(
    model: Path, protein_ids: list[str], features_dir: Path, highs: list[float], lows: list[float]
) -> list[dict]:
    """One row per (high, low) pair with low < high: DCA top-n, top-(n+2), success@1, mean pockets."""
    predictor = raw_predictor(model)
    config = dataclasses.replace(
        predictor.pocket_config, second_seed_threshold="none"
    )  # the grid stacks itself
    pairs = [(high, low) for high in highs for low in lows if low < high]
    records: dict[tuple[float, float], list[dict]] = {pair: [] for pair in pairs}
    for protein in scored_proteins(predictor, protein_ids, features_dir, model.name):
        features = protein.features
        seeded = {t: find_pockets(features.points, protein.probabilities, t, features.atom_coords,
                                  features.atom_residue, protein.exposed, config) for t in {*highs, *lows}}  # fmt: skip
        for high, low in pairs:
            records[(high, low)].append(
                record(protein, stack_levels(seeded[high], seeded[low], len(features.points)))
            )
    return [
        {"model": model.name, "high": high, "low": low, **summary_row(rows)}
        for (high, low), rows in records.items()
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--highs", type=float, nargs="+", default=[0.97, 0.98])
    parser.add_argument("--lows", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95])
    add_data_arguments(parser)
    args = parser.parse_args()
    validation = validation_ids(args.splits)
    table = [
        row for model in args.models for row in grid(model, validation, args.features, args.highs, args.lows)
    ]
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
