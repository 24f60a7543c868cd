"""What ``pocknet evaluate`` scores against: structures, their relevant ligands, the 'unseen' subset.

* Structures come from a folder, a P2Rank ``.ds`` list or one file; ``--ds`` selects a list's
  entries (paths relative to the list, or found by file name under the structures folder).
* Ligands are the project's relevant ligands (SCIENCE.md §1, :func:`load_structure`); an apo
  structure named in an apo/holo pairs CSV (``apo_file, holo_file``, paths relative to the CSV)
  is scored against its holo partner's relevant ligands superposed by
  :func:`pocknet.evaluate.apo.transfer_ligands`, exactly as the reporting stage does for BU48.
* 'Unseen': no chain (≥ 20 residues) at or above an identity threshold to any reference
  sequence, identity from the leakage check (:func:`pocknet.trainset.splits.sequence_identity`:
  global alignment, terminal overhangs excluded).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pocknet.errors import PockNetError
from pocknet.evaluate.apo import transfer_ligands
from pocknet.structure.datasets import read_ds, scan_folder
from pocknet.structure.paths import is_structure_file
from pocknet.structure.reader import load_structure
from pocknet.trainset.splits import SplitConfig, identity_aligner, sequence_identity

__all__ = [
    "MIN_CHAIN_LENGTH",
    "Target",
    "apo_partners",
    "collect_targets",
    "load_target",
    "reference_sequences",
    "relevant_ligand_atoms",
    "unseen_flags",
]

log = logging.getLogger(__name__)

MIN_CHAIN_LENGTH = SplitConfig().min_chain_length  # shorter chains (peptides) are not aligned, as in the leakage check


@dataclass
class Target:
    """One structure to evaluate, and what was learnt loading it."""

    id: str
    path: Path
    chains: tuple[str, ...] | None = None
    holo: Path | None = None  # apo structure: the holo partner whose ligands it is scored against
    status: str = "not loaded"
    ligand_names: list[str] = field(default_factory=list)
    ligand_residues: list[str] = field(default_factory=list)
    ligands: list[np.ndarray] = field(default_factory=list)
    sequences: dict[str, str] = field(default_factory=dict)

    @property
    def evaluated(self) -> bool:
        return self.status == "ok"


def collect_targets(structures: str | Path, ds: str | Path | None = None) -> list[Target]:
    """Structures of a folder, a ``.ds`` list or a file; with ``ds``, that list's entries."""
    root = Path(structures)
    if not root.exists():
        raise PockNetError(f"{root}: no such structure file or folder")
    if ds is not None:
        dataset = read_ds(ds)
        by_name: dict[str, Path] = {}
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and is_structure_file(p)):
                by_name.setdefault(path.name, path)
        targets = []
        for entry in dataset.entries:
            path = entry.path if entry.path.is_file() else by_name.get(entry.path.name, entry.path)
            targets.append(Target(id=entry.columns["protein"], path=path, chains=entry.chains))
        return targets
    if root.is_dir():
        dataset = scan_folder(root)
        return [Target(id=e.id.split("/", 1)[1], path=e.path, chains=e.chains) for e in dataset.entries]
    if root.suffix == ".ds":
        return [Target(id=e.columns["protein"], path=e.path, chains=e.chains) for e in read_ds(root).entries]
    return [Target(id=root.name, path=root)]


def apo_partners(pairs_csv: str | Path, targets: list[Target]) -> None:
    """Give every target its holo partner from an apo/holo pairs CSV (``apo_file, holo_file``).

    Apo files are matched by path, else by file name. A target not in the file is not an apo
    structure with a reference: it is marked and not scored (its own HETATMs are no ligands to
    transfer), as the reporting stage does with BU48's unpaired apo 1krm.
    """
    path = Path(pairs_csv)
    try:
        pairs = pd.read_csv(path, dtype=str)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise PockNetError(f"{path}: unreadable apo pairs file ({exc})") from exc
    if not {"apo_file", "holo_file"} <= set(pairs.columns):
        raise PockNetError(f"{path}: apo pairs file needs columns apo_file, holo_file")
    by_path = {(path.parent / a).resolve(): path.parent / h for a, h in zip(pairs["apo_file"], pairs["holo_file"])}
    by_name = {Path(a).name: path.parent / h for a, h in zip(pairs["apo_file"], pairs["holo_file"])}
    for target in targets:
        target.holo = by_path.get(target.path.resolve(), by_name.get(target.path.name))
        if target.holo is None:
            target.status = f"not scored: no holo partner in {path.name}"


