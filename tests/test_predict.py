"""One forward path: `Predictor` scores equal the trained model's scores on the same H5 rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocknet.embed.config import EmbeddingConfig
from pocknet.embed.embedder import EsmEmbedder
from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint
from pocknet.trainset.h5reader import H5Reader
from pocknet.predict.predictor import Predictor
from pocknet.predict.writers.json_summary import json_summary
from pocknet.train.config import TrainingConfig
from pocknet.train.training import fit, validation_report
from pocknet.train.training import export_model
from pocknet.trainset.arrays import PointDataset, load_embeddings, load_split
from training_fixtures import PROTEINS, tiny_training_params, write_h5


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    path = write_tiny_esm2_checkpoint(tmp_path_factory.mktemp("esm") / "esm2_t2_tiny.pt")
    embedder = EsmEmbedder(EmbeddingConfig(model=str(path)))
    return lambda sequence: embedder.embed([sequence])[0]


@pytest.mark.parametrize("fusion", [False, True], ids=["tabular", "fusion"])
def test_predict_scores_equal_h5_row_scores(tmp_path, p2rank_test, tiny_embedder, fusion):
    h5 = write_h5(tmp_path / "set.h5", p2rank_test, embed=tiny_embedder if fusion else None)
    module, _, data = fit(h5, TrainingConfig.from_params(tiny_training_params(tmp_path, max_epochs=1)))
    report = validation_report(module.model, data, "iou")
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {}, {"stage": "test"})
        rows = load_split(reader, "val")
        dataset = PointDataset(rows, load_embeddings(reader))
        module.model.eval()
        with torch.no_grad():
            h5_scores = torch.sigmoid(module.model(dataset.__getitems__(range(len(dataset))))).numpy()
    predictor = Predictor(bundle=bundle, embed=tiny_embedder if fusion else None)
    val_file = next(rel for rel, split in PROTEINS.items() if split == "val")
    prediction = predictor.predict_file(p2rank_test / val_file)
    assert prediction.probabilities.shape == h5_scores.shape
    np.testing.assert_allclose(prediction.probabilities, h5_scores, atol=1e-5)
    assert prediction.threshold == bundle.threshold


# --------------------------------------------------------------------------- calibrated probabilities


@pytest.fixture(scope="module")
def shipped(p2rank_test):
    """The shipped network in the old file layout (pocket isotonic only), and 1a82a featurised as it expects.

    Model files written before per-level calibration hold ``calibration = {"method": "isotonic",
    "x": [...], "y": [...]}``: the pocket map only. They must keep working.
    """
    from pocknet.featurize.features import featurize_file

    old_layout = {"method": "isotonic", "x": [0.0, 5.0, 50.0], "y": [0.05, 0.3, 0.8]}
    predictor = Predictor(bundle=Predictor().bundle.replace(calibration=old_layout))
    features = featurize_file(p2rank_test / "liganated" / "1a82a.pdb", predictor.featurize_config)
    return predictor, features


@pytest.fixture(scope="module")
def calibrated_bundle(shipped):
    """The shipped network with per-level calibrators fitted (for the test only) on 1a82a itself."""
    from pocknet.predict.calibration import fit_levels
    from pocknet.train.finalize import validation_calibration_data

    predictor, features = shipped
    raw = predictor.bundle.replace(calibration=None)
    data, uncalibrated, counts = validation_calibration_data(Predictor(bundle=raw), {"x": lambda: features}, ["x"])
    assert counts["proteins"] == 1 and len(data["pocket"][0]) >= 2
    calibration, _ = fit_levels(data, uncalibrated=uncalibrated)
    return predictor.bundle.replace(calibration=calibration)


def _same_pockets(a, b):
    assert len(a.pockets) == len(b.pockets) > 0
    for p, q in zip(a.pockets, b.pockets):
        assert (p.rank, p.score) == (q.rank, q.score)
        np.testing.assert_array_equal(p.centre, q.centre)
        np.testing.assert_array_equal(p.point_indices, q.point_indices)
        np.testing.assert_array_equal(p.residue_indices, q.residue_indices)
        np.testing.assert_array_equal(p.atom_indices, q.atom_indices)


def test_old_model_file_predicts_uncalibrated_with_a_note(shipped):
    from pocknet.predict.writers.p2rank_csv import residues_table

    predictor, features = shipped
    assert "method" in predictor.bundle.calibration  # old layout
    prediction = predictor.predict_features(features)
    assert any("probabilities not calibrated (old model file)" in note for note in prediction.notes)
    np.testing.assert_array_equal(prediction.probabilities, prediction.model_probabilities)
    np.testing.assert_array_equal(prediction.probabilities, predictor.score(features))
    assert prediction.pockets and all(0.0 < p.probability < 1.0 for p in prediction.pockets)
    table = residues_table(prediction)
    assert table["probability"].between(0.001, 0.999).all() and not table.isna().any().any()


def test_calibration_changes_no_pocket_on_a_real_structure(shipped, calibrated_bundle):
    predictor, features = shipped
    before = Predictor(bundle=predictor.bundle.replace(calibration=None)).predict_features(features)
    old = predictor.predict_features(features)
    after = Predictor(bundle=calibrated_bundle).predict_features(features)
    _same_pockets(before, after)
    _same_pockets(old, after)
    assert after.threshold == before.threshold
    np.testing.assert_array_equal(after.model_probabilities, before.probabilities)
    np.testing.assert_array_equal(after.residue_score, before.residue_score)
    np.testing.assert_array_equal(after.residue_pocket, before.residue_pocket)
    assert after.notes == ()
    # the probabilities users read are calibrated, in (0, 1), and still ordered like the scores
    assert not np.array_equal(after.probabilities, before.probabilities)
    for values in (after.probabilities, after.residue_probability, [p.probability for p in after.pockets]):
        assert np.min(values) >= 0.001 and np.max(values) <= 0.999
    order = np.argsort(after.model_probabilities, kind="stable")
    assert np.all(np.diff(after.probabilities[order]) >= 0)
    order = np.argsort(after.residue_score, kind="stable")
    assert np.all(np.diff(after.residue_probability[order]) >= 0)
    pocket_p = [p.probability for p in after.pockets]
    assert np.all(np.diff(pocket_p) <= 0)  # ranked by score → monotone probabilities
    # raw residue "probability" (best point nearby) was far above the binding-residue rate; calibrated is not
    assert after.residue_probability.mean() < before.residue_probability.mean()


def test_calibrated_model_file_loads_weights_only(tmp_path, shipped, calibrated_bundle):
    from pocknet.model.files import save_model

    _, features = shipped
    path = tmp_path / "calibrated.pt"
    save_model(calibrated_bundle, path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    assert set(loaded["calibration"]) >= {"point", "residue", "pocket", "ece", "reliability"}
    from_file = Predictor(path).predict_features(features)
    in_memory = Predictor(bundle=calibrated_bundle).predict_features(features)
    _same_pockets(from_file, in_memory)
    np.testing.assert_array_equal(from_file.probabilities, in_memory.probabilities)
    np.testing.assert_array_equal(from_file.residue_probability, in_memory.residue_probability)


def test_pockets_are_seeded_at_the_model_files_seed_threshold(shipped):
    """A number in the model's pocket settings seeds the pockets; --threshold still overrides it."""
    predictor, features = shipped
    point, pockets = predictor.bundle.threshold, dict(predictor.bundle.pockets)
    seed = round(point - 0.2, 3)
    seeded = Predictor(bundle=predictor.bundle.replace(pockets={**pockets, "seed_threshold": seed}))
    for unresolved in ({**pockets, "seed_threshold": "point"}, {**pockets, "seed_threshold": "validation"},
                       {k: v for k, v in pockets.items() if not k.startswith("seed_threshold")}):  # fmt: skip
        plain = Predictor(bundle=predictor.bundle.replace(pockets=unresolved))
        assert plain.predict_features(features).threshold == point  # no number: the point threshold
    prediction = seeded.predict_features(features)
    assert prediction.threshold == seed
    expected = predictor.predict_features(features, threshold=seed)
    _same_pockets(prediction, expected)
    assert seeded.predict_features(features, threshold=point).threshold == point
    assert seeded.info()["pocket_seed_threshold"] == seed and seeded.info()["threshold"] == point


