"""What every output format shares: the :class:`Writer` record and the values all formats derive alike.

Residue ids, point ranks, pocket colours and rounding live here once, so the CSVs, the
points PDB, the scripts, the JSON and the viewer page agree on them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pocknet.featurize.features import ProteinFeatures
from pocknet.predict.prediction import Prediction
from pocknet.structure.records import Residues, residue_labels

__all__ = [
    "CENTRE_DECIMALS",
    "JSON_DECIMALS",
    "PALETTE",
    "PROBABILITY_DECIMALS",
    "PROTEIN_COLOUR",
    "RESIDUE_SCORE_DECIMALS",
    "SCORE_DECIMALS",
    "OutputJob",
    "Writer",
    "pocket_colour",
    "point_pocket_ranks",
    "ranked",
    "residue_ids",
    "rounded",
    "sorted_unique",
]

# (CSS name, RGB 0..255): distinct on a grey protein, none of them grey.
PALETTE: tuple[tuple[str, tuple[int, int, int]], ...] = (
    ("royalblue", (65, 105, 225)),
    ("orange", (255, 165, 0)),
    ("forestgreen", (34, 139, 34)),
    ("crimson", (220, 20, 60)),
    ("mediumpurple", (147, 112, 219)),
    ("sienna", (160, 82, 45)),
    ("hotpink", (255, 105, 180)),
    ("gold", (255, 215, 0)),
    ("darkturquoise", (0, 206, 209)),
    ("olivedrab", (107, 142, 35)),
)
PROTEIN_COLOUR = ("lightgray", (211, 211, 211))

# Rounding of written numbers: P2Rank's precision, coordinates like a PDB file's.
SCORE_DECIMALS = 2
PROBABILITY_DECIMALS = 3
CENTRE_DECIMALS = 3
RESIDUE_SCORE_DECIMALS = 4
JSON_DECIMALS = 4  # float32 noise (20.66699981…) helps no one reading the summary


@dataclass(frozen=True)
class OutputJob:
    """What the writers of one :func:`~pocknet.predict.writers.write_outputs` call read."""

    prediction: Prediction
    #: The structure copy beside the scripts (the JSON's ``structure_file``), or None.
    structure_file: str | None
    #: The points PDB the scripts load.
    points_file: str
    #: The source structure, decompressed, when a chosen writer reads it.
    source_bytes: bytes | None


@dataclass(frozen=True)
class Writer:
    """One output format: the files it writes for a name, in order, and how it fills them.

    ``script``: it loads the structure copy, which is written before the first script.
    ``reads_source``: it needs the source structure, read (and checked) before anything is written.
    """

    files: Callable[[str], list[str]]
    write: Callable[[Sequence[Path], OutputJob], None]
    script: bool = False
    reads_source: bool = False


def residue_ids(features: ProteinFeatures) -> np.ndarray:
    """P2Rank residue ids (``A_100A``) of every residue, via :func:`pocknet.structure.records.residue_labels`.

    Rebuilding :class:`~pocknet.structure.records.Residues` from the feature arrays keeps
    one definition of the id format for the whole project.
    """
    residues = Residues(
        chain=features.residue_chain,
        number=features.residue_number,
        icode=features.residue_icode,
        name=features.residue_name,
        one_letter=features.residue_one_letter,
        ca=features.residue_ca,
    )
    return residue_labels(residues)


def rounded(value: float, decimals: int) -> float:
    """Round for output; NaN stays NaN (written as an empty CSV field, JSON ``null``)."""
    value = float(value)
    return value if math.isnan(value) else round(value, decimals)


def sorted_unique(indices: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(indices, dtype=np.int64))


def ranked(prediction: Prediction) -> list:
    return sorted(prediction.pockets, key=lambda p: p.rank)


def pocket_colour(rank: int) -> tuple[str, tuple[int, int, int]]:
    """Pocket ``rank``'s colour: the same in both scripts, the JSON and the viewer page."""
    return PALETTE[(rank - 1) % len(PALETTE)]


def point_pocket_ranks(prediction: Prediction) -> np.ndarray:
    """Pocket rank of every SAS point, 0 for none (int32).

    Grown pockets can share points; a shared point goes to the better
    (lower) rank, the pocket a viewer should show it with.
    """
    ranks = np.zeros(prediction.features.n_points, dtype=np.int32)
    for pocket in sorted(prediction.pockets, key=lambda p: p.rank, reverse=True):
        ranks[np.asarray(pocket.point_indices, dtype=np.int64)] = pocket.rank
    return ranks
