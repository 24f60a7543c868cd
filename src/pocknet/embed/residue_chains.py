"""Per-chain views of a protein's residue table: sequences and embedding rows.

Residues in a feature file are grouped by chain (contiguous runs, file order),
so a chain is a slice ``start:stop`` of the residue table, and a protein's
residue embedding matrix is the concatenation of its chains' arrays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import numpy as np

from pocknet.featurize.features import ProteinFeatures

if TYPE_CHECKING:  # only the embedding stage's chain table needs pandas; `pocknet predict` does not
    import pandas as pd

__all__ = ["CHAIN_COLUMNS", "chain_slices", "chain_records", "chains_table", "protein_residue_embeddings"]

CHAIN_COLUMNS = ("protein", "chain", "start", "stop", "length", "sequence")


def chain_slices(features: ProteinFeatures) -> Iterator[tuple[str, int, int]]:
    """``(chain, start, stop)`` per contiguous chain run of the residue table."""
    chains = features.residue_chain
    if len(chains) == 0:
        return
    breaks = np.flatnonzero(chains[1:] != chains[:-1]) + 1
    starts = np.concatenate([[0], breaks])
    stops = np.concatenate([breaks, [len(chains)]])
    for start, stop in zip(starts.tolist(), stops.tolist()):
        yield str(chains[start]), start, stop


def chain_records(features: ProteinFeatures) -> list[dict]:
    return [
        {
            "protein": features.id,
            "chain": chain,
            "start": start,
            "stop": stop,
            "length": stop - start,
            "sequence": "".join(features.residue_one_letter[start:stop]),
        }
        for chain, start, stop in chain_slices(features)
    ]


def chains_table(proteins: Iterable[ProteinFeatures]) -> pd.DataFrame:
    import pandas as pd

    rows = [row for features in proteins for row in chain_records(features)]
    return pd.DataFrame(rows, columns=list(CHAIN_COLUMNS))


def protein_residue_embeddings(
    features: ProteinFeatures, lookup: Callable[[str], np.ndarray]
) -> np.ndarray:
    """[R, D] float32: each chain's embedding (looked up by sequence) in residue order."""
    blocks = []
    for chain, start, stop in chain_slices(features):
        sequence = "".join(features.residue_one_letter[start:stop])
        block = np.asarray(lookup(sequence), dtype=np.float32)
        if block.shape[0] != stop - start:
            raise ValueError(
                f"{features.id} chain {chain}: embedding has {block.shape[0]} rows for {stop - start} residues"
            )
        blocks.append(block)
    return np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype=np.float32)
