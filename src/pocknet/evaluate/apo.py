"""Apo structures: carry the holo partner's ligands into the apo frame.

BU48's ``apo/`` structures have no ligand; ``pairs.csv`` names the holo
structure of the same protein. To evaluate pockets predicted on an apo
structure, the holo structure is superposed on the apo one and its *relevant*
ligands (SCIENCE.md §1, decided in the holo structure) are moved with it:

1. :func:`match_residues` pairs residues by one alignment (BLOSUM62, gap open
   −10, extend −0.5: the scoring of :mod:`pocknet.trainset.splits`) of the concatenated
   one-letter sequences of all chains of each structure, in file order.
   Unlike :mod:`pocknet.trainset.splits`, **end gaps are free**: with penalised end
   gaps, a one-chain apo aligned to a two-chain holo of identical chains can
   jump from chain A to chain B at any point for the same score (an internal
   gap costs what the terminal overhang costs); on BU48 that scrambled
   8adh/1cdo and 1swb/1stp into 18–24 Å superpositions. Chains must come in
   the same order in both files; an extra chain on either side becomes a free
   overhang.
2. :func:`kabsch` fits holo Cα onto apo Cα. With refinement the fit is redone
   on the pairs that agree with it, so a hinge or loop motion between the apo
   and holo forms does not drag it off the well-superposed core.
3. :func:`transfer_ligands` fits **per ligand**, seeded on its binding site
   (matched residues with Cα within ``site_radius`` of a ligand atom) and
   grown by refinement to the rigid part that carries the site, then moves
   the ligand with that fit. One whole-structure fit is not enough on real
   pairs: 1a4j/1igj holds two Fab copies packed differently in the two
   crystals (whole-entry RMSD 16 Å, ligands dropped into the protein), and in
   a multi-domain protein the ligand should follow its own domain. A ligand
   whose site has fewer than 3 matched residues (bound to a chain the apo
   file does not contain, e.g. chains B–D of 5cna against the monomer 2ctv)
   has no counterpart in the apo structure: it is left out and listed in the
   stats rather than placed tens of Å away from the protein. ``site_radius =
   None`` gives the textbook single whole-structure fit for every ligand.

Ligands are **not** re-checked for relevance against the apo atoms: the apo
form often fills the site (side chains, a closed loop), so a clash or a shifted
"centre within 5.5 Å" test would drop exactly the cases apo evaluation is
meant to measure. Relevance is a property of the holo complex.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from Bio import Align
from Bio.Align import substitution_matrices
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from pocknet.errors import PockNetError
from pocknet.structure.records import Residues, Structure

__all__ = [
    "MIN_PAIRS",
    "SITE_RADIUS",
    "Superposition",
    "kabsch",
    "match_residues",
    "transfer_ligands",
]

MIN_PAIRS = 3  # a rigid fit in 3-D needs three non-collinear points
_REFINE_CUTOFF = 2.0  # Å, pairs closer than this are always kept
_REFINE_ROUNDS = 5
_REFINE_N_MAD = 2.0
SITE_RADIUS = 10.0  # Å, Cα within this of a ligand atom seed the ligand's fit


class Superposition(NamedTuple):
    """A rigid fit ``mobile @ rotation.T + translation ≈ target``.

    A tuple so it unpacks (``rotation, translation, rmsd, kept = kabsch(...)``)
    and has names. ``rmsd`` is over the ``kept`` pairs, those the final fit
    was computed on.
    """

    rotation: np.ndarray  # [3, 3], proper rotation (det +1)
    translation: np.ndarray  # [3]
    rmsd: float
    kept: np.ndarray  # [n] bool, pairs used in the final fit

    def apply(self, coords: np.ndarray) -> np.ndarray:
        """Move ``[m, 3]`` coordinates from the mobile into the target frame."""
        return np.asarray(coords, dtype=np.float64) @ self.rotation.T + self.translation


def _fit(mobile: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares proper rotation and translation (Kabsch: scipy's ``Rotation.align_vectors``).

    A rotation, never a reflection: a mirror image can fit a (near-)planar point
    set better, but is no motion of a protein. Degenerate sets (collinear points)
    get one of the equally good rotations.
    """
    mc, tc = mobile.mean(axis=0), target.mean(axis=0)
    fitted, _ = Rotation.align_vectors(target - tc, mobile - mc)
    rotation = fitted.as_matrix()
    return rotation, tc - mc @ rotation.T


