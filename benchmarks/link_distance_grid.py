"""Validation only: each model's DCA top-n over a grid of single-linkage distances × seed thresholds.

Asks whether a pocket former that links less (or more) would serve a model better. Reads the
validation split of ``data/04_h5/splits.csv`` and the feature files; chooses nothing (the result
goes to RESULTS.md; ``pockets.link_distance`` changes only through params.yaml and the finalize
stage). Pockets come from each model's raw probabilities, as in the finalize stage's seed table.

Usage: python benchmarks/link_distance_grid.py MODEL [MODEL ...] [--links 1.5 2 2.5 3 4]
       [--seeds 0.9 0.95 0.97 0.98 0.99] [--out grid.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.feature_files import load_features
from pocknet.featurize.features import relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins
from pocknet.predict.pockets import find_pockets
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress


def grid(
    model: Path, protein_ids: list[str], features_dir: Path, links: list[float], seeds: list[float]
) -> list[dict]:
    """One row per (link distance, seed threshold): DCA top-n, top-(n+2), success@1, mean pockets."""
    loaded = Predictor(model, predicted_model=None)
    predictor = Predictor(bundle=loaded.bundle.replace(calibration=None))
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    configs = {link: dataclasses.replace(predictor.pocket_config, link_distance=link) for link in links}
    records: dict[tuple[float, float], list[dict]] = {(link, seed): [] for link in links for seed in seeds}
    for pid in progress(protein_ids, total=len(protein_ids), desc=model.name, unit="protein"):
        features = load_features(features_dir / f"{pid}.npz")
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        for (link, seed), rows in records.items():
            pockets = find_pockets(features.points, probabilities, seed, features.atom_coords,
                                   features.atom_residue, exposed, configs[link])  # fmt: skip
            centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
            rows.append({"protein": pid, "centres": centres, "ligands": ligands})
    table = []
    for (link, seed), rows in records.items():
        result = evaluate_proteins(rows)
        table.append({"model": str(model), "link_distance": link, "seed_threshold": seed,
                      **{k: result[k] for k in ("dca_top_n", "dca_top_n2", "dca_success_at_1", "n_ligands")},
                      "mean_pockets": float(np.mean([len(r["centres"]) for r in rows]))})  # fmt: skip
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--links", type=float, nargs="+", default=[1.5, 2.0, 2.5, 3.0, 4.0])
    parser.add_argument("--seeds", type=float, nargs="+", default=[0.9, 0.95, 0.97, 0.98, 0.99])
    parser.add_argument("--features", type=Path, default=Path("data/02_features/proteins"))
    parser.add_argument("--splits", type=Path, default=Path("data/04_h5/splits.csv"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    splits = pd.read_csv(args.splits)
    validation = sorted(splits.loc[splits["split"] == "val", "protein"])
    table = [
        row for model in args.models for row in grid(model, validation, args.features, args.links, args.seeds)
    ]
    frame = pd.DataFrame(table)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.out:
        args.out.write_text(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
