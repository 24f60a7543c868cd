"""Scores → probabilities people can read: points, residues and pockets (SCIENCE.md §6-§8).

The network was trained with ``pos_weight`` (~40 negatives per positive), so its
sigmoid output over-states the chance that a point is near a ligand; a residue
score and a pocket score (Σ p²) are not probabilities at all. Calibration maps
each to an observed frequency, for three questions:

``point``
    Is this SAS point within 2.6 Å of a relevant ligand atom (the training label,
    SCIENCE.md §4; neutral points are left out)? Input: the model **logit**.
``residue``
    Is this residue a binding residue, i.e. is any of its heavy atoms within
    4 Å of a relevant ligand atom (:func:`binding_residues`; SCIENCE.md has no
    residue-level label, this is the usual contact definition)? Input: the
    residue score (Σ p² of the points within 6.1 Å, :func:`pocknet.predict.residues.residue_scores`).
``pocket``
    Is the pocket centre within 4 Å of a relevant ligand atom (DCA, :func:`pocket_hits`)?
    Input: the pocket score.

Every map is fitted on **validation** proteins only. Fitting on test pockets
(BU48, COACH420, HOLO4K) would leak the evaluation labels into the reported
probabilities, just like choosing thresholds or checkpoints on test data.
Calibration never changes which points pass the threshold, the pockets, their
scores or ranks: clustering keeps using the raw model probability.

Each map is one of :mod:`pocknet.predict.calibration_maps`; its quality is measured
with :mod:`pocknet.predict.calibration_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.spatial import cKDTree

from pocknet.errors import ConfigError
from pocknet.predict.calibration_maps import apply_calibrator, calibrator_function, fit_calibrator

if TYPE_CHECKING:  # fitting and measuring (the swa stage) need pandas; predicting does not import it
    import pandas as pd

__all__ = [
    "LEVELS",
    "binding_residues",
    "calibration_note",
    "calibrators",
    "fit_levels",
    "pocket_hits",
]

LEVELS = ("point", "residue", "pocket")

#: (method, feature) per level; the pocket method comes from params (finalize.calibration).
LEVEL_FITS: dict[str, tuple[str, str]] = {
    "point": ("platt", "identity"),  # input: the model logit
    "residue": ("platt", "log1p"),  # input: Σ p² of the points within 6.1 Å
    "pocket": ("pchip", "log1p"),  # input: the pocket score
}
LEVEL_TARGETS = {
    "point": "SAS point within 2.6 Å of a relevant ligand atom (neutral points excluded)",
    "residue": "residue with a heavy atom within 4 Å of a relevant ligand atom",
    "pocket": "pocket centre within 4 Å of a relevant ligand atom (DCA)",
}


def _is_old_layout(calibration: Mapping[str, Any]) -> bool:
    """Model files before per-level calibration held the pocket calibrator itself."""
    return "method" in calibration


def calibrators(calibration: Mapping[str, Any] | None) -> dict[str, Callable[[Any], np.ndarray] | None]:
    """Level → calibrating callable (``None``: not calibrated) from a model file's ``calibration``.

    Reads both layouts: ``{"point": …, "residue": …, "pocket": …, …}`` and the
    older pocket-only calibrator dict.
    """
    out: dict[str, Callable[[Any], np.ndarray] | None] = dict.fromkeys(LEVELS)
    if not calibration:
        return out
    if not isinstance(calibration, Mapping):
        raise ConfigError(f"calibration must be a mapping, got {type(calibration).__name__}")
    if _is_old_layout(calibration):
        out["pocket"] = calibrator_function(calibration)
        return out
    for level in LEVELS:
        params = calibration.get(level)
        if params:
            try:
                out[level] = calibrator_function(params)
            except ConfigError as exc:
                raise ConfigError(f"{level} calibrator: {exc}") from exc
    return out


def calibration_note(calibration: Mapping[str, Any] | None) -> str | None:
    """The prediction note for a model file whose probabilities are not all calibrated."""
    if not calibration:
        return "probabilities not calibrated (the model file has no calibration)"
    if _is_old_layout(calibration):
        return "point and residue probabilities not calibrated (old model file)"
    missing = [level for level in LEVELS if not calibration.get(level)]
    if missing:
        return f"{' and '.join(missing)} probabilities not calibrated (no validation data for them)"
    return None


# --------------------------------------------------------------------------- labels


def pocket_hits(
    pocket_centres: np.ndarray, ligand_atoms: Sequence[np.ndarray], cutoff: float = 4.0
) -> np.ndarray:
    """DCA hits: pocket centre within ``cutoff`` Å of any atom of any relevant ligand.

    Parameters
    ----------
    pocket_centres
        [n, 3] pocket centres.
    ligand_atoms
        One [k, 3] coordinate array per relevant ligand of the structure.
    cutoff
        DCA distance (4 Å standard, SCIENCE.md §8).

    Returns
    -------
    np.ndarray
        [n] bool; all False when the structure has no ligand atoms.
    """
    centres = np.asarray(pocket_centres, dtype=np.float64).reshape(-1, 3)
    arrays = [np.asarray(a, dtype=np.float64).reshape(-1, 3) for a in ligand_atoms]
    atoms = np.concatenate(arrays) if arrays else np.zeros((0, 3))
    if len(centres) == 0 or len(atoms) == 0:
        return np.zeros(len(centres), dtype=bool)
    distance, _ = cKDTree(atoms).query(centres, distance_upper_bound=cutoff + 1e-9)
    return distance <= cutoff


def binding_residues(
    atom_coords: np.ndarray,
    atom_residue: np.ndarray,
    n_residues: int,
    ligand_atoms: Sequence[np.ndarray],
    cutoff: float = 4.0,
) -> np.ndarray:
    """[R] bool: residues with a (heavy) atom within ``cutoff`` Å of a relevant ligand atom."""
    out = np.zeros(n_residues, dtype=bool)
    coords = np.asarray(atom_coords, dtype=np.float64).reshape(-1, 3)
    arrays = [np.asarray(a, dtype=np.float64).reshape(-1, 3) for a in ligand_atoms]
    atoms = np.concatenate(arrays) if arrays else np.zeros((0, 3))
    if len(coords) == 0 or len(atoms) == 0:
        return out
    distance, _ = cKDTree(atoms).query(coords, distance_upper_bound=cutoff + 1e-9)
    out[np.asarray(atom_residue, dtype=np.int64)[distance <= cutoff]] = True
    return out


# --------------------------------------------------------------------------- levels


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _ece_metrics(p: np.ndarray, y: np.ndarray, oof: np.ndarray | None, bins: int) -> dict[str, float | None]:
    from pocknet.predict.calibration_metrics import expected_calibration_error

    def ece(q: np.ndarray | None, strategy: str) -> float | None:
        return None if q is None else _none_if_nan(expected_calibration_error(q, y, bins, strategy))

    return {
        "ece_val_in_sample": ece(p, "uniform"),
        "ece_val_in_sample_equal_mass": ece(p, "quantile"),
        "ece_val_cross_fitted": ece(oof, "uniform"),
        "ece_val_cross_fitted_equal_mass": ece(oof, "quantile"),
    }


def fit_levels(
    data: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    pocket_method: str = "pchip",
    bins: int = 10,
    folds: int = 5,
    uncalibrated: Mapping[str, np.ndarray] | None = None,
    pocket_feature: str = "log1p",
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit every level on validation data and measure it.

    Parameters
    ----------
    data
        Level → (scores, labels, groups) from validation proteins: point logits,
        residue scores, pocket scores; bool labels; protein index per sample (folds).
        A level with no samples stays uncalibrated (``None``).
    pocket_method
        ``pchip`` (default), ``platt`` or ``isotonic``.
    bins, folds
        ECE bins; protein folds for the cross-fitted ECE.
    uncalibrated
        Optional level → the probabilities users read without calibration
        (points: the model's sigmoid; residues: the best point nearby), for the
        "before" ECE.
    pocket_feature
        ``log1p`` for pocket scores (Σ p²), ``identity`` for a pocket rescorer's logits.

    Returns
    -------
    calibration : dict
        The model file's ``calibration``: ``point``, ``residue``, ``pocket``
        (calibrator dicts or None), ``ece`` (level → ECE numbers and counts),
        ``reliability`` (level → rows ``[lower, upper, mean_predicted, observed, count]``
        of the in-sample equal-width table), ``targets`` (what each probability means),
        ``bins`` and ``folds``.
    reliability : pandas.DataFrame
        The in-sample equal-width tables of all levels: ``level`` + :func:`reliability_table`'s columns.
    """
    import pandas as pd

    from pocknet.predict.calibration_metrics import (
        cross_fitted_probabilities,
        expected_calibration_error,
        reliability_table,
    )

    calibration: dict[str, Any] = {
        "bins": int(bins),
        "folds": int(folds),
        "targets": dict(LEVEL_TARGETS),
        "ece": {},
        "reliability": {},
    }
    tables = []
    for level in LEVELS:
        scores, labels, groups = (np.asarray(a) for a in data.get(level, ([], [], [])))
        labels = labels.astype(bool)
        method, feature = LEVEL_FITS[level]
        if level == "pocket":
            method, feature = pocket_method, pocket_feature
        stats: dict[str, Any] = {"method": method, "n": len(scores), "positives": int(labels.sum())}
        if len(scores) == 0:
            calibration[level] = None
            calibration["ece"][level] = stats
            continue

        def fit(s: np.ndarray, y: np.ndarray, method: str = method, feature: str = feature) -> dict[str, Any]:
            return fit_calibrator(s, y, method, feature)

        params = fit(scores, labels)
        p = apply_calibrator(params, scores)
        oof = cross_fitted_probabilities(scores, labels, groups, fit, folds)
        stats.update(_ece_metrics(p, labels, oof, bins))
        if uncalibrated is not None and level in uncalibrated:
            raw = np.clip(np.asarray(uncalibrated[level], dtype=np.float64), 0.0, 1.0)
            stats["ece_val_uncalibrated"] = _none_if_nan(expected_calibration_error(raw, labels, bins))
        table = reliability_table(p, labels, bins)
        calibration[level] = params
        calibration["ece"][level] = stats
        calibration["reliability"][level] = [
            [float(r.lower), float(r.upper), float(r.mean_predicted), float(r.observed), int(r.count)]
            for r in table.itertuples()
        ]
        tables.append(table.assign(level=level))
    columns = ["level", "bin", "lower", "upper", "mean_predicted", "observed", "count"]
    reliability = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    return calibration, reliability
