"""Pocket-level metrics (SCIENCE.md §8): do the ranked pocket centres find the ligands?

DCA / DCC per pocket centre, P2Rank's ligand-centric top-n and top-(n+2) success,
protein-level success@k (:func:`evaluate_proteins`) and the success-vs-cutoff curve
of the report (:func:`success_curve`). Conventions:

* Pocket centres come **in rank order** (row 0 = rank 1). Ranks are 1-based;
  rank 0 means "no pocket meets the criterion". Ties in score are already
  resolved by that order: a ligand found by two pockets takes the lower rank.
* Cutoffs are inclusive (``distance <= cutoff``), as P2Rank's criteria.
* Only *relevant* ligands (SCIENCE.md §1) are passed in; every one of them is
  in the denominator of the ligand-centric numbers, found or not.
* Undefined fractions (nothing to divide by) are NaN, as in the point level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from scipy.spatial.distance import cdist

from pocknet.errors import ConfigError

__all__ = [
    "POCKET_CRITERIA",
    "STANDARD_CUTOFF",
    "dca",
    "dcc",
    "evaluate_proteins",
    "ligand_success",
    "protein_success_at_k",
    "success_curve",
]

PocketCriterion = Literal["dca", "dcc"]
POCKET_CRITERIA: tuple[str, ...] = ("dca", "dcc")
STANDARD_CUTOFF = 4.0  # Å, P2Rank's DCA(4) / DCC(4)
_TOP_N_TOLERANCES = {"top_n": 0, "top_n2": 2}  # P2Rank's top-n and top-(n+2)
_SUCCESS_AT_K = (1, 3)
_DEFAULT_CURVE_CUTOFFS = np.arange(0.0, 12.0 + 1e-9, 0.5)


def _coords(array: Any, what: str) -> np.ndarray:
    """``[n, 3]`` float64 coordinates; an empty input of any shape is ``[0, 3]``.

    Shapes are checked here so that a transposed ``[3, n]`` array fails loudly
    instead of silently producing distances between the wrong things.
    """
    a = np.asarray(array, dtype=np.float64)
    if a.size == 0:
        return a.reshape(0, 3)
    if a.ndim != 2 or a.shape[1] != 3:
        raise ValueError(f"{what} must have shape [n, 3], got {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError(f"{what} contain non-finite coordinates")
    return a


def _ligand_list(ligands: Sequence[Any]) -> list[np.ndarray]:
    """Validated ligand atom arrays; a ligand without atoms has no DCA/DCC and is a bug upstream."""
    out = [_coords(lig, f"ligand {i} atoms") for i, lig in enumerate(ligands)]
    for i, lig in enumerate(out):
        if len(lig) == 0:
            raise ValueError(f"ligand {i} has no atoms")
    return out


def _check_criterion(criterion: str) -> None:
    if criterion not in POCKET_CRITERIA:
        raise ConfigError(f"pocket criterion must be one of {POCKET_CRITERIA}, got {criterion!r}")


def dca(centres: np.ndarray, ligand_atoms: np.ndarray) -> np.ndarray:
    """Distance from each pocket centre to the **closest** ligand atom, ``[n]``.

    P2Rank's DCA: a pocket whose centre sits against any part of the ligand
    counts, so large ligands are easy to hit anywhere along their length.
    """
    c = _coords(centres, "pocket centres")
    atoms = _ligand_list([ligand_atoms])[0]
    return cdist(c, atoms).min(axis=1) if len(c) else np.zeros(0)


def dcc(centres: np.ndarray, ligand_atoms: np.ndarray) -> np.ndarray:
    """Distance from each pocket centre to the ligand's **centroid**, ``[n]``.

    Stricter than :func:`dca` for long ligands: the centre must be near the
    middle of the ligand, not just near one end of it.
    """
    c = _coords(centres, "pocket centres")
    atoms = _ligand_list([ligand_atoms])[0]
    return np.linalg.norm(c - atoms.mean(axis=0), axis=1)


def _distance_matrix(centres: np.ndarray, ligands: list[np.ndarray], criterion: str) -> np.ndarray:
    """``[n_ligands, n_pockets]`` DCA or DCC for all ligands of a protein at once.

    One ``cdist`` over the concatenated ligand atoms and a segmented minimum
    (``np.minimum.reduceat``) replace a Python loop over ligands.
    """
    _check_criterion(criterion)
    if not ligands:
        return np.zeros((0, len(centres)))
    sizes = np.array([len(lig) for lig in ligands])
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    atoms = np.concatenate(ligands)
    if criterion == "dca":
        return np.minimum.reduceat(cdist(atoms, centres), starts, axis=0)
    centroids = np.add.reduceat(atoms, starts, axis=0) / sizes[:, None]
    return cdist(centroids, centres)


def _first_hit_ranks(distances: np.ndarray, cutoff: float) -> np.ndarray:
    """1-based index of the first column with ``distance <= cutoff`` per row, 0 if none."""
    if distances.shape[1] == 0:
        return np.zeros(distances.shape[0], dtype=np.int64)
    hit = distances <= cutoff
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 0).astype(np.int64)


def ligand_success(
    ranks: np.ndarray, n_ligands_in_protein: int | np.ndarray, tolerance: int = 0
) -> np.ndarray:
    """Per-ligand success: ``1 <= rank <= n + tolerance``.

    ``n`` is the number of relevant ligands of the ligand's protein (a scalar
    for one protein, or one value per ligand when ranks are pooled). P2Rank's
    top-n is ``tolerance=0``, top-(n+2) ``tolerance=2``: a protein with n
    binding sites is allowed n pockets, so proteins with many sites are not
    penalised for reporting each of them. The mean of the result over all
    relevant ligands is the success rate (unfound ligands count as failures).
    """
    r = np.asarray(ranks, dtype=np.int64)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    return (r >= 1) & (r <= np.asarray(n_ligands_in_protein) + tolerance)


def protein_success_at_k(ranks: np.ndarray, k: int) -> bool:
    """True when one of the protein's top ``k`` pockets finds any of its ligands.

    Protein-centric (one vote per structure), unlike :func:`ligand_success`.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    r = np.asarray(ranks, dtype=np.int64)
    return bool(np.any((r >= 1) & (r <= k)))


