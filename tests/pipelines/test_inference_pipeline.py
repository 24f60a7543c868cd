"""inference in process: the final model on the test and external proteins; the lazy prediction
plan is written by the catalog's own PredictionsFolderDataset (see :mod:`.fixtures`)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest

from pocknet.pipelines.inference.pipeline import create_pipeline

from .fixtures import mini_project, split_of

POCKET_COLUMNS = [
    "protein",
    "split",
    "rank",
    "level",
    "rescore",
    "score",
    "probability",
    "center_x",
    "center_y",
    "center_z",
    "sas_points",
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, p2rank_test):
    return mini_project(tmp_path_factory, p2rank_test)


@pytest.fixture(scope="module")
def outputs(project):
    return project.result("inference")


@pytest.fixture(scope="module")
def chosen(project):
    """Proteins of the splits params inference names (test, external)."""
    which = set(project.params["inference"]["splits"])
    return sorted(pid for pid, split in split_of(project).items() if split in which)


def test_free_inputs_and_outputs():
    pipeline = create_pipeline()
    assert pipeline.inputs() == {"final_model", "protein_features", "splits", "params:inference"}
    assert pipeline.outputs() == {"predictions"}


def test_plan_is_streamed_reading_only_the_chosen_proteins(project, outputs, chosen):
    assert project.file_datasets["predictions"].saves == ["PredictionPlan"]
    assert len(chosen) == 3 and {split_of(project)[p] for p in chosen} == {"test", "external"}
    assert sorted(pid for stage, pid in project.reads if stage == "inference") == chosen


def test_pocket_table_is_ranked_per_protein(project, outputs, chosen):
    table = outputs["predictions"]  # the dataset loads root/pockets.csv
    assert list(table.columns) == POCKET_COLUMNS and len(table) > 0
    assert set(table["protein"]) <= set(chosen)
    splits = split_of(project)
    assert (table["split"] == table["protein"].map(splits)).all()
    assert table["probability"].between(0, 1).all() and (table["score"] > 0).all()
    assert (table["sas_points"] >= project.params["pockets"]["min_points"]).all()
    for pid, pockets in table.groupby("protein", sort=False):
        assert pockets["rank"].tolist() == list(range(1, len(pockets) + 1))
        if pockets["rescore"].notna().all():  # a pocket rescorer ranks them, its calibrated probability falls with rank
            assert pockets["rescore"].is_monotonic_decreasing and pockets["probability"].is_monotonic_decreasing
        else:  # by score, level 1 first
            assert pockets["rescore"].isna().all() and pockets["level"].is_monotonic_increasing
            for _, level in pockets.groupby("level"):
                assert level["score"].is_monotonic_decreasing
        atoms = project.features(pid).atom_coords
        centres = pockets[["center_x", "center_y", "center_z"]].to_numpy()
        assert ((centres > atoms.min(0) - 5) & (centres < atoms.max(0) + 5)).all()  # on the protein


def test_pockets_are_those_the_predictor_gives(project, outputs, chosen):
    """The stage and ``pocknet predict`` share the Predictor: identical pockets for the same model."""
    from pocknet.predict.predictor import Predictor

    table = outputs["predictions"]
    with project.esm_weights():
        predictor = Predictor(bundle=project.result("finalize")["final_model"])
        for pid in chosen:
            prediction = predictor.predict_features(project.features(pid), name=PurePosixPath(pid).name)
            rows = table[table["protein"] == pid]
            assert rows["rank"].tolist() == [p.rank for p in prediction.pockets]
            assert rows["level"].tolist() == [p.level for p in prediction.pockets]
            np.testing.assert_allclose(rows["score"], [p.score for p in prediction.pockets], rtol=1e-6)
            np.testing.assert_allclose(rows[["center_x", "center_y", "center_z"]].to_numpy(),
                                       np.array([p.centre for p in prediction.pockets]).reshape(-1, 3), rtol=1e-6)  # fmt: skip
            assert rows["sas_points"].tolist() == [len(p.point_indices) for p in prediction.pockets]
            # the model point probabilities kept for reporting are this prediction's, uncalibrated
            kept = np.load(project.path("predictions") / f"{pid}_point_probabilities.npy", allow_pickle=False)
            assert kept.dtype == np.float32 and kept.shape == (prediction.features.n_points,)
            np.testing.assert_array_equal(kept, np.asarray(prediction.raw_probabilities, dtype=np.float32))


def test_every_format_is_written_per_protein_under_its_dataset_path(project, outputs, chosen):
    from pocknet.evaluate.readers import read_p2rank_centres

    root = project.path("predictions")
    formats = [f.strip() for f in project.params["inference"]["formats"].split(",")]
    assert formats == ["csv", "pdb", "pml", "cxc", "json"]  # the files expected below
    table = outputs["predictions"]
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    expected = ["pockets.csv"]
    for pid in chosen:
        folder, name = root / PurePosixPath(pid).parent, PurePosixPath(pid).name
        suffixes = [
            "_predictions.csv",
            "_residues.csv",
            "_points.pdb",
            "_structure.pdb",
            ".pml",
            ".cxc",
            ".json",
            "_point_probabilities.npy",
        ]  # the last for the reporting stage (model probabilities)
        expected += [f"{PurePosixPath(pid).parent}/{name}{suffix}" for suffix in suffixes]
        # the structure copy beside the scripts is the featurised file itself
        assert (folder / f"{name}_structure.pdb").read_bytes() == Path(
            project.features(pid).source
        ).read_bytes()
        # the P2Rank-layout table holds the same ranked centres as pockets.csv
        centres = read_p2rank_centres(folder / f"{name}_predictions.csv")
        np.testing.assert_allclose(centres, table.loc[table["protein"] == pid, ["center_x", "center_y", "center_z"]],
                                   atol=1e-3)  # fmt: skip
        summary = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        assert isinstance(summary, dict)
    assert written == sorted(expected)  # nothing for train/val proteins, no temporary files