def _deviations(
    mobile: np.ndarray, target: np.ndarray, rotation: np.ndarray, shift: np.ndarray
) -> np.ndarray:
    return np.linalg.norm(mobile @ rotation.T + shift - target, axis=1)


def kabsch(
    mobile: np.ndarray,
    target: np.ndarray,
    refine: bool = False,
    cutoff: float = _REFINE_CUTOFF,
    rounds: int = _REFINE_ROUNDS,
    start: np.ndarray | None = None,
) -> Superposition:
    """Rigid superposition of paired points, ``mobile @ R.T + t ≈ target``.

    Parameters
    ----------
    mobile, target
        ``[n, 3]`` paired coordinates, ``n >= 3``.
    refine
        Re-select the pairs and fit again: after each fit, keep every pair
        whose deviation is ``< max(cutoff, median + 2·MAD)`` (median and MAD of
        the deviations of the pairs used in that fit), at most ``rounds``
        times or until the selection stops changing. From all pairs this
        rejects outliers: with a displaced domain holding less than half of
        the pairs, the median follows the larger rigid part and the next fit
        is on that part alone. ``cutoff`` keeps every pair of an already good
        fit (a 0.5 Å-RMSD superposition is not pruned). A selection of fewer
        than 3 pairs is not applied.
    cutoff
        Deviation in Å always accepted during refinement.
    rounds
        Maximum number of refits after the first one.
    start
        Boolean mask of the pairs for the first fit (default: all). A seed
        such as a binding site grows, with ``refine``, into the rigid part of
        the structure that moves with it.

    Returns
    -------
    Superposition
        ``(rotation, translation, rmsd, kept)``; ``rotation`` has det +1 and
        ``rmsd`` is over the ``kept`` pairs of the final fit.

    Raises
    ------
    ValueError
        Shapes differ or are not ``[n, 3]``, fewer than 3 (starting) pairs, or
        non-finite values.
    """
    m = np.asarray(mobile, dtype=np.float64)
    t = np.asarray(target, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] != 3 or m.shape != t.shape:
        raise ValueError(f"mobile {m.shape} and target {t.shape} must both be [n, 3]")
    if not (np.isfinite(m).all() and np.isfinite(t).all()):
        raise ValueError("superposition coordinates contain non-finite values")
    kept = np.ones(len(m), dtype=bool) if start is None else np.asarray(start, dtype=bool).copy()
    if kept.shape != (len(m),):
        raise ValueError(f"start mask has shape {kept.shape}, expected ({len(m)},)")
    if int(kept.sum()) < MIN_PAIRS:
        raise ValueError(f"a superposition needs at least {MIN_PAIRS} pairs, got {int(kept.sum())}")
    rotation, shift = _fit(m[kept], t[kept])
    if refine:
        for _ in range(rounds):
            dev = _deviations(m, t, rotation, shift)
            median = float(np.median(dev[kept]))
            mad = float(np.median(np.abs(dev[kept] - median)))
            new_kept = dev < max(cutoff, median + _REFINE_N_MAD * mad)
            if int(new_kept.sum()) < MIN_PAIRS or np.array_equal(new_kept, kept):
                break
            kept = new_kept
            rotation, shift = _fit(m[kept], t[kept])
    dev = _deviations(m[kept], t[kept], rotation, shift)
    return Superposition(rotation, shift, float(np.sqrt(np.mean(dev**2))), kept)


def _aligner() -> Align.PairwiseAligner:
    """Global BLOSUM62 aligner with the gap scores of :mod:`pocknet.trainset.splits`, end gaps free.

    Free end gaps keep a chain aligned to one partner chain (module docstring).
    """
    aligner = Align.PairwiseAligner()
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10.0
    aligner.extend_gap_score = -0.5
    aligner.mode = "global"
    aligner.end_gap_score = 0.0
    return aligner


def _sequence(residues: Residues, alphabet: str) -> str:
    """All chains' one-letter codes concatenated in file order; letters outside BLOSUM62 as X."""
    return "".join(c if c in alphabet else "X" for c in "".join(residues.one_letter).upper())


