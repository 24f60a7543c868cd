"""h5_assembly in process: splits with a planted leak and an external homologue, the lazy H5 plan
written by the catalog's own dataset, its validation and summary (see :mod:`.fixtures`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pocknet.pipelines.h5_assembly.pipeline import create_pipeline

from .fixtures import (
    ESM_DIM,
    ESM_NAME,
    LEAK,
    LEAKED_INTO,
    SEEN_EXTERNAL,
    STRUCTURES,
    UNSEEN_EXTERNAL,
    mini_project,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("h5_assembly")


@pytest.fixture(scope="module")
def h5(outputs):
    return outputs["training_set"]  # what the catalog's TrainingSetH5Dataset loads: an H5Reader


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"residue_chains", "protein_features", "embedding_manifest",
                                 "params:h5_assembly", "params:embedding", "params:data_engineering"}  # fmt: skip
    assert pipeline.outputs() == {"leakage_report", "external_homologues", "training_set_summary"}


def test_splits_follow_the_datasets_and_drop_the_leak(outputs):
    splits = outputs["splits"]
    assert sorted(splits["protein"]) == sorted(STRUCTURES) and splits["protein"].is_unique
    split = dict(zip(splits["protein"], splits["split"]))
    assert split.pop(LEAK) == "dropped"
    assert split.pop(LEAKED_INTO) == "test"
    assert split.pop(SEEN_EXTERNAL) == "external" and split.pop(UNSEEN_EXTERNAL) == "external"
    assert sorted(set(split.values())) == ["train", "val"]  # the other CHEN11 entries, both sides used
    assert splits.loc[splits["leak"], "protein"].tolist() == [LEAK]
    assert (splits["entry"] == [p.rsplit("/", 1)[-1][:4] for p in splits["protein"]]).all()


def test_leakage_report_and_external_homologues(outputs):
    leaks = outputs["leakage_report"]
    assert list(leaks.columns) == ["protein", "chain", "test_protein", "test_chain", "identity"]
    assert leaks[["protein", "test_protein"]].values.tolist() == [[LEAK, LEAKED_INTO]]
    assert leaks["identity"].tolist() == [1.0]
    homologues = outputs["external_homologues"]
    assert list(homologues.columns) == ["protein", "chain", "train_protein", "train_chain", "identity"]
    assert homologues[["protein", "train_protein"]].values.tolist() == [[SEEN_EXTERNAL, "chen11/1a82a.pdb"]]
    assert homologues["identity"].tolist() == [1.0]


def test_plan_was_streamed_into_the_h5_file(project, outputs):
    assert project.file_datasets["training_set"].saves == ["TrainingSetPlan"]
    assert project.path("training_set").is_file()


def test_h5_holds_every_kept_protein_in_id_order(project, outputs, h5):
    kept = outputs["splits"][outputs["splits"]["split"] != "dropped"].sort_values("protein")
    table = h5.proteins()
    assert table["id"].tolist() == kept["protein"].tolist() and h5.n_proteins == len(kept)
    assert table["split"].tolist() == kept["split"].tolist()
    params = project.params["h5_assembly"]
    assert h5.k == params["k"] and h5.attrs["neighbour_distance"] == params["neighbour_distance"]
    assert (h5.attrs["embedding_model"], h5.embedding_dim) == (ESM_NAME, ESM_DIM)
    recorded = json.loads(h5.attrs["params_json"])
    assert set(recorded) == {"data_engineering", "embedding", "h5_assembly"}
    assert recorded["h5_assembly"]["k"] == params["k"]
    offsets, residue_offsets = table["point_offset"], table["residue_offset"]
    for i, pid in enumerate(table["id"]):
        features = project.features(pid)
        assert offsets[i + 1] - offsets[i] == features.n_points
        assert residue_offsets[i + 1] - residue_offsets[i] == len(features.residue_chain)
        np.testing.assert_array_equal(h5.point_slice("label", offsets[i], offsets[i + 1]), features.labels)
        np.testing.assert_array_equal(
            h5.point_slice("tabular", offsets[i], offsets[i + 1]), features.descriptors
        )
    assert h5.n_points == offsets[-1] and h5.n_residues == residue_offsets[-1]


def test_neighbours_stay_inside_their_protein(h5):
    table = h5.proteins()
    offsets, residue_offsets = table["point_offset"], table["residue_offset"]
    for i in range(h5.n_proteins):
        neighbours = h5.point_slice("neighbours", offsets[i], offsets[i + 1])
        distances = h5.point_slice("neighbour_dist", offsets[i], offsets[i + 1])
        centre = h5.point_slice("residue", offsets[i], offsets[i + 1])
        assert neighbours.shape == (offsets[i + 1] - offsets[i], h5.k)
        real = neighbours >= 0
        assert real.all(axis=1).any()  # a protein of hundreds of residues fills k neighbours
        inside = (neighbours[real] >= residue_offsets[i]) & (neighbours[real] < residue_offsets[i + 1])
        assert inside.all() and (neighbours != centre[:, None]).all()
        assert (distances[real] >= 0).all() and np.isfinite(distances[real]).all()
        assert (np.diff(np.where(real, distances, np.inf), axis=1) >= 0).all()  # nearest first


def test_residue_embeddings_are_the_cached_chain_embeddings(project, outputs, h5):
    from pocknet.embed.cache import EmbeddingCache

    cache = EmbeddingCache(
        project.params["embedding"]["cache_dir"],
        ESM_NAME,
        int(outputs["training_set"].attrs["embedding_layer"]),
    )
    chains = project.result("embedding")["residue_chains"]
    table, embeddings = h5.proteins(), h5.residue_embeddings()
    assert embeddings.shape == (h5.n_residues, ESM_DIM)
    for i, pid in enumerate(table["id"]):
        base = table["residue_offset"][i]
        for row in chains[chains["protein"] == pid].itertuples():
            expected = cache.get(row.sequence).astype(embeddings.dtype)
            np.testing.assert_array_equal(embeddings[base + row.start : base + row.stop], expected)


def test_summary_counts_match_the_splits_and_labels(project, outputs, h5):
    summary = outputs["training_set_summary"]
    assert summary == json.loads(json.dumps(summary))
    assert (summary["proteins"], summary["points"], summary["residues"]) == (
        h5.n_proteins,
        h5.n_points,
        h5.n_residues,
    )
    assert (summary["embedding_model"], summary["embedding_dim"], summary["k"]) == (ESM_NAME, ESM_DIM, h5.k)
    splits = outputs["splits"]
    for split in ("train", "val", "test", "external"):
        ids = splits.loc[splits["split"] == split, "protein"]
        features = [project.features(pid) for pid in ids]
        assert summary[split] == {
            "proteins": len(ids),
            "points": sum(f.n_points for f in features),
            "positives": sum(f.n_positives for f in features),
        }
    assert "dropped" not in summary
