"""``csv``: ``<name>_predictions.csv`` and ``<name>_residues.csv`` in P2Rank 2.x's layout.

Exactly P2Rank's column names and order, so scripts written for P2Rank read ours.
P2Rank pads values with spaces after commas; we write plain CSV (pandas, ``csv`` and
P2Rank-aware scripts that strip fields read both).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.predict.prediction import Prediction
from pocknet.predict.writers.base import (
    CENTRE_DECIMALS,
    PROBABILITY_DECIMALS,
    RESIDUE_SCORE_DECIMALS,
    SCORE_DECIMALS,
    OutputJob,
    Writer,
    ranked,
    residue_ids,
    rounded,
    sorted_unique,
)
from pocknet.predict.writers.files import write_text

__all__ = ["PREDICTIONS_COLUMNS", "RESIDUES_COLUMNS", "WRITER", "predictions_table", "residues_table"]

PREDICTIONS_COLUMNS: tuple[str, ...] = (
    "name",
    "rank",
    "score",
    "probability",
    "sas_points",
    "surf_atoms",
    "center_x",
    "center_y",
    "center_z",
    "residue_ids",
    "surf_atom_ids",
)
RESIDUES_COLUMNS: tuple[str, ...] = (
    "chain",
    "residue_label",
    "residue_name",
    "score",
    "zscore",
    "probability",
    "pocket",
)


def predictions_table(prediction: Prediction) -> pd.DataFrame:
    """One row per pocket, by rank, in P2Rank's ``_predictions.csv`` layout.

    ``residue_ids`` are P2Rank ids in file order and ``surf_atom_ids`` the
    atoms' serial numbers in the source file (ascending), both space-separated,
    so they can be pasted into viewer selections or joined with P2Rank output.
    """
    features = prediction.features
    ids = residue_ids(features)
    rows = []
    for pocket in ranked(prediction):
        residues = sorted_unique(pocket.residue_indices)
        serials = np.unique(features.atom_serial[sorted_unique(pocket.atom_indices)])
        centre = np.asarray(pocket.centre, dtype=np.float64)
        rows.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "score": rounded(pocket.score, SCORE_DECIMALS),
                "probability": rounded(pocket.probability, PROBABILITY_DECIMALS),
                "sas_points": len(sorted_unique(pocket.point_indices)),
                "surf_atoms": len(serials),
                "center_x": rounded(centre[0], CENTRE_DECIMALS),
                "center_y": rounded(centre[1], CENTRE_DECIMALS),
                "center_z": rounded(centre[2], CENTRE_DECIMALS),
                "residue_ids": " ".join(ids[residues].tolist()),
                "surf_atom_ids": " ".join(str(int(s)) for s in serials),
            }
        )
    return pd.DataFrame(rows, columns=list(PREDICTIONS_COLUMNS))


def residues_table(prediction: Prediction) -> pd.DataFrame:
    """One row per protein residue in P2Rank's ``_residues.csv`` layout.

    ``residue_label`` is the author number with its insertion code (``100A``);
    ``pocket`` is the rank of the pocket holding the residue, 0 for none.
    """
    f = prediction.features
    labels = np.char.add(f.residue_number.astype(str), f.residue_icode)
    table = pd.DataFrame(
        {
            "chain": f.residue_chain.astype(str),
            "residue_label": labels.astype(str),
            "residue_name": f.residue_name.astype(str),
            "score": np.round(
                np.asarray(prediction.residue_score, dtype=np.float64), RESIDUE_SCORE_DECIMALS
            ),
            "zscore": np.round(
                np.asarray(prediction.residue_zscore, dtype=np.float64), RESIDUE_SCORE_DECIMALS
            ),
            # calibrated; clipped so the printed value is never 0.000 or 1.000 (nothing is certain)
            "probability": np.round(
                np.clip(
                    np.nan_to_num(np.asarray(prediction.residue_probability, dtype=np.float64), nan=0.0),
                    10.0**-PROBABILITY_DECIMALS,
                    1.0 - 10.0**-PROBABILITY_DECIMALS,
                ),
                PROBABILITY_DECIMALS,
            ),
            "pocket": np.asarray(prediction.residue_pocket, dtype=np.int64),
        },
        columns=list(RESIDUES_COLUMNS),
    )
    return table


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    tables = (predictions_table(job.prediction), residues_table(job.prediction))
    for path, table in zip(paths, tables):
        write_text(path, table.to_csv(index=False, lineterminator="\n"))


WRITER = Writer(files=lambda name: [f"{name}_predictions.csv", f"{name}_residues.csv"], write=_write)