def match_residues(
    apo: Residues,
    holo: Residues,
    apo_name: str = "apo",
    holo_name: str = "holo",
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of aligned apo/holo residue pairs that both have a Cα.

    Every aligned (non-gap) column counts, identical letters or not: apo/holo
    partners are the same protein, so a mismatch is a mutation or an unknown
    residue (X), still at the same place in the fold. See the module
    docstring for how chains are handled.

    Parameters
    ----------
    apo, holo
        Residue tables of the two structures.
    apo_name, holo_name
        File names used in the error message.

    Returns
    -------
    tuple of np.ndarray
        ``(apo_rows, holo_rows)``, int64 indices into ``apo`` and ``holo``,
        increasing, of equal length.

    Raises
    ------
    PockNetError
        Fewer than :data:`MIN_PAIRS` pairs: the structures cannot be superposed.
    """
    aligner = _aligner()
    alphabet = aligner.substitution_matrix.alphabet
    a, h = _sequence(apo, alphabet), _sequence(holo, alphabet)
    if a and h:
        columns = np.asarray(aligner.align(a, h)[0].indices)
        both = (columns[0] >= 0) & (columns[1] >= 0)
        apo_rows, holo_rows = columns[0, both].astype(np.int64), columns[1, both].astype(np.int64)
        has_ca = np.isfinite(apo.ca[apo_rows]).all(axis=1) & np.isfinite(holo.ca[holo_rows]).all(axis=1)
        apo_rows, holo_rows = apo_rows[has_ca], holo_rows[has_ca]
    else:
        apo_rows = holo_rows = np.zeros(0, dtype=np.int64)
    if len(apo_rows) < MIN_PAIRS:
        raise PockNetError(
            f"{apo_name} vs {holo_name}: only {len(apo_rows)} aligned residue pair(s) with C-alpha "
            f"atoms (need {MIN_PAIRS}); are these the same protein?"
        )
    return apo_rows, holo_rows


def transfer_ligands(
    apo: Structure,
    holo: Structure,
    refine: bool = True,
    site_radius: float | None = SITE_RADIUS,
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The holo structure's relevant ligands, moved into the apo frame.

    Parameters
    ----------
    apo, holo
        The two structures; residues are paired by :func:`match_residues`.
    refine
        Outlier rejection / seed growth in every :func:`kabsch` fit.
    site_radius
        Each ligand gets its own fit seeded on the matched residues whose holo
        Cα lies within this distance (Å) of one of its atoms; a ligand with
        fewer than 3 such residues is dropped (module docstring). ``None``:
        one whole-structure fit moves every ligand and none is dropped.

    Returns
    -------
    ligands
        One ``[m_i, 3]`` array per transferred ligand, in holo order.
    stats
        ``pairs`` (aligned Cα pairs), ``identity`` (fraction of them with
        identical letters), ``kept_pairs`` and ``rmsd`` (Å, over the kept
        pairs) of the whole-structure fit — how alike the two forms are;
        per transferred ligand ``ligand_names``, ``ligand_kept_pairs`` and
        ``ligand_rmsd`` of the fit that moved it; ``dropped_ligands`` (names).
        Relevance is not re-evaluated against the apo atoms.

    Raises
    ------
    PockNetError
        The two structures share fewer than 3 aligned Cα pairs.
    """
    apo_rows, holo_rows = match_residues(
        apo.residues, holo.residues, apo_name=str(apo.path), holo_name=str(holo.path)
    )
    mobile, target = holo.residues.ca[holo_rows], apo.residues.ca[apo_rows]
    whole = kabsch(mobile, target, refine=refine)
    ligands: list[np.ndarray] = []
    names: list[str] = []
    kept: list[int] = []
    rmsd: list[float] = []
    dropped: list[str] = []
    for ligand in holo.relevant_ligands:
        fit = whole
        if site_radius is not None:
            site = cKDTree(ligand.coords).query(mobile, distance_upper_bound=site_radius)[0] <= site_radius
            if int(site.sum()) < MIN_PAIRS:
                dropped.append(ligand.name)
                continue
            fit = kabsch(mobile, target, refine=refine, start=site)
        ligands.append(fit.apply(ligand.coords))
        names.append(ligand.name)
        kept.append(int(fit.kept.sum()))
        rmsd.append(fit.rmsd)
    identical = apo.residues.one_letter[apo_rows] == holo.residues.one_letter[holo_rows]
    stats: dict[str, Any] = {
        "pairs": len(apo_rows),
        "identity": float(identical.mean()),
        "kept_pairs": int(whole.kept.sum()),
        "rmsd": whole.rmsd,
        "ligand_names": names,
        "ligand_kept_pairs": kept,
        "ligand_rmsd": rmsd,
        "dropped_ligands": dropped,
    }
    return ligands, stats
