"""Sequence-cluster splits: no two ≥ 30 % identical chains on both sides of train/validation."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from pocknet.errors import ConfigError
from pocknet.trainset.clusters import protein_groups, similar_sequence_pairs
from pocknet.trainset.splits import SplitConfig, assign_splits, sequence_identity

AMINO = "ACDEFGHIKLMNPQRSTVWY"
METHODS = ["biopython", pytest.param("mmseqs", marks=pytest.mark.skipif(
    shutil.which("mmseqs") is None, reason="mmseqs2 not installed (Debian package mmseqs2)"))]  # fmt: skip


def _random(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list(AMINO), n))


def _mutate(rng: np.random.Generator, seq: str, fraction: float) -> str:
    out = list(seq)
    for i in rng.choice(len(seq), int(fraction * len(seq)), replace=False):
        out[i] = rng.choice([a for a in AMINO if a != out[i]])
    return "".join(out)


@pytest.fixture(scope="module")
def family() -> dict[str, str]:
    """a ~ b (~60 % identical), b ~ c (~60 %), a vs c lower; d and e unrelated; f = a exactly."""
    rng = np.random.default_rng(3)
    a = _random(rng, 160)
    b = _mutate(rng, a, 0.4)
    c = _mutate(rng, b, 0.4)
    return {"a": a, "b": b, "c": c, "d": _random(rng, 150), "e": _random(rng, 140), "f": a}


@pytest.mark.parametrize("method", METHODS)
def test_similar_pairs_on_a_hand_built_family(family: dict[str, str], method: str) -> None:
    names = list(family)
    pairs = {(names[i], names[j]) for i, j in similar_sequence_pairs(list(family.values()), 0.3, method)}
    assert {("a", "b"), ("b", "c"), ("a", "f"), ("b", "f")} <= pairs
    assert not any("d" in p or "e" in p for p in pairs)


@pytest.mark.parametrize("method", METHODS)
def test_groups_are_single_linkage_over_chains_and_entries(family: dict[str, str], method: str) -> None:
    chains = pd.DataFrame(
        [("x/1aaa_a", "A", family["a"]), ("x/2bbb_b", "A", family["d"]), ("x/2bbb_b", "B", family["c"]),
         ("x/3ccc_c", "A", family["b"]), ("x/4ddd_d", "A", family["e"]), ("x/4ddd_e", "A", "ACD")],
        columns=["protein", "chain", "sequence"],
    )  # fmt: skip
    entries = {"x/1aaa_a": "1aaa", "x/2bbb_b": "2bbb", "x/3ccc_c": "3ccc", "x/4ddd_d": "4ddd", "x/4ddd_e": "4ddd"}
    groups = protein_groups(chains, entries, 0.3, min_chain_length=20, method=method)
    # 1aaa ~ 3ccc through a ~ b; 2bbb joins through its chain B (c ~ b); 4ddd's two files share an entry
    assert groups == {"x/1aaa_a": "1aaa", "x/2bbb_b": "1aaa", "x/3ccc_c": "1aaa", "x/4ddd_d": "4ddd", "x/4ddd_e": "4ddd"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_split_never_puts_homologues_on_both_sides(seed: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for family_index in range(8):
        root = _random(rng, 120)
        for member in range(3):
            rows.append((f"chen11/{family_index}{member}aa.pdb", "A", _mutate(rng, root, 0.45)))
    chains = pd.DataFrame(rows, columns=["protein", "chain", "sequence"])
    config = SplitConfig(group_by="sequence_cluster", cluster_method=method, validation_fraction=0.3, seed=seed)
    splits = assign_splits(sorted(chains["protein"]), config, chains=chains)
    assert set(splits["split"]) == {"train", "val"} and "group" in splits
    side = dict(zip(splits["protein"], splits["split"]))
    seqs = list(chains.itertuples(index=False))
    for i, (p, _, s) in enumerate(seqs):
        for q, _, t in seqs[i + 1 :]:
            if sequence_identity(s, t) >= 0.3:
                assert side[p] == side[q], (p, q)
    assert assign_splits(sorted(chains["protein"]), config, chains=chains).equals(splits)  # deterministic


def test_entry_split_keeps_its_layout_and_cluster_split_needs_chains() -> None:
    ids = ["chen11/a_1abc.pdb", "chen11/b_2abc.pdb"]
    assert list(assign_splits(ids, SplitConfig(group_by="entry")).columns) == ["protein", "dataset", "entry", "split"]
    with pytest.raises(ConfigError, match="chain sequences"):
        assign_splits(ids, SplitConfig(group_by="sequence_cluster"))
    with pytest.raises(ConfigError, match="group_by"):
        SplitConfig.from_params({"group_by": "chain"})
    with pytest.raises(ConfigError, match="cluster_method"):
        similar_sequence_pairs(["ACD"], 0.3, "blast")


@pytest.mark.parametrize("method", METHODS)
def test_external_homologues_define_the_unseen_subset(family: dict[str, str], method: str) -> None:
    from pocknet.trainset.splits import external_homologues

    chains = pd.DataFrame(
        [("chen11/1aaa.pdb", "A", family["a"]), ("coach420/2bbbA.pdb", "A", family["b"]),
         ("coach420/3cccA.pdb", "A", family["d"]), ("bu48/holo/4ddd.pdb", "A", family["e"])],
        columns=["protein", "chain", "sequence"],
    )  # fmt: skip
    config = SplitConfig(group_by="entry", validation_fraction=0.0, cluster_method=method)
    splits = assign_splits(sorted(chains["protein"]), config)
    homologues = external_homologues(chains, splits, config)
    assert homologues[["protein", "train_protein"]].values.tolist() == [["coach420/2bbbA.pdb", "chen11/1aaa.pdb"]]
    assert homologues["identity"].iloc[0] >= 0.3  # coach420/3cccA is unseen; test chains are not compared
