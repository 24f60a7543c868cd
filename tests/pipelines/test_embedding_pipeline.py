"""embedding in process: chains of the featurised proteins, embedded by a tiny random ESM2 into
the cache, and the tabular-only ``model: none`` run (see :mod:`.fixtures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kedro.runner import SequentialRunner

from pocknet.pipelines.embedding.pipeline import create_pipeline

from .fixtures import ESM_DIM, ESM_LAYERS, ESM_NAME, STRUCTURES, mini_project

CHAIN_COLUMNS = ["protein", "chain", "start", "stop", "length", "sequence"]
MANIFEST_COLUMNS = ["protein", "chain", "length", "model", "layer", "dim", "key"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("embedding")


def _cache(project):
    from pocknet.embed.cache import EmbeddingCache

    return EmbeddingCache(project.params["embedding"]["cache_dir"], ESM_NAME, ESM_LAYERS)


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"protein_features", "params:embedding"}
    assert pipeline.outputs() == {"embedding_manifest"}
    assert pipeline.all_outputs() == {"residue_chains", "embedding_manifest"}


def test_chains_cover_every_residue_of_every_protein(project, outputs):
    chains = outputs["residue_chains"]
    assert list(chains.columns) == CHAIN_COLUMNS
    assert list(chains["protein"]) == sorted(chains["protein"])  # sorted by protein id
    assert set(chains["protein"]) == set(STRUCTURES)
    assert (chains["stop"] - chains["start"] == chains["length"]).all()
    assert (chains["sequence"].str.len() == chains["length"]).all()
    for pid, group in chains.groupby("protein"):
        features = project.features(pid)
        # contiguous, in residue-table order, together the whole table
        assert group["start"].iloc[0] == 0 and group["stop"].iloc[-1] == len(features.residue_chain)
        assert (group["start"].to_numpy()[1:] == group["stop"].to_numpy()[:-1]).all()
        assert dict(zip(group["chain"], group["sequence"])) == features.chain_sequences()


def test_manifest_names_model_layer_and_one_cache_key_per_chain(outputs):
    from pocknet.embed.cache import sequence_key

    chains, manifest = outputs["residue_chains"], outputs["embedding_manifest"]
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert manifest[["protein", "chain", "length"]].equals(chains[["protein", "chain", "length"]])
    assert set(manifest["model"]) == {ESM_NAME}
    assert set(manifest["layer"]) == {ESM_LAYERS} and set(manifest["dim"]) == {ESM_DIM}  # layer -1 = the last
    assert list(manifest["key"]) == [sequence_key(ESM_NAME, ESM_LAYERS, s) for s in chains["sequence"]]
    # the same structure filed twice shares its cache entry
    keys = dict(zip(manifest["protein"], manifest["key"]))
    assert (
        keys["chen11/1nlu.pdb"] == keys["bu48/holo/1nlu.pdb"]
        and keys["chen11/1a82a.pdb"] == keys["coach420/1a82a.pdb"]
    )


def test_cache_holds_exactly_one_embedding_per_distinct_sequence(project, outputs):
    cache = _cache(project)
    sequences = sorted(set(outputs["residue_chains"]["sequence"]))
    for sequence in sequences:
        array = cache.get(sequence)
        assert array is not None and array.shape == (len(sequence), ESM_DIM)
        assert np.isfinite(array).all() and array.std() > 0
    files = sorted(Path(project.params["embedding"]["cache_dir"]).rglob("*.npy"))
    assert files == sorted(cache.path_for(s) for s in sequences)  # pruned to exactly these
    assert len(files) == len(STRUCTURES) - 2  # two structures are filed twice


def test_model_none_writes_a_tabular_manifest_and_empties_the_cache(project, outputs, tmp_path):
    """The default params.yaml (``model: none``): no embedding, the manifest says so, stale cache files go."""
    params = dict(project.params["embedding"], model="none", cache_dir=str(tmp_path / "cache"))
    stale = tmp_path / "cache" / "esm_old" / "layer1" / "ab" / "ab.npy"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left over from another model")
    catalog = project.catalog("embedding", **{"params:embedding": params})
    SequentialRunner().run(create_pipeline(), catalog)
    manifest = catalog.load("embedding_manifest")
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert manifest[["protein", "chain", "length"]].equals(
        outputs["residue_chains"][["protein", "chain", "length"]]
    )
    assert set(manifest["model"]) == {"none"} and set(manifest["layer"]) == {-1}
    assert set(manifest["dim"]) == {0} and set(manifest["key"]) == {""}
    assert [p.name for p in (tmp_path / "cache").rglob("*")] == ["README.txt"]