def load_target(target: Target) -> Target:
    """Read a target's relevant ligands (holo: its own; apo: the partner's, superposed) and chains."""
    if target.status.startswith("not scored"):
        return target
    try:
        structure = load_structure(target.path, chains=target.chains)
        target.sequences = structure.residues.sequences()
        if target.holo is None:
            ligands = structure.relevant_ligands
            target.ligands = [np.asarray(lig.coords, dtype=np.float64) for lig in ligands]
            target.ligand_names = [lig.name for lig in ligands]
            target.ligand_residues = [" ".join(lig.residue_ids) for lig in ligands]
        else:
            moved, stats = transfer_ligands(structure, load_structure(target.holo))
            target.ligands = [np.asarray(lig, dtype=np.float64) for lig in moved]
            target.ligand_names = list(stats["ligand_names"])
            target.ligand_residues = [f"from {target.holo.name}"] * len(moved)
    except PockNetError as exc:
        target.status = f"not scored: {exc}"
        return target
    target.status = "ok" if target.ligands else "no relevant ligand"
    return target


def relevant_ligand_atoms(path: str | Path, holo: str | Path | None = None) -> list[np.ndarray]:
    """Atom coordinates of the relevant ligands a structure is scored against (as in ``pocknet evaluate``)."""
    target = load_target(Target(id=Path(path).name, path=Path(path), holo=None if holo is None else Path(holo)))
    if target.status.startswith("not scored"):
        raise PockNetError(target.status.removeprefix("not scored: "))
    return target.ligands


def _read_fasta(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PockNetError(f"{path}: unreadable FASTA file ({exc})") from exc
    sequences: dict[str, str] = {}
    name = None
    for line in lines:
        line = line.strip()
        if line.startswith(">"):
            name = line[1:].split()[0] if line[1:].split() else f"sequence{len(sequences) + 1}"
            sequences[name] = ""
        elif line and name is not None:
            sequences[name] += "".join(line.split()).upper().rstrip("*")
    if not sequences:
        raise PockNetError(f"{path}: no FASTA records ('>' header lines) found")
    return sequences


def reference_sequences(path: str | Path) -> dict[str, str]:
    """Reference chains: a FASTA file, or every chain of the structures in a folder / ``.ds`` list / file."""
    path = Path(path)
    if not path.exists():
        raise PockNetError(f"{path}: no such FASTA file or structure folder")
    if path.is_file() and path.suffix != ".ds" and not is_structure_file(path):
        sequences = _read_fasta(path)
    else:
        sequences = {}
        for target in collect_targets(path):
            try:
                chains = load_structure(target.path).residues.sequences()
            except PockNetError as exc:
                log.warning("reference %s skipped: %s", target.path, exc)
                continue
            sequences.update({f"{target.id}:{chain}": seq for chain, seq in chains.items()})
    sequences = {k: v for k, v in sequences.items() if len(v) >= MIN_CHAIN_LENGTH}
    if not sequences:
        raise PockNetError(f"{path}: no reference chain of at least {MIN_CHAIN_LENGTH} residues")
    return sequences


def unseen_flags(targets: list[Target], references: dict[str, str], identity: float) -> pd.DataFrame:
    """Per target: ``structure, identity, similar_to, unseen``.

    ``unseen`` = no chain ≥ ``identity`` identical to a reference chain. ``identity`` is the
    highest identity found (the search of a target stops at its first hit at or above the
    threshold, so for seen targets it is that hit's), ``similar_to`` the reference it was to.
    """
    aligner = identity_aligner()
    cache: dict[tuple[str, str], float] = {}
    refs = list(references.items())
    rows = []
    for i, target in enumerate(targets, start=1):
        best, best_ref = 0.0, ""
        for seq in (s for s in target.sequences.values() if len(s) >= MIN_CHAIN_LENGTH):
            for ref_name, ref_seq in refs:
                key = (seq, ref_seq)
                if key not in cache:
                    cache[key] = sequence_identity(seq, ref_seq, aligner)
                if cache[key] > best:
                    best, best_ref = cache[key], ref_name
                if best >= identity:
                    break
            if best >= identity:
                break
        rows.append({"structure": target.id, "identity": round(best, 4), "similar_to": best_ref, "unseen": best < identity})
        if i % 50 == 0:
            log.info("identity to the reference: %d of %d structures", i, len(targets))
    return pd.DataFrame(rows, columns=["structure", "identity", "similar_to", "unseen"])
