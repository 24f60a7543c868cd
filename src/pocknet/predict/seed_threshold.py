"""The pocket seed thresholds, chosen on validation pockets (never on test or external sets).

The model's point threshold maximises validation IoU of *points*: a point-level question. Which
points should *seed* pockets is a pocket-level question, and the two answers differ: a threshold
that keeps only the surest points may leave a weaker binding site without any pocket at all, which
costs DCA top-n, while one that keeps too many merges neighbouring sites into one cluster whose
centre sits between them. A second, lower seed threshold (:func:`pocknet.predict.pockets.stack_levels`)
gives those weaker sites pockets ranked after the confident ones.

So the finalize stage scores every validation protein once, clusters its points at each candidate
threshold (``pockets.seed_threshold_candidates`` plus the point threshold, and the
``second_seed_threshold_candidates``), stacks every (seed, second) pair with second < seed or none,
and keeps the pair with the best validation DCA top-n (SCIENCE.md §8); ties go to DCA top-(n+2),
then success@1, then the higher seed, then no second level, then the higher second threshold
(fewer points to cluster, fewer pockets to read).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pocknet.errors import DatasetError
from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins
from pocknet.model.files import ModelBundle
from pocknet.predict.pockets import PocketConfig, find_pockets, stack_levels
from pocknet.progress import progress

if TYPE_CHECKING:
    from pocknet.predict.predictor import Predictor

__all__ = [
    "SEED_TABLE_COLUMNS",
    "candidate_thresholds",
    "choose_seed_thresholds",
    "resolve_seed_threshold",
    "seed_threshold_pairs",
    "seed_threshold_table",
]

log = logging.getLogger(__name__)

# second_threshold: NaN = one level
SEED_TABLE_COLUMNS = ("threshold", "second_threshold", "dca_top_n", "dca_top_n2", "dca_success_at_1", "mean_pockets",
                      "proteins", "ligands")  # fmt: skip
# Best first; "second_key" (none above any probability) breaks the last ties upward.
_CRITERIA = ("dca_top_n", "dca_top_n2", "dca_success_at_1", "threshold", "second_key")
Pair = tuple[float, "float | None"]


def candidate_thresholds(candidates: Sequence[float], point_threshold: float) -> np.ndarray:
    """The sorted, distinct candidates with the model's point threshold among them."""
    return np.unique(np.asarray([*candidates, point_threshold], dtype=np.float64))


def seed_threshold_pairs(seeds: Sequence[float], seconds: Sequence[float | None]) -> list[Pair]:
    """Distinct (seed, second) pairs; a second threshold at or above the seed means one level (None)."""
    pairs = {(float(h), None if low is None or low >= h else float(low)) for h in seeds for low in seconds}
    return sorted(pairs, key=lambda pair: (pair[0], -1.0 if pair[1] is None else pair[1]))


def seed_threshold_table(
    predictor: Predictor,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    protein_ids: Sequence[str],
    pairs: Sequence[Pair],
) -> pd.DataFrame:
    """Validation DCA success of the pockets each (seed, second) pair gives (one row per pair).

    Each protein is scored once and clustered once per distinct threshold; only the stacking is
    repeated. Proteins without a relevant ligand say nothing about where ligands bind and are left
    out, as in calibration.
    """
    records: dict[Pair, list[dict]] = {pair: [] for pair in pairs}
    one_level = dataclasses.replace(predictor.pocket_config, second_seed_threshold="none")
    thresholds = sorted({h for h, _ in pairs} | {low for _, low in pairs if low is not None})
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    for pid in progress(protein_ids, total=len(protein_ids), desc="seed thresholds", unit="protein"):
        features = protein_features[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        seeded = {t: find_pockets(features.points, probabilities, t, features.atom_coords, features.atom_residue,
                                  exposed, one_level) for t in thresholds}  # fmt: skip
        for (high, low), rows in records.items():
            pockets = (
                seeded[high] if low is None else stack_levels(seeded[high], seeded[low], len(features.points))
            )
            centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
            rows.append({"protein": pid, "centres": centres, "ligands": ligands})
    table = []
    for (high, low), rows in records.items():
        result = evaluate_proteins(rows)
        table.append({
            "threshold": high,
            "second_threshold": np.nan if low is None else low,
            **{key: result[key] for key in ("dca_top_n", "dca_top_n2", "dca_success_at_1")},
            "mean_pockets": float(np.mean([len(r["centres"]) for r in rows])) if rows else float("nan"),
            "proteins": result["n_proteins"],
            "ligands": result["n_ligands"],
        })  # fmt: skip
    return pd.DataFrame(table, columns=list(SEED_TABLE_COLUMNS))


def choose_seed_thresholds(table: pd.DataFrame) -> Pair:
    """(seed, second or None) of the best row (module docstring); DatasetError when nothing was evaluated."""
    usable = table.dropna(subset=["dca_top_n"])
    if usable.empty:
        raise DatasetError(
            "no validation protein with a relevant ligand: cannot choose the pocket seed thresholds"
        )
    usable = usable.assign(second_key=usable["second_threshold"].fillna(2.0))
    best = usable.sort_values(list(_CRITERIA), ascending=False, kind="stable").iloc[0]
    second = best["second_threshold"]
    return float(best["threshold"]), None if np.isnan(second) else float(second)


def resolve_seed_threshold(
    bundle: ModelBundle,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    pockets: Mapping[str, Any],
) -> tuple[dict[str, Any], pd.DataFrame]:
    """(``pockets`` with numbers for what was ``validation``, the validation table that chose them).

    ``splits``: the h5_assembly split table; its ``val`` proteins are the only ones read.

    ``seed_threshold`` and ``second_seed_threshold`` are resolved when either is ``validation``
    (the other one's setting is then the only candidate); otherwise the settings pass through with
    an empty table. An unchosen second level is written as ``none``.
    """
    from pocknet.predict.predictor import Predictor

    config = PocketConfig.from_params(pockets)
    seed_open, second_open = (
        config.seed_threshold == "validation",
        config.second_seed_threshold == "validation",
    )
    if not (seed_open or second_open):
        return dict(pockets), pd.DataFrame(columns=list(SEED_TABLE_COLUMNS))
    seeds = candidate_thresholds(config.seed_threshold_candidates, bundle.threshold) if seed_open \
        else [config.seed_for(bundle.threshold)]  # fmt: skip
    seconds = [None, *config.second_seed_threshold_candidates] if second_open \
        else [config.second_seed_threshold if isinstance(config.second_seed_threshold, float) else None]  # fmt: skip
    predictor = Predictor(bundle=bundle.replace(pockets=dict(pockets), calibration=None))
    validation_ids = sorted(splits.loc[splits["split"] == "val", "protein"])
    table = seed_threshold_table(
        predictor, protein_features, validation_ids, seed_threshold_pairs(seeds, seconds)
    )
    seed, second = choose_seed_thresholds(table)
    best = table.loc[(table["threshold"] == seed) & (
        table["second_threshold"].isna() if second is None else table["second_threshold"] == second)].iloc[0]  # fmt: skip
    log.info("pocket seed threshold %.4g, second level %s (validation DCA top-n %.3f over %d ligands; point "
             "threshold %.4g)", seed, "none" if second is None else f"{second:.4g}", best["dca_top_n"],
             best["ligands"], bundle.threshold)  # fmt: skip
    chosen = {"seed_threshold": seed, "second_seed_threshold": "none" if second is None else second}
    return {**pockets, **chosen}, table
