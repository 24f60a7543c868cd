"""Train / validation / test splits and the sequence-leakage check (SCIENCE.md §6).

* Structures of the datasets named as test (BU48) are ``test``; those named as
  external (COACH420, HOLO4K) are ``external``. Nothing is chosen on either.
* The rest split into ``train`` / ``val`` **by group, never by chain**, drawn with a fixed
  seed: ``group_by: entry`` keeps all chains and files of one PDB entry on one side;
  ``group_by: sequence_cluster`` also keeps proteins with ≥ ``cluster_identity`` identical
  chains together (single linkage; :mod:`pocknet.trainset.clusters`), which a redundant set
  such as HOLO4K needs for an honest validation score.
* Leakage: every train/val chain is aligned (global, BLOSUM62) to every test
  chain; identity = identical columns / (aligned columns + internal gaps), i.e.
  terminal overhangs do not dilute it. Pairs at or above the threshold are
  reported and, when asked, their train/val structures are dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from Bio import Align
from Bio.Align import substitution_matrices

from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError

__all__ = [
    "SplitConfig",
    "pdb_entry",
    "assign_splits",
    "identity_aligner",
    "sequence_identity",
    "find_leaks",
    "external_homologues",
    "apply_leaks",
    "split_counts",
]

_PDB_TOKEN = re.compile(r"^[0-9][0-9a-zA-Z]{3}[A-Za-z0-9]?$")
SPLITS = ("train", "val", "test", "external")


@dataclass(frozen=True)
class SplitConfig:
    test_datasets: tuple[str, ...] = ("bu48",)
    external_datasets: tuple[str, ...] = ("coach420",)
    validation_fraction: float = 0.2
    seed: int = 42
    leakage_identity: float = 0.3
    drop_leaks: bool = True
    min_chain_length: int = 20  # shorter chains (peptides) are not aligned
    group_by: str = "sequence_cluster"  # entry | sequence_cluster
    cluster_identity: float = 0.3
    cluster_method: str = "mmseqs"  # mmseqs | biopython | auto (pocknet.trainset.clusters)

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "SplitConfig":
        params = params or {}
        config = dataclass_from_params(
            cls,
            params,
            "splits",
            **{k: tuple(str(v).lower() for v in params.get(k) or ()) for k in ("test_datasets", "external_datasets")},
        )
        if not 0.0 <= config.validation_fraction < 1.0:
            raise ConfigError(f"splits.validation_fraction must be in [0, 1), got {config.validation_fraction}")
        if config.group_by not in ("entry", "sequence_cluster"):
            raise ConfigError(f"splits.group_by must be entry or sequence_cluster, got {config.group_by!r}")
        return config


def pdb_entry(name: str) -> str:
    """The 4-character PDB entry of a structure name (lower case).

    Handles ``a.001.001.001_1s69a`` (CHEN11), ``1a26A`` (COACH420), ``1ivd``
    (BU48), ``1i7xA_to_1i7wA`` (apo: the first entry); falls back to the name.
    """
    stem = name.rsplit("/", 1)[-1]
    for suffix in (".gz", ".pdb", ".ent", ".cif", ".mmcif"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    for token in re.split(r"[_.\-]", stem):
        if _PDB_TOKEN.match(token):
            return token[:4].lower()
    return stem.lower()


def _dataset_of(protein_id: str) -> str:
    return protein_id.split("/", 1)[0].lower()


def _draw(key: str, seed: int) -> float:
    """A uniform number in [0, 1) fixed by (entry, seed): stable under adding/removing other entries."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_splits(
    protein_ids: Sequence[str], config: SplitConfig, chains: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per protein: ``protein, dataset, entry, [group,] split`` (group: sequence clusters only).

    Train/val groups (PDB entries, or sequence clusters with ``group_by: sequence_cluster``,
    which needs ``chains``: ``protein, chain, sequence``) are ranked by a hash of (seed, group
    key) and taken into validation in that order until it holds ``validation_fraction`` of the
    train/val proteins. A group's draw does not depend on the others, so adding a dataset
    moves few proteins.
    """
    rows = []
    for pid in protein_ids:
        dataset = _dataset_of(pid)
        split = "test" if dataset in config.test_datasets else "external" if dataset in config.external_datasets else ""
        rows.append({"protein": pid, "dataset": dataset, "entry": pdb_entry(pid), "split": split})
    frame = pd.DataFrame(rows, columns=["protein", "dataset", "entry", "split"])
    open_rows = frame["split"] == ""
    if config.group_by == "sequence_cluster":
        if chains is None:
            raise ConfigError("splits.group_by sequence_cluster needs the proteins' chain sequences")
        from pocknet.trainset.clusters import protein_groups

        pool = frame[open_rows]
        groups = protein_groups(chains, dict(zip(pool["protein"], pool["entry"])), config.cluster_identity,
                                config.min_chain_length, config.cluster_method)  # fmt: skip
        frame["group"] = frame["protein"].map(groups).fillna(frame["entry"])
        sizes = frame[open_rows].groupby("group").size()
        target = config.validation_fraction * int(open_rows.sum())
        val_groups, taken = set(), 0
        for group in sorted(sizes.index, key=lambda g: _draw(g, config.seed)):
            if taken >= target:
                break
            val_groups.add(group)
            taken += int(sizes[group])
    else:  # by PDB entry: the lowest ceil(fraction * entries) draws go to validation
        frame["group"] = frame["entry"]
        pool_entries = sorted(set(frame.loc[open_rows, "entry"]))
        n_val = int(np.ceil(config.validation_fraction * len(pool_entries)))
        val_groups = set(sorted(pool_entries, key=lambda e: _draw(e, config.seed))[:n_val])
    frame.loc[open_rows, "split"] = np.where(frame.loc[open_rows, "group"].isin(val_groups), "val", "train")
    if config.group_by == "entry":  # the group is the entry column: the file keeps its old layout
        return frame[["protein", "dataset", "entry", "split"]]
    return frame[["protein", "dataset", "entry", "group", "split"]]


def identity_aligner() -> Align.PairwiseAligner:
    """Global BLOSUM62 aligner (gap open -10, extend -0.5) behind every identity in the project."""
    aligner = Align.PairwiseAligner()
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -10.0
    aligner.extend_gap_score = -0.5
    aligner.mode = "global"
    return aligner


def _clean(sequence: str, alphabet: str) -> str:
    return "".join(c if c in alphabet else "X" for c in sequence.upper())


def sequence_identity(a: str, b: str, aligner: Align.PairwiseAligner | None = None) -> float:
    """Identity of the best global alignment, terminal overhangs excluded.

    Letters outside BLOSUM62 (U, O, …) are aligned as X.
    """
    if not a or not b:
        return 0.0
    aligner = aligner or identity_aligner()
    alphabet = aligner.substitution_matrix.alphabet
    a, b = _clean(a, alphabet), _clean(b, alphabet)
    counts = (aligner.align(a, b)[0]).counts()
    columns = counts.aligned + counts.internal_gaps
    return counts.identities / columns if columns else 0.0


def _identity_hits(
    queries: pd.DataFrame, targets: pd.DataFrame, threshold: float, desc: str, progress: Any = None
) -> list[tuple[str, str, str, str, float]]:
    """``(protein, chain, target_protein, target_chain, identity)`` for every pair ≥ ``threshold``."""
    aligner = identity_aligner()
    identity_cache: dict[tuple[str, str], float] = {}
    rows = []
    target_rows = list(targets[["protein", "chain", "sequence"]].itertuples(index=False))
    items: Iterable = queries[["protein", "chain", "sequence"]].itertuples(index=False)
    if progress is not None:
        items = progress(items, total=len(queries), desc=desc, unit="chain")
    for protein, chain, seq in items:
        for t_protein, t_chain, t_seq in target_rows:
            key = (seq, t_seq)
            if key not in identity_cache:
                identity_cache[key] = sequence_identity(seq, t_seq, aligner)
            identity = identity_cache[key]
            if identity >= threshold:
                rows.append((protein, chain, t_protein, t_chain, round(identity, 4)))
    return rows


def _cross_split_hits(
    chains: pd.DataFrame, splits: pd.DataFrame, config: SplitConfig, query_splits: tuple[str, ...],
    target_splits: tuple[str, ...], columns: list[str], desc: str, progress: Any,
) -> pd.DataFrame:
    """Chains of ``query_splits`` ≥ ``leakage_identity`` identical to a chain of ``target_splits``."""
    merged = chains.merge(splits[["protein", "split"]], on="protein")
    merged = merged[merged["sequence"].str.len() >= config.min_chain_length]
    queries, targets = merged[merged["split"].isin(query_splits)], merged[merged["split"].isin(target_splits)]
    if queries.empty or targets.empty:
        return pd.DataFrame(columns=columns)
    from pocknet.trainset.clusters import resolve_method

    if resolve_method(config.cluster_method) == "mmseqs":  # thousands of chains: Biopython's all-vs-all takes hours
        return _mmseqs_hits(queries, targets, config.leakage_identity, columns)
    return pd.DataFrame(_identity_hits(queries, targets, config.leakage_identity, desc, progress), columns=columns)


def _mmseqs_hits(queries: pd.DataFrame, targets: pd.DataFrame, threshold: float, columns: list[str]) -> pd.DataFrame:
    """As :func:`_identity_hits` (same rows, same order), with mmseqs2 identities (local, ≥ 50 % coverage
    of the shorter chain); distinct sequences are searched once and joined back to their chains."""
    from pocknet.trainset.clusters import mmseqs_search

    q_seqs, t_seqs = sorted(set(queries["sequence"])), sorted(set(targets["sequence"]))
    hits = mmseqs_search(q_seqs, t_seqs, threshold)
    hits = pd.DataFrame({"q_seq": [q_seqs[q] for q in hits["query"]], "t_seq": [t_seqs[t] for t in hits["target"]],
                         columns[4]: [round(float(f), 4) for f in hits["fident"]]})  # fmt: skip
    q = queries[["protein", "chain", "sequence"]].reset_index(drop=True).rename_axis("q_row").reset_index()
    q.columns = ["q_row", columns[0], columns[1], "sequence"]
    t = targets[["protein", "chain", "sequence"]].reset_index(drop=True).rename_axis("t_row").reset_index()
    t.columns = ["t_row", columns[2], columns[3], "t_seq"]
    joined = q.merge(hits, left_on="sequence", right_on="q_seq").merge(t, on="t_seq")
    joined = joined.sort_values(["q_row", "t_row"])  # query chains in order, then target chains: the loop's order
    return joined[columns].reset_index(drop=True)


def find_leaks(
    chains: pd.DataFrame, splits: pd.DataFrame, config: SplitConfig, progress: Any = None
) -> pd.DataFrame:
    """Train/val chains ≥ ``leakage_identity`` identical to a test chain.

    ``chains`` has columns ``protein, chain, sequence``. Returns one row per
    leaking pair: ``protein, chain, test_protein, test_chain, identity``.
    """
    columns = ["protein", "chain", "test_protein", "test_chain", "identity"]
    return _cross_split_hits(chains, splits, config, ("train", "val"), ("test",), columns, "leakage check", progress)


def external_homologues(
    chains: pd.DataFrame, splits: pd.DataFrame, config: SplitConfig, progress: Any = None
) -> pd.DataFrame:
    """External-set chains (COACH420) ≥ ``leakage_identity`` identical to a train or validation chain.

    Reported, never dropped: the external set is evaluated whole, and also on its "unseen"
    subset, the structures with no row here (validation counts as seen: choices are made on
    it). Columns ``protein, chain, train_protein, train_chain, identity``.
    """
    columns = ["protein", "chain", "train_protein", "train_chain", "identity"]
    return _cross_split_hits(chains, splits, config, ("external",), ("train", "val"), columns,
                             "external homologues", progress)  # fmt: skip


def apply_leaks(splits: pd.DataFrame, leaks: pd.DataFrame, config: SplitConfig) -> pd.DataFrame:
    """Mark leaking train/val structures ``dropped`` when ``drop_leaks`` (else keep them, reported)."""
    out = splits.copy()
    out["leak"] = out["protein"].isin(set(leaks["protein"]))
    if config.drop_leaks:
        out.loc[out["leak"] & out["split"].isin(["train", "val"]), "split"] = "dropped"
    return out


def split_counts(splits: pd.DataFrame) -> dict[str, int]:
    return {s: int(np.sum(splits["split"] == s)) for s in (*SPLITS, "dropped")}