def _mean(values: list[bool] | np.ndarray) -> float:
    """Fraction true; NaN for an empty list (no denominator, no rate)."""
    return float(np.mean(values)) if len(values) else float("nan")


def _record(record: Mapping[str, Any]) -> tuple[str, np.ndarray, list[np.ndarray]]:
    """Validated ``(protein, centres, ligands)`` of one per-protein record."""
    try:
        name = str(record["protein"])
        centres, ligands = record["centres"], record["ligands"]
    except KeyError as exc:
        raise ValueError(f"pocket-metric record lacks key {exc}; needs protein, centres, ligands") from exc
    try:
        return name, _coords(centres, "pocket centres"), _ligand_list(ligands)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def evaluate_proteins(
    records: Iterable[Mapping[str, Any]], cutoff: float = STANDARD_CUTOFF
) -> dict[str, Any]:
    """DCA and DCC success rates of a dataset, P2Rank style.

    Parameters
    ----------
    records
        One mapping per protein: ``protein`` (name), ``centres`` (``[n, 3]``
        pocket centres in rank order, possibly empty) and ``ligands`` (list of
        ``[m_i, 3]`` atom arrays of its *relevant* ligands). Proteins without a
        relevant ligand cannot be evaluated: they are skipped and counted
        (``n_skipped_no_ligand``, names in ``skipped_no_ligand``) so that a
        dataset-size mismatch is visible rather than silent.
    cutoff
        DCA/DCC distance in Å (4 Å standard).

    Returns
    -------
    dict
        ``n_proteins`` (evaluated proteins, the success@k denominator),
        ``n_ligands`` (the top-n denominator), ``n_skipped_no_ligand``,
        ``skipped_no_ligand``, ``cutoff``; for ``c`` in (dca, dcc):
        ``{c}_top_n``, ``{c}_top_n2`` (ligand-centric, over all relevant
        ligands), ``{c}_success_at_1``, ``{c}_success_at_3`` (per protein), all
        fractions in [0, 1] or NaN when nothing was evaluated; ``per_protein``:
        dicts with ``protein, n_ligands, n_pockets, ranks_dca, ranks_dcc``
        (ranks as lists of ints, JSON-ready).
    """
    per_protein: list[dict[str, Any]] = []
    skipped: list[str] = []
    ligand_hits: dict[str, list[np.ndarray]] = {
        f"{c}_{t}": [] for c in POCKET_CRITERIA for t in _TOP_N_TOLERANCES
    }
    protein_hits: dict[str, list[bool]] = {
        f"{c}_success_at_{k}": [] for c in POCKET_CRITERIA for k in _SUCCESS_AT_K
    }
    for record in records:
        name, centres, ligands = _record(record)
        if not ligands:
            skipped.append(name)
            continue
        entry: dict[str, Any] = {"protein": name, "n_ligands": len(ligands), "n_pockets": len(centres)}
        for c in POCKET_CRITERIA:
            ranks = _first_hit_ranks(_distance_matrix(centres, ligands, c), cutoff)
            entry[f"ranks_{c}"] = ranks.tolist()
            for t, tol in _TOP_N_TOLERANCES.items():
                ligand_hits[f"{c}_{t}"].append(ligand_success(ranks, len(ligands), tol))
            for k in _SUCCESS_AT_K:
                protein_hits[f"{c}_success_at_{k}"].append(protein_success_at_k(ranks, k))
        per_protein.append(entry)

    out: dict[str, Any] = {
        "n_proteins": len(per_protein),
        "n_ligands": sum(p["n_ligands"] for p in per_protein),
        "n_skipped_no_ligand": len(skipped),
        "skipped_no_ligand": skipped,
        "cutoff": float(cutoff),
    }
    for key, hits in ligand_hits.items():
        out[key] = _mean(np.concatenate(hits)) if hits else float("nan")
    for key, flags in protein_hits.items():
        out[key] = _mean(flags)
    out["per_protein"] = per_protein
    return out


