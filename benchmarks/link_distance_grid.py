"""Validation only: each model's DCA top-n over a grid of single-linkage distances × seed thresholds.

Asks whether a pocket former that links less (or more) would serve a model better. Reads the
validation split of ``data/04_h5/splits.csv`` and the feature files; chooses nothing (the result
goes to RESULTS.md; ``pockets.link_distance`` changes only through params.yaml and the finalize
stage). Pockets come from each model's raw probabilities, as in the finalize stage's seed table,
on one level (the grid is about linking, not about a second seed level).

Usage: python benchmarks/link_distance_grid.py MODEL [MODEL ...] [--links 1.5 2 2.5 3 4]
       [--seeds 0.9 0.95 0.97 0.98 0.99] [--out grid.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
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

from pocknet.predict.pockets import find_pockets


def grid(
    model: Path, protein_ids: list[str], features_dir: Path, links: list[float], seeds: list[float]
) -> list[dict]:
    """One row per (link distance, seed threshold): DCA top-n, top-(n+2), success@1, mean pockets."""
    predictor = raw_predictor(model)
    configs = {
        link: dataclasses.replace(predictor.pocket_config, link_distance=link, second_seed_threshold="none")
        for link in links
    }
    records: dict[tuple[float, float], list[dict]] = {(link, seed): [] for link in links for seed in seeds}
    for protein in scored_proteins(predictor, protein_ids, features_dir, model.name):
        features = protein.features
        for (link, seed), rows in records.items():
            pockets = find_pockets(features.points, protein.probabilities, seed, features.atom_coords,
                                   features.atom_residue, protein.exposed, configs[link])  # fmt: skip
            rows.append(record(protein, pockets))
    return [{"model": str(model), "link_distance": link, "seed_threshold": seed, **summary_row(rows)}
            for (link, seed), rows in records.items()]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--links", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 4.0])
    parser.add_argument("--seeds", type=float, nargs="+", default=[0.9, 0.95, 0.97, 0.98, 0.99])
    parser.add_argument("--out", type=Path, default=None)
    add_data_arguments(parser)
    args = parser.parse_args()
    validation = validation_ids(args.splits)
    table = [
        row for model in args.models for row in grid(model, validation, args.features, args.links, args.seeds)
    ]
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        args.out.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
