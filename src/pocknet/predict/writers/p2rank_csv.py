"""``csv``: ``<name>_predictions.csv`` and ``<name>_residues.csv`` in P2Rank 2.x's layout.

Exactly P2Rank's column names and order, so scripts written for P2Rank read ours.
P2Rank pads values with spaces after commas; we write plain CSV (pandas, ``csv`` and
P2Rank-aware scripts that strip fields read both), byte for byte what ``DataFrame.to_csv``
wrote before, without importing pandas.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

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

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PREDICTIONS_COLUMNS",
    "RESIDUES_COLUMNS",
    "WRITER",
    "csv_text",
    "predictions_columns",
    "predictions_table",
    "residues_columns",
    "residues_table",
]

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
# what pandas infers from the rows' Python values (ints, floats with NaN, strings)
_PREDICTIONS_DTYPES = dict(zip(PREDICTIONS_COLUMNS, (object, np.int64, np.float64, np.float64, np.int64, np.int64,
                                                     np.float64, np.float64, np.float64, object, object)))  # fmt: skip


def predictions_columns(prediction: Prediction) -> dict[str, np.ndarray]:
    """One row per pocket, by rank, in P2Rank's ``_predictions.csv`` layout: column → values.

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
        rows.append((
            f"pocket{pocket.rank}",
            int(pocket.rank),
            rounded(pocket.score, SCORE_DECIMALS),
            rounded(pocket.probability, PROBABILITY_DECIMALS),
            len(sorted_unique(pocket.point_indices)),
            len(serials),
            rounded(centre[0], CENTRE_DECIMALS),
            rounded(centre[1], CENTRE_DECIMALS),
            rounded(centre[2], CENTRE_DECIMALS),
            " ".join(ids[residues].tolist()),
            " ".join(str(int(s)) for s in serials),
        ))  # fmt: skip
    values = list(zip(*rows)) if rows else [()] * len(PREDICTIONS_COLUMNS)
    return {name: np.asarray(column, dtype=_PREDICTIONS_DTYPES[name]) for name, column in zip(PREDICTIONS_COLUMNS, values)}


def residues_columns(prediction: Prediction) -> dict[str, np.ndarray]:
    """One row per protein residue in P2Rank's ``_residues.csv`` layout: column → values.

    ``residue_label`` is the author number with its insertion code (``100A``);
    ``pocket`` is the rank of the pocket holding the residue, 0 for none.
    """
    f = prediction.features
    return {
        "chain": f.residue_chain.astype(str),
        "residue_label": np.char.add(f.residue_number.astype(str), f.residue_icode).astype(str),
        "residue_name": f.residue_name.astype(str),
        "score": np.round(np.asarray(prediction.residue_score, dtype=np.float64), RESIDUE_SCORE_DECIMALS),
        "zscore": np.round(np.asarray(prediction.residue_zscore, dtype=np.float64), RESIDUE_SCORE_DECIMALS),
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
    }


def predictions_table(prediction: Prediction) -> pd.DataFrame:
    """:func:`predictions_columns` as a DataFrame (for readers of the tables; the writer needs no pandas)."""
    import pandas as pd

    return pd.DataFrame(predictions_columns(prediction), columns=list(PREDICTIONS_COLUMNS))


def residues_table(prediction: Prediction) -> pd.DataFrame:
    """:func:`residues_columns` as a DataFrame (for the viewer and tests; the writer needs no pandas)."""
    import pandas as pd

    return pd.DataFrame(residues_columns(prediction), columns=list(RESIDUES_COLUMNS))


def _fields(values: np.ndarray) -> list[str]:
    """A column's CSV fields as ``DataFrame.to_csv`` writes them: floats by numpy's ``str``, NaN empty."""
    if values.dtype.kind == "f":
        text = values.astype(str).astype(object)
        text[np.isnan(values)] = ""
        return text.tolist()
    return [str(v) for v in values.tolist()]


def csv_text(columns: dict[str, np.ndarray]) -> str:
    """The bytes ``pandas.DataFrame(columns).to_csv(index=False, lineterminator="\\n")`` writes (tested).

    Without pandas (a third of a second to import in every worker): the same
    ``csv.writer`` (minimal quoting, doubled quotes) over the same field strings.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(columns))
    writer.writerows(zip(*(_fields(v) for v in columns.values())))
    return buffer.getvalue()


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    tables = (predictions_columns(job.prediction), residues_columns(job.prediction))
    for path, table in zip(paths, tables):
        write_text(path, csv_text(table))


WRITER = Writer(files=lambda name: [f"{name}_predictions.csv", f"{name}_residues.csv"], write=_write)
