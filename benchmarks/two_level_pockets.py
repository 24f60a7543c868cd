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
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.feature_files import load_features
from pocknet.featurize.features import relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins
from pocknet.predict.pockets import find_pockets
from pocknet.predict.prediction import Pocket
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress


def two_level(first: list[Pocket], second: list[Pocket], n_points: int) -> list[Pocket]:
    """``first`` as it is, then the pockets of ``second`` that share no point with ``first``, by score."""
    taken = np.zeros(n_points, dtype=bool)
    for pocket in first:
        taken[pocket.point_indices] = True
    extra = sorted((p for p in second if not taken[p.point_indices].any()), key=lambda p: -p.score)
    return [*first, *extra]


def grid(
    model: Path, protein_ids: list[str], features_dir: Path, highs: list[float], lows: list[float]
) -> list[dict]:
    predictor = Predictor(bundle=Predictor(model, predicted_model=None).bundle.replace(calibration=None))
    config = predictor.pocket_config
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    pairs = [(high, low) for high in highs for low in lows if low < high]
    records: dict[tuple[float, float], list[dict]] = {pair: [] for pair in pairs}
    for pid in progress(protein_ids, total=len(protein_ids), desc=model.name, unit="protein"):
        features = load_features(features_dir / f"{pid}.npz")
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        seeded = {t: find_pockets(features.points, probabilities, t, features.atom_coords, features.atom_residue,
                                  exposed, config) for t in {*highs, *lows}}  # fmt: skip
        for high, low in pairs:
            pockets = two_level(seeded[high], seeded[low], len(features.points))
            centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
            records[(high, low)].append({"protein": pid, "centres": centres, "ligands": ligands})
    table = []
    for (high, low), rows in records.items():
        result = evaluate_proteins(rows)
        table.append({"model": model.name, "high": high, "low": low,
                      **{k: result[k] for k in ("dca_top_n", "dca_top_n2", "dca_success_at_1", "n_ligands")},
                      "mean_pockets": float(np.mean([len(r["centres"]) for r in rows]))})  # fmt: skip
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--highs", type=float, nargs="+", default=[0.97, 0.98])
    parser.add_argument("--lows", type=float, nargs="+", default=[0.5, 0.7, 0.8, 0.9, 0.95])
    parser.add_argument("--features", type=Path, default=Path("data/02_features/proteins"))
    parser.add_argument("--splits", type=Path, default=Path("data/04_h5/splits.csv"))
    args = parser.parse_args()
    splits = pd.read_csv(args.splits)
    validation = sorted(splits.loc[splits["split"] == "val", "protein"])
    table = [
        row for model in args.models for row in grid(model, validation, args.features, args.highs, args.lows)
    ]
    print(pd.DataFrame(table).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
