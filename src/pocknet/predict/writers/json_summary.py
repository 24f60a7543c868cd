"""``json``: ``<name>.json``, a machine-readable summary; and the CLI's one row per structure.

NaN is written as ``null`` (strict JSON, which JavaScript and ``jq`` read). ``source`` is
the input's file name (no folder: the summary names no path of the machine that wrote it),
``source_sha256`` its checksum and ``structure_file`` the name of the structure copy
(``null`` without scripts). ``model_name`` names the model that scored the structure and
``structure_kind`` (the last key; absent for predictions from stored features, as in the
pipeline stages) says whether it was read as experimental or predicted (AlphaFold, ESMFold):
the two together say whether the B-factor column was used. Written last, so its presence marks
a complete set.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pocknet.predict.prediction import Prediction
from pocknet.predict.writers.base import (
    CENTRE_DECIMALS,
    JSON_DECIMALS,
    PROBABILITY_DECIMALS,
    SCORE_DECIMALS,
    OutputJob,
    Writer,
    pocket_colour,
    ranked,
    residue_ids,
    rounded,
    sorted_unique,
)
from pocknet.predict.writers.files import write_text

__all__ = ["WRITER", "json_safe", "json_summary", "summary_rows"]


def json_safe(value: Any) -> Any:
    """Plain JSON types with NaN and infinities as ``None``."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_summary(prediction: Prediction, structure_file: str | None = None) -> dict[str, Any]:
    """The summary's content (before :func:`json_safe`); the viewer page shows its pocket records."""
    f = prediction.features
    ids = residue_ids(f)
    pockets = []
    for pocket in ranked(prediction):
        centre = np.asarray(pocket.centre, dtype=np.float64)
        pockets.append(
            {
                "name": f"pocket{pocket.rank}",
                "rank": int(pocket.rank),
                "level": int(pocket.level),  # 2: seeded at the second, lower threshold
                "rescore": rounded(pocket.rescore, JSON_DECIMALS),  # the pocket rescorer's logit (ranks them); null without one
                "score": rounded(pocket.score, JSON_DECIMALS),
                # calibrated (never printed as 0 or 1); null without a calibrator
                "probability": rounded(
                    min(max(float(pocket.probability), 10.0**-JSON_DECIMALS), 1.0 - 10.0**-JSON_DECIMALS)
                    if math.isfinite(float(pocket.probability)) else math.nan,
                    JSON_DECIMALS,
                ),
                "centre": [rounded(c, CENTRE_DECIMALS) for c in centre],
                "residue_ids": ids[sorted_unique(pocket.residue_indices)].tolist(),
                "n_points": len(sorted_unique(pocket.point_indices)),
                "n_atoms": len(sorted_unique(pocket.atom_indices)),
                "colour": pocket_colour(pocket.rank)[0],
            }
        )
    summary = {
        "name": prediction.name,
        "source": Path(str(f.source)).name,
        "source_sha256": f.source_sha256,
        "structure_file": structure_file,
        "model_name": prediction.model_name,
        "pocknet_version": f.pocknet_version,
        "threshold": rounded(prediction.threshold, JSON_DECIMALS),
        "seconds": rounded(prediction.seconds, 3),
        "counts": {
            "points": int(f.n_points),
            "residues": len(f.residue_chain),
            "atoms": len(f.atom_coords),
            "pockets": len(pockets),
        },
        "pockets": pockets,
        "notes": list(prediction.notes),
    }
    if prediction.structure_kind is not None:  # last: the keys before it keep their bytes
        summary["structure_kind"] = prediction.structure_kind
    return summary


def summary_rows(predictions: Iterable[Prediction]) -> list[dict[str, Any]]:
    """One row per structure for the CLI's summary table.

    Keys: ``name``, ``pockets`` (count), ``top_score``, ``top_probability``,
    ``top_centre`` (``(x, y, z)`` rounded to 3 decimals), ``seconds``, ``model_name`` and
    ``structure_kind``; the ``top_*`` values are ``None`` for a structure without pockets, and
    ``top_probability`` is ``None`` without a calibrator (NaN).
    """
    rows = []
    for prediction in predictions:
        pockets = ranked(prediction)
        top = pockets[0] if pockets else None
        probability = None if top is None or math.isnan(float(top.probability)) else float(top.probability)
        rows.append(
            {
                "name": prediction.name,
                "pockets": len(pockets),
                "top_score": None if top is None else rounded(top.score, SCORE_DECIMALS),
                "top_probability": None if probability is None else round(probability, PROBABILITY_DECIMALS),
                "top_centre": None
                if top is None
                else tuple(rounded(c, CENTRE_DECIMALS) for c in np.asarray(top.centre, dtype=np.float64)),
                "seconds": round(float(prediction.seconds), 3),
                "model_name": prediction.model_name,
                "structure_kind": prediction.structure_kind,
            }
        )
    return rows


def _write(paths: Sequence[Path], job: OutputJob) -> None:
    summary = json_summary(job.prediction, job.structure_file)
    write_text(paths[0], json.dumps(json_safe(summary), indent=2, allow_nan=False) + "\n")


WRITER = Writer(files=lambda name: [f"{name}.json"], write=_write)
