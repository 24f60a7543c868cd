"""A small real H5 training set for training/SWA tests (4 p2rank-test proteins)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pocknet.featurize.descriptors import DESCRIPTOR_NAMES
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.trainset.h5writer import H5Writer
from pocknet.trainset.neighbours import nearest_residues
from pocknet.embed.residue_chains import protein_residue_embeddings

PROTEINS = {
    "liganated/1a82a.pdb": "train",
    "liganated/1aaxa.pdb": "train",
    "liganated/2ck3b.pdb": "train",
    "liganated/1t7qa.pdb": "val",
}
K = 4


def write_h5(path: Path, p2rank_test: Path, embedding_dim: int = 0, embed=None) -> Path:
    """Train/val H5 of four proteins; embeddings random (``embedding_dim``) or from ``embed(sequence)``."""
    rng = np.random.default_rng(0)
    if embed is not None:
        embedding_dim = int(embed("ACDE").shape[1])
    with H5Writer(
        path,
        feature_names=DESCRIPTOR_NAMES,
        k=K,
        neighbour_distance="ca",
        embedding_model="fake" if embedding_dim else "none",
        embedding_layer=0 if embedding_dim else -1,
        embedding_dim=embedding_dim,
        params_json="{}",
    ) as writer:
        for rel, split in PROTEINS.items():
            f = featurize_file(p2rank_test / rel, FeaturizeConfig(), id=f"p2rank-test/{rel}")
            n, d = nearest_residues(f, K, "ca")
            if embed is not None:
                emb = protein_residue_embeddings(f, embed)
            elif embedding_dim:
                emb = rng.normal(size=(len(f.residue_chain), embedding_dim)).astype(np.float32)
            else:
                emb = None
            writer.add(f, split=split, neighbours=n, neighbour_dist=d, embeddings=emb)
    return path


def tiny_training_params(tmp: Path, **overrides) -> dict:
    params = {
        "seed": 3,
        "batch_size": 2048,
        "max_epochs": 2,
        "learning_rate": 0.003,
        "accelerator": "cpu",
        "devices": 1,
        "checkpoint_dir": str(tmp / "checkpoints"),
        "dvclive_dir": str(tmp / "dvclive"),
        "model": {"hidden": 16, "heads": 2, "rbf_centers": 4, "context": "none"},  # context: tests/model/test_context.py
    }
    params.update(overrides)
    return params
