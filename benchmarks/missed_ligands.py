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

import pandas as pd
from validation_pockets import add_data_arguments, dca_ranks, raw_predictor, scored_proteins, validation_ids

from pocknet.predict.pockets import find_pockets


def ligand_table(models: dict[str, Path], features_dir: Path, protein_ids: list[str]) -> pd.DataFrame:
    """One row per relevant validation ligand: its size, and per model its DCA rank and hit."""
    rows: dict[tuple[str, int], dict] = {}
    for name, model in models.items():
        predictor = raw_predictor(model)
        config = predictor.pocket_config
        seed = config.seed_for(predictor.bundle.threshold)
        for protein in scored_proteins(predictor, protein_ids, features_dir, model.name):
            features = protein.features
            pockets = find_pockets(features.points, protein.probabilities, seed, features.atom_coords,
                                   features.atom_residue, protein.exposed, config)  # fmt: skip
            n = len(protein.ligands)
            for i, (ligand, rank) in enumerate(zip(protein.ligands, dca_ranks(protein, pockets))):
                row = rows.setdefault((protein.protein, i), {"protein": protein.protein, "ligand": i,
                                                             "atoms": len(ligand), "ligands_in_protein": n})  # fmt: skip
                row[f"{name}_rank"] = int(rank)  # 0: no pocket within 4 Å
                row[f"{name}_hit"] = 1 <= rank <= n
                row[f"{name}_pockets"] = len(pockets)
    return pd.DataFrame(list(rows.values()))


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
    parser.add_argument("--out", type=Path, default=None)
    add_data_arguments(parser)
    args = parser.parse_args()
    validation = validation_ids(args.splits)
    table = ligand_table({"A": args.model_a, "B": args.model_b}, args.features, validation)
    if args.out:
        table.to_csv(args.out, index=False)
    print(summary(table, "A", "B"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
