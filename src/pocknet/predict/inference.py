"""Batch inference over featurised proteins of chosen splits (the `inference` stage).

Uses the same :class:`pocknet.predict.predictor.Predictor` as the CLI, on the feature
files the data_engineering stage wrote, so the stage and `pocknet predict`
give identical pockets. The plan is lazy: proteins are predicted and written
one at a time when the catalog saves it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import statistics
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.featurize.features import ProteinFeatures
from pocknet.model.files import ModelBundle
from pocknet.predict.writers import parse_formats, write_outputs
from pocknet.predict.predictor import Predictor
from pocknet.predict.prediction import Prediction
from pocknet.progress import progress

log = logging.getLogger(__name__)

__all__ = [
    "PredictionPlan",
    "plan_predictions",
    "write_predictions",
    "point_probabilities_path",
    "read_point_probabilities",
    "POCKET_TABLE_COLUMNS",
]

POCKET_TABLE_COLUMNS = ["protein", "split", "rank", "level", "rescore", "score", "probability", "center_x", "center_y",
                        "center_z", "sas_points"]  # fmt: skip


@dataclass
class PredictionPlan:
    predictions: Iterator[tuple[str, str, Prediction]]  # (protein id, split, prediction)
    formats: tuple[str, ...]
    n_proteins: int


def plan_predictions(
    bundle: ModelBundle,
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    which: Sequence[str],
    formats: str | Sequence[str],
) -> PredictionPlan:
    predictor = Predictor(bundle=bundle)
    rows = splits[splits["split"].isin(list(which))].sort_values("protein")
    chosen = [(p, s) for p, s in rows[["protein", "split"]].itertuples(index=False) if p in protein_features]

    def predictions() -> Iterator[tuple[str, str, Prediction]]:
        for pid, split in progress(chosen, total=len(chosen), desc="inference", unit="protein"):
            name = PurePosixPath(pid).name
            yield pid, split, predictor.predict_features(protein_features[pid](), name=name)

    fmts = parse_formats(formats) if isinstance(formats, str) else tuple(formats)
    return PredictionPlan(predictions=predictions(), formats=fmts, n_proteins=len(chosen))


def point_probabilities_path(root: str | Path, protein: str) -> Path:
    """Where the stage keeps a protein's model point probabilities (what reporting scores)."""
    return Path(root) / f"{protein}_point_probabilities.npy"


def read_point_probabilities(root: str | Path, protein: str, n_points: int) -> np.ndarray:
    """The model's (uncalibrated) point probabilities the inference stage wrote for ``protein``."""
    path = point_probabilities_path(root, protein)
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PockNetError(f"{path}: no readable point probabilities ({exc}); re-run the inference stage") from exc
    if values.shape != (n_points,) or values.dtype != np.float32:
        raise PockNetError(f"{path}: {values.shape} {values.dtype}, expected ({n_points},) float32; re-run inference")
    return values


def write_predictions(plan: PredictionPlan, root: str | Path) -> None:
    """Per-structure outputs under ``root/<dataset path>/`` plus ``root/pockets.csv`` (all pockets).

    Beside each structure's files, ``<name>_point_probabilities.npy``: the model's point
    probabilities (float32, uncalibrated), so the reporting stage reads them rather than scoring again.
    """
    root = Path(root)
    records, seconds = [], []
    for pid, split, prediction in plan.predictions:
        # Timings differ run to run: logged here, never written into the DVC-tracked files.
        seconds.append(prediction.seconds)
        prediction = dataclasses.replace(prediction, seconds=math.nan)
        write_outputs(prediction, root / PurePosixPath(pid).parent, plan.formats)
        with atomic_write(point_probabilities_path(root, pid), "wb") as handle:
            np.save(handle, np.asarray(prediction.raw_probabilities, dtype=np.float32), allow_pickle=False)
        for pocket in prediction.pockets:
            x, y, z = (float(c) for c in pocket.centre)
            records.append((pid, split, pocket.rank, pocket.level, pocket.rescore, pocket.score, pocket.probability,
                            x, y, z, len(pocket.point_indices)))  # fmt: skip
    with atomic_write(root / "pockets.csv") as handle:
        pd.DataFrame(records, columns=POCKET_TABLE_COLUMNS).to_csv(handle, index=False)
    if seconds:
        log.info("predicted %d proteins: median %.3f s, max %.3f s per protein (features loaded)",
                 len(seconds), statistics.median(seconds), max(seconds))  # fmt: skip
