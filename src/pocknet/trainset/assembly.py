"""Assemble the training-set HDF5 from feature files, splits and embeddings.

:func:`plan_training_set` returns a :class:`TrainingSetPlan`: the writer's
header and a *lazy* stream of per-protein records. Nothing is loaded until the
plan is written (:func:`write_training_set`), one protein at a time, so peak
memory does not grow with the number of proteins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from pocknet.embed.cache import EmbeddingCache
from pocknet.config import dataclass_from_params
from pocknet.errors import PockNetError
from pocknet.featurize.features import ProteinFeatures
from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.h5writer import H5Writer
from pocknet.trainset.neighbours import nearest_residues
from pocknet.trainset.splits import SplitConfig
from pocknet.progress import progress
from pocknet.embed.residue_chains import protein_residue_embeddings

__all__ = ["AssemblyConfig", "ProteinRecord", "TrainingSetPlan", "plan_training_set", "write_training_set", "training_set_summary"]


@dataclass(frozen=True)
class AssemblyConfig:
    """The ``h5_assembly`` block of params.yaml."""

    k: int = 16  # neighbour residues per point (centre residue excluded)
    neighbour_distance: str = "ca"  # ca | centroid | min_atom
    compression: str | None = "gzip"  # gzip | lzf | None
    chunk_points: int = 16384  # rows per HDF5 chunk
    splits: SplitConfig = SplitConfig()

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "AssemblyConfig":
        params = params or {}
        return dataclass_from_params(cls, params, "h5_assembly", splits=SplitConfig.from_params(params.get("splits")))


@dataclass(frozen=True)
class ProteinRecord:
    features: ProteinFeatures
    split: str
    neighbours: np.ndarray
    neighbour_dist: np.ndarray
    embeddings: np.ndarray | None


@dataclass
class TrainingSetPlan:
    header: dict[str, Any]  # H5Writer keyword arguments
    records: Iterator[ProteinRecord]
    n_proteins: int


def _embedding_source(manifest: pd.DataFrame, cache_dir: str | Path) -> tuple[str, int, int, EmbeddingCache | None]:
    models = set(manifest["model"])
    if len(models) > 1:
        raise PockNetError(f"embedding manifest mixes models {sorted(models)}; re-run the embedding stage")
    model = models.pop() if models else "none"
    if model == "none":
        return "none", -1, 0, None
    layer, dim = int(manifest["layer"].iloc[0]), int(manifest["dim"].iloc[0])
    return model, layer, dim, EmbeddingCache(cache_dir, model, layer)


def plan_training_set(
    protein_features: Mapping[str, Callable[[], ProteinFeatures]],
    splits: pd.DataFrame,
    embedding_manifest: pd.DataFrame,
    config: AssemblyConfig,
    *,
    cache_dir: str | Path,
    params: Mapping[str, Any],
) -> TrainingSetPlan:
    """Everything needed to write the H5, with proteins in id order and dropped ones left out.

    ``params`` (the blocks that made the features, embeddings and this file) is recorded in the
    file's ``params_json`` attribute: the provenance of the training set.
    """
    k, neighbour_distance = config.k, config.neighbour_distance
    model, layer, dim, cache = _embedding_source(embedding_manifest, cache_dir)
    kept = splits[splits["split"] != "dropped"].sort_values("protein")
    missing = sorted(set(kept["protein"]) - set(protein_features))
    if missing:
        raise PockNetError(f"no feature file for {len(missing)} protein(s) in the splits, e.g. {missing[:3]}")
    first = protein_features[kept["protein"].iloc[0]]() if len(kept) else None
    header = {
        "feature_names": list(first.descriptor_names) if first is not None else [],
        "k": int(k),
        "neighbour_distance": neighbour_distance,
        "embedding_model": model,
        "embedding_layer": layer,
        "embedding_dim": dim,
        "params_json": json.dumps(params, sort_keys=True, default=str),
        "compression": config.compression,
        "chunk_points": int(config.chunk_points),
    }

    def lookup(sequence: str) -> np.ndarray:
        assert cache is not None
        array = cache.get(sequence)
        if array is None:
            raise PockNetError(f"no cached {model} embedding for a chain of length {len(sequence)}; re-run `embedding`")
        return array

    def records() -> Iterator[ProteinRecord]:
        rows = list(kept[["protein", "split"]].itertuples(index=False))
        for protein, split in progress(rows, total=len(rows), desc="h5 assembly", unit="protein"):
            features = protein_features[protein]()
            neighbours, distances = nearest_residues(features, k, neighbour_distance)
            embeddings = protein_residue_embeddings(features, lookup) if cache is not None else None
            yield ProteinRecord(features, split, neighbours, distances, embeddings)

    return TrainingSetPlan(header=header, records=records(), n_proteins=len(kept))


def write_training_set(plan: TrainingSetPlan, path: str | Path) -> None:
    with H5Writer(path, **plan.header) as writer:
        for record in plan.records:
            writer.add(
                record.features,
                split=record.split,
                neighbours=record.neighbours,
                neighbour_dist=record.neighbour_dist,
                embeddings=record.embeddings,
            )


def training_set_summary(reader: H5Reader) -> dict[str, Any]:
    """Counts per split (DVC metrics); labels are read one protein at a time."""
    proteins = reader.proteins()
    offsets = proteins["point_offset"]
    summary: dict[str, Any] = {
        "embedding_model": reader.attrs["embedding_model"],
        "embedding_dim": reader.embedding_dim,
        "k": reader.k,
        "proteins": reader.n_proteins,
        "points": reader.n_points,
        "residues": reader.n_residues,
    }
    for split in sorted(set(proteins["split"].tolist())):
        rows = np.flatnonzero(proteins["split"] == split)
        positives = sum(
            int(np.count_nonzero(reader.point_slice("label", offsets[p], offsets[p + 1]) == 1)) for p in rows
        )
        points = int(sum(offsets[p + 1] - offsets[p] for p in rows))
        summary[split] = {"proteins": int(len(rows)), "points": points, "positives": positives}
    return summary
