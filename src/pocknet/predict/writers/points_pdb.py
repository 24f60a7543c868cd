"""``pdb``: ``<name>_points.pdb``, every SAS point as a ``HETATM``, and reading it back.

Each point is residue ``STP``, atom name and element ``C``, blank chain. **Residue number =
pocket rank** (0 for points in no pocket) and **B-factor = calibrated point probability**
(fitted on validation; two decimals in the fixed-column ``F6.2`` field, clipped to
0.01..0.99 so no point reads as certain), so PyMOL's ``spectrum b`` and ChimeraX's
``color bfactor`` work with the range 0..1 and the pockets are residues of the points
model. Beyond 99 999 points the serial numbers continue in hybrid-36 (``A0000`` …), the
scheme ChimeraX requires for big PDB files and gemmi reads; residue numbers above 9 999
(never seen in practice) use hybrid-36 too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import gemmi
import numpy as np

from pocknet.errors import PockNetError
from pocknet.predict.writers.base import OutputJob, Writer, point_pocket_ranks
from pocknet.predict.writers.files import write_text

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["WRITER", "hybrid36", "points_pdb_text", "read_points_pdb"]

_POINT_RESNAME = "STP"
_POINT_ATOM = " C  "  # element C right-justified in columns 13-14, as PDB names are
_POINT_CHAIN = " "

_DIGITS_UPPER = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_DIGITS_LOWER = _DIGITS_UPPER.lower()


def _base36(value: int, width: int, digits: str) -> str:
    out = []
    for _ in range(width):
        value, rem = divmod(value, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def hybrid36(value: int, width: int) -> str:
    """Encode a non-negative integer in hybrid-36 (the PDB's overflow scheme) in ``width`` columns.

    Decimal up to ``10**width - 1``, then ``A000…`` upward in upper-case base 36,
    then lower case: values stay unique and readable by ChimeraX and gemmi
    where plain wrapping would repeat serial numbers.
    """
    if value < 0:
        raise ValueError(f"hybrid-36 encodes non-negative numbers, got {value}")
    if value < 10**width:
        return f"{value:>{width}d}"
    value -= 10**width
    block = 26 * 36 ** (width - 1)
    offset = 10 * 36 ** (width - 1)  # 'A000…' in base 36
    if value < block:
        return _base36(value + offset, width, _DIGITS_UPPER)
    value -= block
    if value < block:
        return _base36(value + offset, width, _DIGITS_LOWER)
    raise ValueError(f"{value + 10**width + block} does not fit hybrid-36 in {width} columns")


def points_pdb_text(points: np.ndarray, probabilities: np.ndarray, ranks: np.ndarray, title: str = "") -> str:
    """Fixed-column PDB text of SAS points (see the module docstring for the conventions).

    Raises
    ------
    PockNetError
        When a coordinate does not fit the PDB's ``F8.3`` columns.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    # The F6.2 B-factor never reads 0.00 or 1.00: a probability is never certain.
    probs = np.clip(np.nan_to_num(np.asarray(probabilities, dtype=np.float64), nan=0.0), 0.01, 0.99)
    ranks = np.asarray(ranks, dtype=np.int64)
    if len(probs) != len(points) or len(ranks) != len(points):
        raise ValueError(f"{len(points)} points but {len(probs)} probabilities and {len(ranks)} ranks")
    if len(points) and (points.min() < -999.999 or points.max() > 9999.999):
        raise PockNetError(
            f"{title or 'points'}: coordinates outside the PDB format's range (-999.999..9999.999)"
        )
    lines = []
    if title:
        lines.append(f"REMARK 999 PockNet SAS points of {title}"[:80])
    lines.append("REMARK 999 resSeq = pocket rank (0: no pocket), B-factor = probability 0.01-0.99")
    if 0 < len(points) < 10**5 and ranks.min() >= 0 and ranks.max() < 10**4:
        lines.append(_decimal_records(points, probs, ranks))
    else:
        for i, ((x, y, z), p, rank) in enumerate(zip(points.tolist(), probs.tolist(), ranks.tolist())):
            lines.append(
                f"HETATM{hybrid36(i + 1, 5)} {_POINT_ATOM} {_POINT_RESNAME} {_POINT_CHAIN}{hybrid36(rank, 4)}    "
                f"{x:8.3f}{y:8.3f}{z:8.3f}{1.0:6.2f}{p:6.2f}           C  "
            )
    lines.append("END")
    return "\n".join(lines) + "\n"


def _decimal_records(points: np.ndarray, probs: np.ndarray, ranks: np.ndarray) -> str:
    """The HETATM lines when serials and ranks are plain decimals (hybrid-36 writes those as ``%5d``/``%4d``).

    One ``%`` over all lines: the same C float formatting as the per-line f-strings, ~2.5x faster.
    """
    record = (f"HETATM%5d {_POINT_ATOM} {_POINT_RESNAME} {_POINT_CHAIN}%4d    "
              f"%8.3f%8.3f%8.3f{1.0:6.2f}%6.2f           C  ")  # fmt: skip
    x, y, z = points.T.tolist()
    fields = zip(range(1, len(points) + 1), ranks.tolist(), x, y, z, probs.tolist())
    return "\n".join([record] * len(points)) % tuple(itertools.chain.from_iterable(fields))


def read_points_pdb(path: str | Path) -> pd.DataFrame:
    """Read a ``<name>_points.pdb`` back: ``x, y, z, probability, pocket_rank`` per point, in file order.

    gemmi decodes the hybrid-36 serial and residue numbers written by :func:`points_pdb_text`.
    It files a point under an earlier residue of the same number (pocket 2's points after a
    run of pocket-0 points join the first pocket-2 run), so rows are put back in file order
    by serial number: row ``i`` is point ``i`` of the prediction.
    """
    import pandas as pd

    model = gemmi.read_structure(str(path))[0]
    rows = sorted((atom.serial, *atom.pos.tolist(), round(atom.b_iso, 2), residue.seqid.num)  # B: F6.2 in the file
                  for chain in model for residue in chain for atom in residue)  # fmt: skip
    return pd.DataFrame([r[1:] for r in rows], columns=["x", "y", "z", "probability", "pocket_rank"])


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    prediction = job.prediction
    text = points_pdb_text(
        prediction.features.points, prediction.probabilities, point_pocket_ranks(prediction), title=prediction.name
    )
    write_text(paths[0], text)


WRITER = Writer(files=lambda name: [f"{name}_points.pdb"], write=_write)
