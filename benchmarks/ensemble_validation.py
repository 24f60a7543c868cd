"""Validation only: does averaging several seeds' models beat one? (issue #14, point 3)

For each ensemble size k (the first k model files given, in order), the mean of the models' raw
point probabilities is clustered exactly as the finalize stage does it: every (seed, second)
pair of the ``pockets`` candidates in params.yaml is stacked (no point threshold among the seeds:
an average of models has none)
(:func:`pocknet.predict.seed_threshold.seed_threshold_table`) and the best validation DCA top-n
is kept (:func:`~pocknet.predict.seed_threshold.choose_seed_thresholds`). Each ensemble at its
own choice, and each model alone at the thresholds in its file (its finalize stage's choice), is
compared ligand by ligand with the first model, with the exact McNemar test. Compare an ensemble
with its members' spread, not with one seed: seeds alone differ by a few points here. Reads only the
validation split; chooses and ships nothing.

Usage: python benchmarks/ensemble_validation.py MODEL [MODEL ...] [--params params.yaml]
       [--features data/02_features/proteins] [--splits data/04_h5/splits.csv]
   e.g. python benchmarks/ensemble_validation.py benchmarks/seeds/seed-*/data/05_models/final_model.pt
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from validation_pockets import add_data_arguments, pocket_hits, raw_predictor, scored_proteins, validation_ids

from pocknet.evaluate.stats import mcnemar
from pocknet.featurize.features import ProteinFeatures
from pocknet.predict.predictor import Predictor
from pocknet.predict.seed_threshold import choose_seed_thresholds, seed_threshold_pairs, seed_threshold_table


class CachedScores:
    """Duck-types the parts of a Predictor the finalize stage's seed table uses; ``score`` is looked up."""

    def __init__(self, scores: dict[int, np.ndarray], like: Predictor) -> None:
        self.scores, self.pocket_config, self.featurize_config = (
            scores,
            like.pocket_config,
            like.featurize_config,
        )

    def score(self, features: ProteinFeatures) -> np.ndarray:
        return self.scores[id(features)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    add_data_arguments(parser)
    args = parser.parse_args()
    predictors = [raw_predictor(model) for model in args.models]
    if any(p.featurize_config != predictors[0].featurize_config for p in predictors):
        raise SystemExit("the models were featurised differently; an ensemble needs one feature set")
    scored = list(scored_proteins(predictors[0], validation_ids(args.splits), args.features, "validation"))
    scores = [[protein.probabilities for protein in scored]]
    scores += [[p.score(protein.features) for protein in scored] for p in predictors[1:]]
    rows, reference = [], None
    for model, predictor, probabilities in zip(args.models, predictors, scores):
        seed = predictor.pocket_config.seed_for(predictor.bundle.threshold)
        own = [protein._replace(probabilities=q) for protein, q in zip(scored, probabilities)]
        result = pocket_hits(own, predictor.pocket_config, seed)
        reference = reference or result
        rows.append(_row(str(model), seed,
                         predictor.pocket_config.second_seed_for(seed), result, reference))  # fmt: skip
    candidates = yaml.safe_load(args.params.read_text())["pockets"]
    pairs = seed_threshold_pairs(candidates["seed_threshold_candidates"],
                                 [None, *candidates["second_seed_threshold_candidates"]])  # fmt: skip
    loaders = {protein.protein: (lambda f=protein.features: f) for protein in scored}
    for k in range(2, len(predictors) + 1):
        mean = [np.mean(per_protein, axis=0) for per_protein in zip(*scores[:k])]
        ensemble = CachedScores({id(protein.features): q for protein, q in zip(scored, mean)}, predictors[0])
        seed, second = choose_seed_thresholds(seed_threshold_table(ensemble, loaders, list(loaders), pairs))
        config = dataclasses.replace(
            predictors[0].pocket_config, second_seed_threshold="none" if second is None else second
        )
        averaged = [protein._replace(probabilities=q) for protein, q in zip(scored, mean)]
        rows.append(
            _row(f"mean of the first {k}", seed, second, pocket_hits(averaged, config, seed), reference)
        )
    print(
        f"validation: {len(scored)} proteins with ligands, {reference[0].size} ligands; tests against the first model"
    )
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    return 0


def _row(name: str, seed: float, second: float | None, result: tuple, reference: tuple) -> dict:
    (per_ligand, top1), (ref_ligand, ref_top1) = result, reference
    test_n, test_1 = mcnemar(ref_ligand, per_ligand), mcnemar(ref_top1, top1)
    return {"model": name, "seed": seed, "second": second, "dca_top_n": per_ligand.mean(),
            "success_at_1": top1.mean(), "only_first_model": test_n["only_first"], "only_this": test_n["only_second"],
            "p_top_n": test_n["p_value"], "p_success_at_1": test_1["p_value"]}  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
