"""Two model files on the validation proteins, ligand by ligand: DCA top-n and an exact McNemar test.

Each model clusters its raw point probabilities at its own pocket seed thresholds (the numbers in
its file, seed and second level, chosen by its finalize stage or by ``choose_pocket_seeds.py`` on
these proteins), exactly as the finalize stage's seed table does, so each model's rate equals the
best row of its own ``seed_thresholds.csv``. Reads only the validation split of
``data/04_h5/splits.csv``; never a test or external set.

Usage: python benchmarks/compare_validation_pockets.py MODEL_A MODEL_B [--features data/02_features/proteins]
       [--splits data/04_h5/splits.csv]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from validation_pockets import add_data_arguments, pocket_hits, raw_predictor, scored_proteins, validation_ids

from pocknet.evaluate.stats import mcnemar


def ligand_hits(
    model: Path, features_dir: Path, protein_ids: list[str]
) -> tuple[np.ndarray, np.ndarray, float, float | None]:
    """(per-ligand DCA top-n hits, per-protein success@1, seed, second threshold), in ``protein_ids`` order."""
    predictor = raw_predictor(model)
    config = predictor.pocket_config
    seed = config.seed_for(predictor.bundle.threshold)
    proteins = list(scored_proteins(predictor, protein_ids, features_dir, model.name))
    return (*pocket_hits(proteins, config, seed), seed, config.second_seed_for(seed))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_a", type=Path)
    parser.add_argument("model_b", type=Path)
    add_data_arguments(parser)
    args = parser.parse_args()
    validation = validation_ids(args.splits)
    results = {}
    for name, model in (("A", args.model_a), ("B", args.model_b)):
        hits, top1, seed, second = ligand_hits(model, args.features, validation)
        results[name] = {"model": str(model), "seed_threshold": seed, "second_seed_threshold": second,
                         "ligands": int(hits.size),
                         "dca_top_n": float(hits.mean()), "proteins": int(top1.size),
                         "success_at_1": float(top1.mean()), "hits": hits, "top1": top1}  # fmt: skip
    a, b = results["A"], results["B"]
    report = {name: {k: v for k, v in r.items() if k not in ("hits", "top1")} for name, r in results.items()}
    report["mcnemar_dca_top_n"] = mcnemar(a["hits"], b["hits"], ("A", "B"))
    report["mcnemar_success_at_1"] = mcnemar(a["top1"], b["top1"], ("A", "B"))
    print(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
