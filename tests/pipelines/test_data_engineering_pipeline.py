"""data_engineering in process: featurise a tiny study (8 structures, a broken file, a missing
dataset) through ``create_pipeline()`` and ``SequentialRunner`` (see :mod:`.fixtures`)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pocknet.pipelines.data_engineering.pipeline import create_pipeline

from .fixtures import BROKEN, STRUCTURES, mini_project

RECORD_COLUMNS = ["id", "source", "chains", "status", "error", "points", "positives", "relevant_ligands"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("data_engineering")


@pytest.fixture(scope="module")
def features(outputs):
    return {pid: load() for pid, load in outputs["protein_features"].items()}


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"params:data_engineering"}
    assert pipeline.outputs() == {"protein_features", "featurization_summary", "featurization_failures"}


def test_runner_returns_the_pipeline_outputs(project, outputs):
    assert project.runner_outputs["data_engineering"] == create_pipeline().outputs()


def test_run_log_has_one_row_per_structure_and_dataset(outputs):
    log = outputs["featurization_log"]
    assert list(log.columns) == RECORD_COLUMNS
    assert sorted(log["id"]) == sorted([*STRUCTURES, BROKEN, "absent"])
    status = dict(zip(log["id"], log["status"]))
    assert status.pop(BROKEN) == "failed" and status.pop("absent") == "missing_dataset"
    assert set(status.values()) == {"ok"}


def test_summary_adds_up_the_log_and_the_feature_files(outputs, features):
    summary = outputs["featurization_summary"]
    assert summary == json.loads(json.dumps(summary))  # what the JSON dataset writes
    assert summary["proteins"] == len(STRUCTURES) == len(features)
    assert summary["failures"] == 1 and summary["missing_datasets"] == 1
    assert summary["points"] == sum(f.n_points for f in features.values())
    assert summary["positives"] == sum(f.n_positives for f in features.values())
    assert 0 < summary["positives"] < summary["points"]
    assert summary["positive_rate"] == round(summary["positives"] / summary["points"], 6)
    relevant = [int(f.ligand_relevant.sum()) for f in features.values()]
    assert summary["relevant_ligands"] == sum(relevant) and summary[
        "proteins_without_ligand"
    ] == relevant.count(0)


def test_failures_table_names_the_broken_file_and_the_missing_dataset(outputs):
    failures = outputs["featurization_failures"]
    assert list(failures.columns) == ["id", "source", "status", "error"]
    assert list(failures.index) == list(range(len(failures)))
    by_id = failures.set_index("id")
    assert set(by_id.index) == {BROKEN, "absent"}
    assert by_id.loc[BROKEN, "status"] == "failed" and "broken.pdb" in by_id.loc[BROKEN, "error"]
    assert by_id.loc["absent", "status"] == "missing_dataset" and "not found" in by_id.loc["absent", "error"]


def test_features_are_saved_in_batches_of_save_every(project, outputs):
    """The generator node yields ``save_every`` proteins at a time and each batch is saved as it comes."""
    size = project.params["data_engineering"]["save_every"]
    batches = project.file_datasets["protein_features"].saves
    assert len(batches) == math.ceil(len(STRUCTURES) / size)
    assert all(len(batch) <= size for batch in batches)
    assert sorted(pid for batch in batches for pid in batch) == sorted(STRUCTURES)
    written = sorted(p.relative_to(project.path("protein_features")).as_posix()
                     for p in project.path("protein_features").rglob("*") if p.is_file())  # fmt: skip
    assert written == sorted(f"{pid}.npz" for pid in STRUCTURES)


def test_each_feature_file_is_one_consistent_protein(project, outputs, features):
    log = outputs["featurization_log"].set_index("id")
    expected_config = None
    for pid, f in features.items():
        assert f.id == pid and f.source.endswith(pid)
        n = f.n_points
        assert n > 1000 and f.points.shape == (n, 3) and f.descriptors.shape == (n, len(f.descriptor_names))
        assert np.isfinite(f.points).all() and np.isfinite(f.descriptors).all()
        assert set(np.unique(f.labels)) <= {-1, 0, 1}
        assert f.point_residue.min() >= 0 and f.point_residue.max() < len(f.residue_chain)
        assert f.point_atom.min() >= 0 and f.point_atom.max() < len(f.atom_coords)
        # positives are exactly the points within positive_distance of a relevant ligand
        positive = project.params["data_engineering"]["labels"]["positive_distance"]
        np.testing.assert_array_equal(f.labels == 1, f.ligand_distance <= positive)
        assert (log.loc[pid, "points"], log.loc[pid, "positives"]) == (n, f.n_positives)
        assert log.loc[pid, "relevant_ligands"] == int(f.ligand_relevant.sum())
        expected_config = expected_config or f.config_json
        assert f.config_json == expected_config  # one featurisation for the whole run
    assert json.loads(expected_config)["labels"]["positive_distance"] == positive


def test_the_same_file_under_two_datasets_gives_the_same_features(features):
    a, b = features["chen11/1nlu.pdb"], features["bu48/holo/1nlu.pdb"]
    assert a.id != b.id and a.source_sha256 == b.source_sha256
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.labels, b.labels)
