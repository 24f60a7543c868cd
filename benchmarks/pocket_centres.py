"""Where should a pocket's centre be? Other centre rules on the *training* proteins only.

DCA counts a ligand found when a pocket *centre* lies within 4 Å of it, so the centre rule bounds
what any ranking can reach. For the shipped model's pockets (its seed thresholds, Σ p² order) on
the training proteins with a relevant ligand, this prints, per centre rule, the share of ligands
with any pocket centre within 4 Å (the ceiling) and DCA top-n in Σ p² order. Training proteins
only: a groundwork study that chooses nothing; a rule worth having is then read on validation once.

Usage: python benchmarks/pocket_centres.py MODEL [--features data/02_features/proteins] [--splits data/04_h5/splits.csv]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from validation_pockets import add_data_arguments, raw_predictor, scored_proteins

from pocknet.metrics.pockets import evaluate_proteins
from pocknet.predict.pockets import find_pockets

RULES = ("core mean (shipped)", "p²-weighted mean of the grown pocket", "mean of its 5 most probable points")


def centres(pockets, points: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    out: dict[str, list[np.ndarray]] = {rule: [] for rule in RULES}
    for pocket in pockets:
        index = pocket.point_indices
        weights = probabilities[index] ** 2
        top = index[np.argsort(-probabilities[index], kind="stable")[:5]]
        out[RULES[0]].append(pocket.centre)
        out[RULES[1]].append(weights @ points[index] / max(weights.sum(), 1e-12))
        out[RULES[2]].append(points[top].mean(axis=0))
    return {rule: np.stack(c) if c else np.zeros((0, 3)) for rule, c in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    add_data_arguments(parser)
    args = parser.parse_args()
    table = pd.read_csv(args.splits)
    train = sorted(table.loc[table["split"] == "train", "protein"])
    predictor = raw_predictor(args.model)
    config = predictor.pocket_config
    seed = config.seed_for(predictor.bundle.threshold)
    rows: dict[str, list[dict]] = {rule: [] for rule in RULES}
    for protein in scored_proteins(predictor, train, args.features, "training proteins"):
        f = protein.features
        pockets = find_pockets(f.points, protein.probabilities, seed, f.atom_coords, f.atom_residue,
                               protein.exposed, config)  # fmt: skip
        by_rule = centres(
            pockets, np.asarray(f.points, dtype=np.float64), protein.probabilities.astype(np.float64)
        )
        for rule, c in by_rule.items():
            rows[rule].append({"protein": protein.protein, "centres": c, "ligands": protein.ligands})
    for rule, records in rows.items():
        result = evaluate_proteins(records)
        ranks = np.concatenate([np.asarray(p["ranks_dca"]) for p in result["per_protein"]])
        print(f"{rule}: ligands {ranks.size}, found by any pocket {np.mean(ranks > 0):.4f}, "
              f"DCA top-n (Σ p² order) {result['dca_top_n']:.4f}, top-(n+2) {result['dca_top_n2']:.4f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
