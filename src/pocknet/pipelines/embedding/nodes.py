"""Thin nodes: read chains from feature files, embed them through pocknet.embed (embedder, cache)."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pandas as pd

from pocknet.embed.cache import EmbeddingCache, embed_with_cache, prune_cache, sequence_key
from pocknet.embed.config import EmbeddingConfig
from pocknet.embed.embedder import EsmEmbedder
from pocknet.featurize.features import ProteinFeatures
from pocknet.progress import progress
from pocknet.embed.residue_chains import chains_table

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["protein", "chain", "length", "model", "layer", "dim", "key"]


def collect_chains(protein_features: dict[str, Callable[[], ProteinFeatures]]) -> pd.DataFrame:
    """One row per chain of every featurised protein (sorted by protein id)."""
    loaders = [protein_features[key] for key in sorted(protein_features)]
    return chains_table(load() for load in progress(loaders, total=len(loaders), desc="chains", unit="protein"))


def embed_chains(residue_chains: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Embed every distinct chain sequence into the cache; return the manifest.

    With ``model: none`` no embedding is computed and the manifest says so, so
    the H5 file and everything downstream record a tabular-only run.
    """
    config = EmbeddingConfig.from_params(params)
    if config.is_none:
        log.info("embedding.model is none: no embeddings (tabular-only)")
        prune_cache(config.cache_dir, keep=())
        manifest = residue_chains[["protein", "chain", "length"]].copy()
        manifest["model"], manifest["layer"], manifest["dim"], manifest["key"] = "none", -1, 0, ""
        return manifest[MANIFEST_COLUMNS]
    embedder = EsmEmbedder(config)
    cache = EmbeddingCache.for_embedder(config.cache_dir, embedder)
    sequences = sorted(set(residue_chains["sequence"]))
    embed_with_cache(sequences, embedder, cache)
    prune_cache(config.cache_dir, keep=[cache.path_for(s) for s in sequences])
    manifest = residue_chains[["protein", "chain", "length"]].copy()
    manifest["model"], manifest["layer"], manifest["dim"] = embedder.name, embedder.layer, embedder.dim
    manifest["key"] = [sequence_key(embedder.name, embedder.layer, s) for s in residue_chains["sequence"]]
    return manifest[MANIFEST_COLUMNS]
