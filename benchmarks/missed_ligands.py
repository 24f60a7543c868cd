"""Validation only: for two models, which ligands each finds (DCA top-n), and why the other misses them.

For every relevant ligand of the validation proteins: found within top-n by model A / B; for a
miss, whether any of that model's pockets is within 4 Å at all (a ranking miss) or none is (a
detection miss); the ligand's heavy-atom count and its protein's ligand count. Pockets come from each
model's raw probabilities at its own seed threshold, as in the finalize stage. Chooses nothing.

Usage: python benchmarks/missed_ligands.py MODEL_A MODEL_B [--out ligands.csv]
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
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress


def _raw_predictor(model: Path) -> Predictor:
    loaded = Predictor(model, predicted_model=None)
    return Predictor(bundle=loaded.bundle.replace(calibration=None))


def ligand_table(models: dict[str, Path], features_dir: Path, protein_ids: list[str]) -> pd.DataFrame:
    predictors = {name: _raw_predictor(path) for name, path in models.items()}
    rows = []
    for pid in progress(protein_ids, total=len(protein_ids), desc="ligands", unit="protein"):
        features = load_features(features_dir / f"{pid}.npz")
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        per_ligand = [{"protein": pid, "ligand": i, "atoms": len(lig), "ligands_in_protein": len(ligands)}
                      for i, lig in enumerate(ligands)]  # fmt: skip
        for name, predictor in predictors.items():
            seed = predictor.pocket_config.seed_for(predictor.bundle.threshold)
            probabilities = predictor.score(features)
            exposed = exposed_atoms(features.points, features.atom_coords,
                                    predictor.featurize_config.descriptors.exposed_distance)  # fmt: skip
            pockets = find_pockets(features.points, probabilities, seed, features.atom_coords,
                                   features.atom_residue, exposed, predictor.pocket_config)  # fmt: skip
            centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
            ranks = evaluate_proteins([{"protein": pid, "centres": centres, "ligands": ligands}])[
                "per_protein"
            ][0]["ranks_dca"]
            for row, rank in zip(per_ligand, ranks):
                row[f"{name}_rank"] = rank  # 0: no pocket within 4 Å
                row[f"{name}_hit"] = 1 <= rank <= len(ligands)
                row[f"{name}_pockets"] = len(pockets)
        rows.extend(per_ligand)
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame, a: str, b: str) -> str:
    lines = []
    for winner, loser in ((a, b), (b, a)):
        only = table[table[f"{winner}_hit"] & ~table[f"{loser}_hit"]]
        ranked_low = int((only[f"{loser}_rank"] > 0).sum())
        lines.append(f"found by {winner} only: {len(only)}; {loser} has a pocket on it at a lower rank for {ranked_low}, "
                     f"none at all for {len(only) - ranked_low}; median atoms {only['atoms'].median():.0f} "
                     f"(all ligands {table['atoms'].median():.0f}); in proteins with >1 ligand: "
                     f"{int((only['ligands_in_protein'] > 1).sum())}")  # fmt: skip
    for size, part in table.groupby(pd.cut(table["atoms"], [0, 10, 20, 40, 10_000])):
        lines.append(f"ligands of {size} atoms: {len(part)}; DCA top-n {a} {part[f'{a}_hit'].mean():.3f}, "
                     f"{b} {part[f'{b}_hit'].mean():.3f}")  # fmt: skip
    for multi, part in table.groupby(table["ligands_in_protein"] > 1):
        lines.append(f"{'proteins with several ligands' if multi else 'single-ligand proteins'}: {len(part)} ligands; "
                     f"{a} {part[f'{a}_hit'].mean():.3f}, {b} {part[f'{b}_hit'].mean():.3f}")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_a", type=Path)
    parser.add_argument("model_b", type=Path)
    parser.add_argument("--features", type=Path, default=Path("data/02_features/proteins"))
    parser.add_argument("--splits", type=Path, default=Path("data/04_h5/splits.csv"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    splits = pd.read_csv(args.splits)
    validation = sorted(splits.loc[splits["split"] == "val", "protein"])
    table = ligand_table({"A": args.model_a, "B": args.model_b}, args.features, validation)
    if args.out:
        table.to_csv(args.out, index=False)
    print(summary(table, "A", "B"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
