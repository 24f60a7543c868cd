"""Evaluate predicted pockets against relevant ligands, per evaluation set (SCIENCE.md §8).

A *set* is the dataset path of a protein id (``bu48/holo``, ``bu48/apo``,
``coach420``). Holo proteins use their own relevant ligands; apo proteins use
the ligands of their holo partner carried over by superposition
(:mod:`pocknet.evaluate.apo`). Any method's pockets can be scored the same way: ours
from ``pockets.csv``, P2Rank's from its published ``*_predictions.csv``
(:mod:`pocknet.evaluate.readers`), any tool's with ``pocknet evaluate``
(:mod:`pocknet.evaluate.command`), all through :func:`evaluate_set`.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from pocknet.evaluate.apo import transfer_ligands
from pocknet.evaluate.readers import read_p2rank_centres
from pocknet.errors import PockNetError
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.featurize.labels import NEUTRAL, ligand_distances, point_labels
from pocknet.metrics.pockets import STANDARD_CUTOFF, evaluate_proteins, success_curve
from pocknet.metrics.points import point_metrics
from pocknet.structure.reader import load_structure

__all__ = [
    "set_of",
    "read_p2rank_centres",
    "apo_ligands",
    "evaluation_labels",
    "pocket_records",
    "evaluate_set",
]

log = logging.getLogger(__name__)


def set_of(protein_id: str) -> str:
    """``bu48/holo/1a6w.pdb`` → ``bu48/holo``; ``coach420/1a26A.pdb`` → ``coach420``."""
    return str(PurePosixPath(protein_id).parent)


def apo_ligands(apo_features: ProteinFeatures, holo_path: str | Path) -> list[np.ndarray]:
    """The holo partner's relevant ligands, superposed into the apo frame."""
    apo = load_structure(apo_features.source)
    holo = load_structure(holo_path)
    ligands, _ = transfer_ligands(apo, holo)
    return ligands


def evaluation_labels(
    features: ProteinFeatures,
    ligands_of: Callable[[str], list[np.ndarray]],
    label_params: Mapping[str, Any],
) -> np.ndarray:
    """Point labels against the ligands a protein is evaluated on (SCIENCE.md §4).

    The same ligands as the pocket metrics: a holo protein's own relevant ligands (which
    reproduces its feature-file labels), an apo protein's superposed holo ligands (its own
    file has none). All neutral, i.e. left out, when there is nothing to evaluate against.
    """
    try:
        ligands = ligands_of(features.id)
    except PockNetError:
        return np.full(features.n_points, NEUTRAL, dtype=np.int8)
    distances = ligand_distances(features.points, ligands)
    return point_labels(distances, label_params["positive_distance"], label_params.get("neutral_distance"))


def pocket_records(
    proteins: Iterable[str],
    centres_of: Callable[[str], np.ndarray],
    ligands_of: Callable[[str], list[np.ndarray]],
) -> list[dict[str, Any]]:
    """Records for :func:`pocknet.metrics.pockets.evaluate_proteins`; proteins whose ligands fail are skipped, logged."""
    records = []
    for pid in proteins:
        try:
            ligands = ligands_of(pid)
        except PockNetError as exc:
            log.warning("%s: no ligands to evaluate against (%s)", pid, exc)
            continue
        records.append({"protein": pid, "centres": centres_of(pid), "ligands": ligands})
    return records


def evaluate_set(
    records: list[dict[str, Any]],
    cutoffs: np.ndarray,
    points: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    threshold: float | None = None,
    cutoff: float = STANDARD_CUTOFF,
) -> tuple[dict[str, Any], pd.DataFrame, np.ndarray]:
    """(metrics, per-protein table, DCA success curve) of one set; point metrics when ``points`` given.

    The one pocket evaluator: the reporting stage and ``pocknet evaluate`` both score here.
    """
    result = evaluate_proteins(records, cutoff=cutoff)
    per_protein = pd.DataFrame(result.pop("per_protein"))
    metrics = {k: v for k, v in result.items() if not isinstance(v, (list, dict))}
    if points is not None and threshold is not None:
        labels, scores, protein = points
        for key, value in point_metrics(labels, scores, threshold, protein=protein).items():
            metrics[f"point_{key}"] = value
    curve = success_curve(records, "dca", cutoffs)
    return metrics, per_protein, curve


def as_ligand_lookup(
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    apo_pairs: Mapping[str, str],
) -> Callable[[str], list[np.ndarray]]:
    """protein id → relevant ligand atoms (holo: its own; apo: the holo partner's, superposed).

    Cached: the apo superposition is asked for twice (pocket and point metrics).
    """
    apo_sets = {set_of(pid) for pid in apo_pairs}  # bu48/apo

    @functools.cache
    def lookup(pid: str) -> list[np.ndarray]:
        if pid not in apo_pairs and set_of(pid) in apo_sets:  # BU48's unpaired 1krm: its HETATMs are no reference
            raise PockNetError("apo structure without a holo partner in the pairs file")
        features = protein_features[pid]()
        if pid in apo_pairs:
            return apo_ligands(features, apo_pairs[pid])
        return relevant_ligand_atoms(features)

    return lookup
