"""Shared by the validation-only pocket studies: one model's raw scores on each validation protein.

Pockets in these studies come from a model's raw probabilities (calibration changes no pocket),
as in the finalize stage's seed table; only the validation split is read.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from pocknet.featurize.descriptors import exposed_atoms
from pocknet.featurize.feature_files import load_features
from pocknet.featurize.features import ProteinFeatures, relevant_ligand_atoms
from pocknet.metrics.pockets import evaluate_proteins, ligand_success
from pocknet.predict.pocket_config import PocketConfig
from pocknet.predict.pockets import find_pockets
from pocknet.predict.prediction import Pocket
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress


class ScoredProtein(NamedTuple):
    protein: str
    features: ProteinFeatures
    ligands: list[np.ndarray]  # relevant ligands' atom coordinates
    probabilities: np.ndarray  # raw model probabilities per SAS point
    exposed: np.ndarray  # atom mask for pocket residues


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", type=Path, default=Path("data/02_features/proteins"))
    parser.add_argument("--splits", type=Path, default=Path("data/04_h5/splits.csv"))


def feature_loaders(features_dir: Path, protein_ids: list[str]) -> dict[str, Callable[[], ProteinFeatures]]:
    """Catalog-style loaders (as the pipeline's ``protein_features``) of the stored features."""
    return {pid: (lambda pid=pid: load_features(features_dir / f"{pid}.npz")) for pid in protein_ids}


def validation_ids(splits: Path) -> list[str]:
    table = pd.read_csv(splits)
    return sorted(table.loc[table["split"] == "val", "protein"])


def raw_predictor(model: Path) -> Predictor:
    """The model file's predictor without calibration (the predicted-structure model is not loaded)."""
    return Predictor(bundle=Predictor(model, predicted_model=None).bundle.replace(calibration=None))


def scored_proteins(
    predictor: Predictor, protein_ids: list[str], features_dir: Path, desc: str
) -> Iterator[ScoredProtein]:
    """Each validation protein with a relevant ligand, scored once (the others say nothing about pockets)."""
    exposed_distance = predictor.featurize_config.descriptors.exposed_distance
    for pid in progress(protein_ids, total=len(protein_ids), desc=desc, unit="protein"):
        features = load_features(features_dir / f"{pid}.npz")
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        probabilities = predictor.score(features)
        exposed = exposed_atoms(features.points, features.atom_coords, exposed_distance)
        yield ScoredProtein(pid, features, ligands, probabilities, exposed)


def record(protein: ScoredProtein, pockets: list[Pocket]) -> dict:
    """The protein's entry for :func:`pocknet.metrics.pockets.evaluate_proteins`."""
    centres = np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3))
    return {"protein": protein.protein, "centres": centres, "ligands": protein.ligands}


def dca_ranks(protein: ScoredProtein, pockets: list[Pocket]) -> np.ndarray:
    """Per relevant ligand, the rank of the first pocket within 4 Å (DCA), 0 for none."""
    return np.asarray(evaluate_proteins([record(protein, pockets)])["per_protein"][0]["ranks_dca"])


def summary_row(rows: list[dict]) -> dict:
    """DCA top-n, top-(n+2), success@1, ligands and mean pockets of a list of records."""
    result = evaluate_proteins(rows)
    return {
        **{k: result[k] for k in ("dca_top_n", "dca_top_n2", "dca_success_at_1", "n_ligands")},
        "mean_pockets": float(np.mean([len(r["centres"]) for r in rows])) if rows else float("nan"),
    }


def pocket_hits(
    proteins: list[ScoredProtein], config: PocketConfig, seed: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-ligand DCA top-n hits and per-protein success@1 of the pockets seeded at ``seed``
    (and at ``config``'s second level), in the order of ``proteins``."""
    per_ligand, top1 = [], []
    for protein in proteins:
        f = protein.features
        pockets = find_pockets(
            f.points, protein.probabilities, seed, f.atom_coords, f.atom_residue, protein.exposed, config
        )
        ranks = dca_ranks(protein, pockets)
        per_ligand.append(ligand_success(ranks, len(protein.ligands)))
        top1.append(bool(np.any(ranks == 1)))
    return np.concatenate(per_ligand), np.asarray(top1)