def test_the_model_files_second_seed_level_appends_pockets(shipped):
    """A second seed threshold in the model's pocket settings adds level-2 pockets after the first level's."""
    predictor, features = shipped
    pockets = {**predictor.bundle.pockets, "seed_threshold": 0.99, "second_seed_threshold": "none"}
    one_level = Predictor(bundle=predictor.bundle.replace(pockets=pockets)).predict_features(features)
    two = Predictor(bundle=predictor.bundle.replace(pockets={**pockets, "second_seed_threshold": 0.3}))
    stacked = two.predict_features(features)
    levels = [p.level for p in stacked.pockets]
    assert levels == sorted(levels) and levels.count(1) == len(one_level.pockets) and 2 in levels
    assert [p.rank for p in stacked.pockets] == list(range(1, len(stacked.pockets) + 1))
    for a, b in zip(stacked.pockets, one_level.pockets):
        np.testing.assert_array_equal(a.point_indices, b.point_indices)
    first_points = np.concatenate([p.point_indices for p in stacked.pockets if p.level == 1])
    for pocket in stacked.pockets:
        if pocket.level == 2:
            assert not np.isin(pocket.point_indices, first_points).any()
    assert two.info()["pocket_second_seed_threshold"] == 0.3
    summary = json_summary(stacked)
    assert [p["level"] for p in summary["pockets"]] == levels
