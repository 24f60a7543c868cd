"""Two model files on the validation proteins, ligand by ligand: DCA top-n and an exact McNemar test.

Each model clusters its raw point probabilities at its own pocket seed threshold (the number in its
file, chosen by its finalize stage on these proteins), exactly as the finalize stage's seed table
does, so each model's rate equals the best row of its own ``seed_thresholds.csv``. Reads only the
validation split of ``data/04_h5/splits.csv``; never a test or external set.

Usage: python benchmarks/compare_validation_pockets.py MODEL_A MODEL_B [--features data/02_features/proteins]
       [--splits data/04_h5/splits.csv]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.evaluate.stats import mcnemar
from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.feature_files import load_features
from pocknet.featurize.features import relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins, ligand_success
from pocknet.predict.pockets import find_pockets
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress


def ligand_hits(
    model: Path, features_dir: Path, protein_ids: list[str]
) -> tuple[np.ndarray, np.ndarray, float]:
    """(per-ligand DCA top-n hits, per-protein success@1, seed threshold), in ``protein_ids`` order."""
    loaded = Predictor(model, predicted_model=None)
    predictor = Predictor(
        bundle=loaded.bundle.replace(calibration=None)
    )  # pockets come from raw probabilities
    config = predictor.pocket_config
    seed = config.seed_for(predictor.bundle.threshold)
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    hits, top1 = [], []
    for pid in progress(protein_ids, total=len(protein_ids), desc=model.name, unit="protein"):
        features = load_features(features_dir / f"{pid}.npz")
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        pockets = find_pockets(features.points, probabilities, seed, features.atom_coords,
                               features.atom_residue, exposed, config)  # fmt: skip
        centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
        entry = evaluate_proteins([{"protein": pid, "centres": centres, "ligands": ligands}])["per_protein"][
            0
        ]
        ranks = np.asarray(entry["ranks_dca"])
        hits.append(ligand_success(ranks, len(ligands)))
        top1.append(bool(np.any(ranks == 1)))
    return np.concatenate(hits), np.asarray(top1), seed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_a", type=Path)
    parser.add_argument("model_b", type=Path)
    parser.add_argument("--features", type=Path, default=Path("data/02_features/proteins"))
    parser.add_argument("--splits", type=Path, default=Path("data/04_h5/splits.csv"))
    args = parser.parse_args()
    splits = pd.read_csv(args.splits)
    validation = sorted(splits.loc[splits["split"] == "val", "protein"])
    results = {}
    for name, model in (("A", args.model_a), ("B", args.model_b)):
        hits, top1, seed = ligand_hits(model, args.features, validation)
        results[name] = {"model": str(model), "seed_threshold": seed, "ligands": int(hits.size),
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