def success_curve(
    records: Iterable[Mapping[str, Any]],
    criterion: PocketCriterion = "dca",
    cutoffs: Sequence[float] | np.ndarray | None = None,
    tolerance: int = 0,
) -> np.ndarray:
    """Ligand-centric top-(n + tolerance) success rate at each cutoff (report's curve).

    A ligand succeeds at cutoff d exactly when one of its protein's first
    ``n + tolerance`` pockets lies within d, so the per-ligand minimum distance
    over those pockets is computed once and compared with every cutoff: the
    curve is non-decreasing in d by construction, and at 4 Å equals
    :func:`evaluate_proteins`' ``{criterion}_top_n`` (tolerance 0). Proteins
    without relevant ligands are skipped, as there. ``cutoffs`` defaults to
    0–12 Å in 0.5 Å steps. NaN everywhere when there is no ligand.
    """
    _check_criterion(criterion)
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    grid = _DEFAULT_CURVE_CUTOFFS if cutoffs is None else np.asarray(cutoffs, dtype=np.float64).reshape(-1)
    best: list[np.ndarray] = []
    for record in records:
        _, centres, ligands = _record(record)
        if not ligands:
            continue
        allowed = centres[: len(ligands) + tolerance]
        if len(allowed) == 0:
            best.append(np.full(len(ligands), np.inf))
        else:
            best.append(_distance_matrix(allowed, ligands, criterion).min(axis=1))
    if not best:
        return np.full(len(grid), np.nan)
    closest = np.concatenate(best)
    return (closest[None, :] <= grid[:, None]).mean(axis=1)
