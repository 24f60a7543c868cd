"""Sequence clusters of proteins, so train and validation never share a homologue.

HOLO4K is redundant (many entries of one protein family): a split by PDB entry puts close
homologues on both sides and makes validation optimistic, which then biases every choice
made on it. Here two proteins fall in one group when they share a PDB entry or any of their
chains (≥ ``min_chain_length`` residues) are ≥ ``identity`` identical — single linkage over
chains, closed transitively with a union-find — and whole groups go to one side.

Identity comes from one of two engines:

``biopython``
    all-vs-all global alignment (BLOSUM62, terminal overhangs excluded; the leakage check's
    :func:`pocknet.trainset.splits.sequence_identity`) over *distinct* sequences. Exact and
    dependency-free, quadratic: fine for CHEN11 (~300 chains, seconds), slow for thousands.
``mmseqs``
    ``mmseqs easy-search`` all-vs-all (Debian package ``mmseqs2``), hits with sequence identity
    ≥ ``identity`` over ≥ 50 % of the shorter chain, as HOLO4K's own leakage filter was built.
    One thread, so the result does not depend on the machine.

``auto`` takes mmseqs when it is on the PATH, else Biopython (with a log line saying so).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from pocknet.errors import ConfigError, PockNetError

__all__ = ["CLUSTER_METHODS", "similar_sequence_pairs", "protein_groups", "mmseqs_search", "mmseqs_executable"]

log = logging.getLogger(__name__)

CLUSTER_METHODS = ("auto", "biopython", "mmseqs")
_MMSEQS_COVERAGE = 0.5


class _UnionFind:
    def __init__(self, items: Iterable[str]) -> None:
        self.parent = {item: item for item in items}

    def find(self, item: str) -> str:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:  # path compression
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the smaller key is the root: order-independent


def _pairs_biopython(sequences: Sequence[str], identity: float) -> set[tuple[int, int]]:
    from pocknet.trainset.splits import identity_aligner, sequence_identity

    aligner = identity_aligner()
    pairs = set()
    for i in range(len(sequences)):
        for j in range(i + 1, len(sequences)):
            if sequence_identity(sequences[i], sequences[j], aligner) >= identity:
                pairs.add((i, j))
    return pairs


def mmseqs_executable() -> str:
    executable = shutil.which("mmseqs")
    if executable is None:
        raise ConfigError("splits.cluster_method is mmseqs but `mmseqs` is not on the PATH (Debian: mmseqs2)")
    return executable


def mmseqs_search(
    queries: Sequence[str], targets: Sequence[str], identity: float, executable: str | None = None
) -> pd.DataFrame:
    """Hits ``query, target, fident`` (indices into the sequences) with identity ≥ ``identity``
    over ≥ 50 % of the shorter chain, as HOLO4K's own leakage filter was built; one thread, so
    the hits do not depend on the machine."""
    executable = executable or mmseqs_executable()
    with tempfile.TemporaryDirectory(prefix="pocknet-mmseqs-") as tmp:
        folder = Path(tmp)
        query_fasta, target_fasta = folder / "queries.fasta", folder / "targets.fasta"
        query_fasta.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(queries)), encoding="ascii")
        target_fasta.write_text("".join(f">{i}\n{s}\n" for i, s in enumerate(targets)), encoding="ascii")
        cmd = [
            executable, "easy-search", str(query_fasta), str(target_fasta), str(folder / "hits.m8"), str(folder / "tmp"),
            "--min-seq-id", str(identity), "-c", str(_MMSEQS_COVERAGE), "--cov-mode", "0",
            "-s", "7.5", "-e", "1e-3", "--threads", "1", "-v", "1",
            "--format-output", "query,target,fident",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PockNetError(f"mmseqs easy-search failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
        hits = pd.read_csv(folder / "hits.m8", sep="\t", header=None, names=["query", "target", "fident"])
    hits = hits[hits["fident"] >= identity].astype({"query": int, "target": int})
    # one row per pair (mmseqs may report several local alignments), best identity, stable order
    return hits.groupby(["query", "target"], as_index=False)["fident"].max().sort_values(["query", "target"])


def _pairs_mmseqs(sequences: Sequence[str], identity: float, executable: str) -> set[tuple[int, int]]:
    hits = mmseqs_search(sequences, sequences, identity, executable)
    hits = hits[hits["query"] != hits["target"]]
    return {(min(q, t), max(q, t)) for q, t in zip(hits["query"], hits["target"])}


def resolve_method(method: str) -> str:
    """``mmseqs`` or ``biopython``: ``auto`` is mmseqs when it is on the PATH (every search of a run agrees)."""
    if method not in CLUSTER_METHODS:
        raise ConfigError(f"splits.cluster_method must be one of {CLUSTER_METHODS}, got {method!r}")
    if method == "mmseqs":
        mmseqs_executable()  # raises, naming the Debian package
    if method == "auto":
        method = "mmseqs" if shutil.which("mmseqs") else "biopython"
        if method == "biopython":
            log.info("mmseqs not found: sequence identities from Biopython alignments (all against all)")
    return method


def similar_sequence_pairs(sequences: Sequence[str], identity: float, method: str = "auto") -> set[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of sequences at or above ``identity``.

    Identical sequences are compared once; every copy inherits the result.
    """
    method = resolve_method(method)
    distinct = sorted(set(sequences))
    index = {s: i for i, s in enumerate(distinct)}
    if method == "mmseqs":
        unique_pairs = _pairs_mmseqs(distinct, identity, mmseqs_executable())
    else:
        unique_pairs = _pairs_biopython(distinct, identity)
    by_distinct: dict[int, list[int]] = {}
    for position, sequence in enumerate(sequences):
        by_distinct.setdefault(index[sequence], []).append(position)
    pairs = set()
    for copies in by_distinct.values():  # identical sequences are 100 % identical
        pairs.update((a, b) for k, a in enumerate(copies) for b in copies[k + 1 :])
    for i, j in unique_pairs:
        pairs.update((min(a, b), max(a, b)) for a in by_distinct[i] for b in by_distinct[j])
    return pairs


def protein_groups(
    chains: pd.DataFrame,
    entries: Mapping[str, str],
    identity: float,
    min_chain_length: int = 20,
    method: str = "auto",
) -> dict[str, str]:
    """Protein → group key (the smallest PDB entry of its group).

    ``chains`` has columns ``protein, chain, sequence``; ``entries`` maps every protein to its
    PDB entry (proteins without chains still get a group: their entry's).
    """
    union = _UnionFind(entries)
    by_entry: dict[str, list[str]] = {}
    for protein, entry in entries.items():
        by_entry.setdefault(entry, []).append(protein)
    for members in by_entry.values():
        for other in members[1:]:
            union.union(members[0], other)
    usable = chains[chains["protein"].isin(entries.keys()) & (chains["sequence"].str.len() >= min_chain_length)]
    proteins = usable["protein"].tolist()
    for i, j in similar_sequence_pairs(usable["sequence"].tolist(), identity, method):
        union.union(proteins[i], proteins[j])
    roots = {protein: union.find(protein) for protein in entries}
    key_of_root: dict[str, str] = {}
    for protein, root in roots.items():
        entry = entries[protein]
        key_of_root[root] = min(key_of_root.get(root, entry), entry)
    return {protein: key_of_root[root] for protein, root in roots.items()}
