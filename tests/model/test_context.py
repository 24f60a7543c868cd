"""Spatial context (issue #14): point neighbour lists, the context branch, one forward path.

* neighbour lists on hand-built scenes (line, grid, duplicates): radius cut-off (inclusive),
  padding, the point itself excluded, candidate stride, chunking = no chunking, no protein crossing;
* the context model: masking, order invariance, batch checks, gradients;
* the same logits from the training batches (H5 rows) and from ``pocknet predict``'s path;
* a context model file saves, loads weights-only and predicts;
* context off: the per-point model of before (same keys, same config dict, same logits).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from pocknet.errors import ConfigError
from pocknet.model import BatchError, MissingBatchKeyError, ModelConfig, PocketNet
from pocknet.model.neighbourhood import DistanceBias
from pocknet.trainset.arrays import PointDataset, context_spec, load_split, point_context
from pocknet.trainset.neighbours import k_nearest_points

# ----------------------------------------------------------------------------- neighbour lists

LINE = np.array([[x, 0.0, 0.0] for x in (0.0, 1.0, 3.0, 7.0, 12.0, 18.0)], np.float32)  # gaps 1 2 4 5 6


def _brute(points: np.ndarray, k: int, radius: float, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    d = cdist(points.astype(np.float64), points.astype(np.float64))
    out, dist = np.full((len(points), k), -1), np.full((len(points), k), -1.0)
    candidates = np.arange(0, len(points), stride)
    for i in range(len(points)):
        near = sorted((d[i, j], j) for j in candidates if j != i and d[i, j] <= radius)[:k]
        out[i, : len(near)] = [j for _, j in near]
        dist[i, : len(near)] = [x for x, _ in near]
    return out, dist


def test_line_scene_radius_padding_and_self():
    neighbours, dist = k_nearest_points(LINE, k=2, radius=5.0)
    expected = [[1, 2], [0, 2], [1, 0], [2, 4], [3, 5], [4, -1]]
    expected_dist = [[1, 3], [1, 2], [2, 3], [4, 5], [5, 6], [6, -1]]
    assert neighbours.dtype == np.int32 and dist.dtype == np.float32
    # x=12 → 7 at 5.0 Å is kept (the radius is inclusive); x=18 → 12 at 6 Å is beyond 5.0 ...
    assert neighbours[4].tolist() == [3, -1] and dist[4].tolist() == [5.0, -1.0]
    # ... so with radius 6 the last row fills in
    neighbours6, dist6 = k_nearest_points(LINE, k=2, radius=6.0)
    np.testing.assert_array_equal(neighbours6, expected)
    np.testing.assert_allclose(dist6, expected_dist)
    assert neighbours[5].tolist() == [-1, -1] and dist[5].tolist() == [-1.0, -1.0]  # nothing within 5 Å
    for i, row in enumerate(neighbours):
        assert i not in row


def test_line_scene_with_more_k_than_points_and_stride():
    neighbours, dist = k_nearest_points(LINE, k=8, radius=100.0)
    assert (neighbours[:, 5:] == -1).all() and (dist[:, 5:] == -1.0).all()  # 5 others, 3 padding
    assert neighbours[0, :5].tolist() == [1, 2, 3, 4, 5]
    # stride 2: only points 0, 2, 4 are candidates; point 2 is one itself and is excluded
    neighbours, dist = k_nearest_points(LINE, k=2, radius=5.0, stride=2)
    assert neighbours.tolist() == [[2, -1], [0, 2], [0, -1], [2, 4], [-1, -1], [-1, -1]]
    np.testing.assert_allclose(dist[1], [1.0, 2.0])


def test_grid_scene_matches_brute_force():
    axis = np.arange(4, dtype=np.float32) * 1.5
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    neighbours, dist = k_nearest_points(grid, k=6, radius=1.5)
    counts = (neighbours >= 0).sum(1)
    assert counts.min() == 3 and counts.max() == 6  # corners: 3 face neighbours; interior: 6
    assert set(np.unique(dist[neighbours >= 0])) == {1.5}
    for i in range(len(grid)):  # the face neighbours, exactly (ties: any order)
        expected = {j for j in range(len(grid)) if j != i and np.isclose(np.linalg.norm(grid[i] - grid[j]), 1.5)}
        assert set(neighbours[i][neighbours[i] >= 0].tolist()) == expected


@pytest.mark.parametrize("stride", [1, 3])
def test_chunking_gives_the_same_lists(stride):
    points = np.random.default_rng(0).uniform(0, 20, (500, 3)).astype(np.float32)
    whole = k_nearest_points(points, 16, 4.0, stride)
    expected = _brute(points, 16, 4.0, stride)
    np.testing.assert_array_equal(whole[0], expected[0])
    np.testing.assert_allclose(whole[1], expected[1], atol=1e-5)
    for rows in (1, 7, 499):
        chunked = k_nearest_points(points, 16, 4.0, stride, max_rows=rows)
        np.testing.assert_array_equal(chunked[0], whole[0])
        np.testing.assert_array_equal(chunked[1], whole[1])


def test_memory_stays_bounded_on_a_150_000_point_complex():
    """~150 000 SAS points (a 40 000-atom complex): output 19 MB, work arrays chunked."""
    import tracemalloc

    rng = np.random.default_rng(0)
    shell = rng.normal(size=(150_000, 3))
    points = (shell / np.linalg.norm(shell, axis=1, keepdims=True) * 110.0).astype(np.float32)
    tracemalloc.start()
    try:
        neighbours, _ = k_nearest_points(points, 16, 10.0, 8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (neighbours >= 0).mean() > 0.9
    assert peak < 80 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_duplicate_points_are_each_others_neighbour_not_their_own():
    points = np.array([[0, 0, 0], [0, 0, 0], [1, 0, 0]], np.float32)
    neighbours, dist = k_nearest_points(points, 2, 2.0)
    assert neighbours[:2].tolist() == [[1, 2], [0, 2]] and dist[0].tolist() == [0.0, 1.0]
    assert sorted(neighbours[2].tolist()) == [0, 1]  # a tie at 1 Å: either order


def test_empty_and_invalid_inputs():
    neighbours, dist = k_nearest_points(np.zeros((0, 3)), 4, 10.0)
    assert neighbours.shape == (0, 4) and dist.shape == (0, 4)
    neighbours, _ = k_nearest_points(np.zeros((1, 3)), 4, 10.0)
    assert neighbours.tolist() == [[-1, -1, -1, -1]]
    for kwargs in ({"k": 0}, {"radius": 0.0}, {"radius": float("inf")}, {"stride": 0}, {"stride": 1.5}):
        args = {"k": 4, "radius": 10.0, "stride": 1, **kwargs}
        with pytest.raises(ConfigError):
            k_nearest_points(LINE, args["k"], args["radius"], args["stride"])


def test_point_context_stays_inside_each_protein():
    spec = context_spec(ModelConfig(context="attention", context_k=3, context_radius=100.0, context_stride=1))
    coords = np.concatenate([LINE, LINE + 0.01])  # two proteins at the same place
    rows, dist = point_context(coords, [0, 6, 12], spec)
    assert rows.dtype == np.int32 and rows.shape == (12, 3)
    assert (rows[:6] < 6).all() and ((rows[6:] >= 6) | (rows[6:] == -1)).all()
    np.testing.assert_array_equal(rows[6:] - 6, rows[:6])
    np.testing.assert_allclose(dist[6:], dist[:6], atol=1e-5)


# ----------------------------------------------------------------------------- the context model

F, B, C = 7, 5, 4


def _config(**overrides) -> ModelConfig:
    values = {"n_features": F, "hidden": 16, "heads": 2, "rbf_centers": 4, "context": "attention", "context_k": C}
    return ModelConfig(**{**values, **overrides})


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    index = torch.tensor([[0, 1, 2, 3], [2, 0, -1, -1], [-1, -1, -1, -1], [4, 5, 1, -1], [5, 4, 3, 2]])
    dist = torch.where(index >= 0, torch.rand(B, C, generator=g) * 9 + 0.5, torch.full((B, C), -1.0))
    return {
        "tabular": torch.randn(B, F, generator=g) * 2 + 1,
        "context_tabular": torch.randn(6, F, generator=g) * 2 + 1,
        "context_index": index,
        "context_dist": dist,
    }


def _model(**overrides) -> PocketNet:
    torch.manual_seed(0)
    return PocketNet(_config(**overrides), feature_mean=torch.full((F,), 0.5), feature_std=torch.full((F,), 2.0)).eval()


@pytest.mark.parametrize("layers", [1, 2])
def test_padding_never_reaches_the_output_and_order_does_not_matter(layers):
    model, batch = _model(context_layers=layers), _batch()
    with torch.no_grad():
        reference = model(batch)
        assert torch.isfinite(reference).all()  # row 2 has no context point at all
        junk = dict(batch, context_dist=torch.where(batch["context_index"] >= 0, batch["context_dist"], torch.nan))
        torch.testing.assert_close(model(junk), reference, rtol=0, atol=0)
        # permuted context slots (padding anywhere) and a permuted, extended table: same logits
        perm = torch.tensor([2, 0, 3, 1])
        table_perm = torch.tensor([3, 6, 0, 5, 1, 2, 4])  # new row r holds old row table_perm[r]; 6: extra junk
        inverse = torch.argsort(table_perm)
        index = batch["context_index"][:, perm]
        moved = {
            "tabular": batch["tabular"],
            "context_tabular": torch.cat([batch["context_tabular"], torch.full((1, F), 1e6)])[table_perm],
            "context_index": torch.where(index >= 0, inverse[index.clamp(min=0)], index),
            "context_dist": batch["context_dist"][:, perm],
        }
        torch.testing.assert_close(model(moved), reference, rtol=1e-5, atol=1e-6)
        # and the context matters: other context points, other logits
        other = dict(batch, context_tabular=batch["context_tabular"].flip(0))
        assert not torch.allclose(model(other)[[0, 1, 3, 4]], reference[[0, 1, 3, 4]])
        assert model(other)[2] == reference[2]  # row 2 sees no context


def test_empty_table_and_float16_inputs():
    model, batch = _model(), _batch()
    empty = {
        "tabular": batch["tabular"],
        "context_tabular": torch.zeros(0, F),
        "context_index": torch.full((B, C), -1),
        "context_dist": torch.full((B, C), -1.0),
    }
    with torch.no_grad():
        assert torch.isfinite(model(empty)).all()
        half = dict(batch, context_tabular=batch["context_tabular"].half())
        torch.testing.assert_close(model(half), model(dict(batch, context_tabular=half["context_tabular"].float())))


def test_batch_is_checked():
    model, batch = _model(), _batch()
    with pytest.raises(MissingBatchKeyError, match="context_index"):
        model({k: v for k, v in batch.items() if k != "context_index"})
    with pytest.raises(BatchError, match="context_index"):
        model(dict(batch, context_index=batch["context_index"].float()))
    with pytest.raises(BatchError, match="context_k=4"):
        model(dict(batch, context_index=batch["context_index"][:, :3], context_dist=batch["context_dist"][:, :3]))
    with pytest.raises(BatchError, match="rows of context_tabular"):
        model(dict(batch, context_index=batch["context_index"] + 6))
    with pytest.raises(BatchError, match="features"):
        model(dict(batch, context_tabular=batch["context_tabular"][:, :3]))


def test_gradients_reach_the_context_branch_and_the_shared_encoder():
    model = _model().train()
    model(_batch()).sum().backward()
    for name, parameter in model.named_parameters():
        if name.startswith(("context.", "tabular_encoder.")) and "null" not in name:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_config_of_the_context_branch():
    config = ModelConfig.from_params(
        {"context": "attention", "context_k": 8, "context_radius": 12, "context_stride": 4, "context_layers": 1},
        n_features=35, embedding_dim=0, k=16,
    )  # fmt: skip
    assert config.uses_context and config.context_radius == 12.0
    assert ModelConfig(**config.to_dict()) == config and "context_stride" in config.to_dict()
    for bad in ({"context": "gnn"}, {"context_k": 0}, {"context_radius": -1.0}, {"context_stride": 0},
                {"context_layers": 0}, {"context": "attention", "heads": 3}):  # fmt: skip
        with pytest.raises(ConfigError, match="training.model"):
            ModelConfig.from_params(bad, n_features=35, embedding_dim=0, k=16)


def test_triangle_distance_bias_is_the_projected_hat_basis():
    torch.manual_seed(0)
    for centres in (1, 2, 5, 16):
        bias = DistanceBias("rbf", 3, centres, 10.0, kernel="triangle")
        d = torch.tensor([[0.0, 0.3, 2.5, 9.99, 10.0, 12.0, 5.0]])
        basis = torch.relu(1 - (d.clamp(0, 10).unsqueeze(-1) - bias.centres).abs() / bias.width)
        torch.testing.assert_close(bias.per_token(d), bias.proj(basis))


# ----------------------------------------------------------------------------- context off: as before


def test_context_off_is_the_per_point_model_of_before():
    """A model file written before the context branch (no ``context*`` keys) loads as the per-point
    model, writes no new keys, has no new weights, and scores as the per-point forward."""
    before = {"n_features": 35, "embedding_dim": 0, "k": 16, "hidden": 128, "tabular_layers": 2, "norm": "batch",
              "dropout": 0.1, "heads": 4, "distance_bias": "rbf", "rbf_centers": 16, "rbf_max": 16.0,
              "head_layers": 2}  # the model_config of the per-point files shipped until 2026-12-01  # fmt: skip
    config = ModelConfig.from_dict(before)
    assert not config.uses_context and config.to_dict() == before  # no new keys written
    assert ModelConfig.from_dict({**before, "context": "attention"}).uses_context  # said explicitly, it is kept
    model = PocketNet(config)
    assert model.context is None and not any(key.startswith("context") for key in model.state_dict())
    model.eval()
    x = torch.randn(64, config.n_features, generator=torch.Generator().manual_seed(0)) * 3
    with torch.no_grad():
        got = model({"tabular": x, "context_index": torch.zeros(1)})  # extra keys are ignored
        # the forward of the per-point model, written out
        expected = model.output(model.head(model.tabular_encoder.net((x - model.feature_mean) / model.feature_std)))
    assert torch.equal(got, expected.squeeze(-1))


# ----------------------------------------------------------------------------- one forward path


CONTEXT = {"context": "attention", "context_k": 4, "context_radius": 8.0, "context_stride": 2, "context_layers": 2}


@pytest.fixture(scope="module")
def trained_context(tmp_path_factory, p2rank_test):
    from training_fixtures import tiny_training_params, write_h5

    from pocknet.train.config import TrainingConfig

    from pocknet.train.training import fit, validation_report

    tmp = tmp_path_factory.mktemp("context")
    h5 = write_h5(tmp / "set.h5", p2rank_test)
    params = tiny_training_params(tmp, max_epochs=2, patience=10)
    params["model"] = {**params["model"], **CONTEXT}
    module, history, data = fit(h5, TrainingConfig.from_params(params))
    report = validation_report(module.model, data, "iou")
    return h5, module, history, data, report, params


def test_training_batches_and_predict_give_the_same_logits(trained_context, p2rank_test):
    from training_fixtures import PROTEINS

    from pocknet.predict.predictor import Predictor, features_batch_arrays
    from pocknet.train.training import export_model
    from pocknet.trainset.h5reader import H5Reader

    h5, module, _, data, report, _ = trained_context
    model = module.model.eval()
    assert model.uses_context and data.val_arrays.context_neighbours is not None
    spec = context_spec(model.config)
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {}, {"stage": "test"})
        rows = load_split(reader, "val", spec)
    dataset = PointDataset(rows, None)
    with torch.no_grad():  # training-style batches: 97 points at a time, tables of their context only
        h5_logits = torch.cat([model(dataset.__getitems__(range(s, min(s + 97, len(dataset)))))
                               for s in range(0, len(dataset), 97)]).numpy()  # fmt: skip
    predictor = Predictor(bundle=bundle)
    val_file = next(rel for rel, split in PROTEINS.items() if split == "val")
    prediction = predictor.predict_file(p2rank_test / val_file)
    arrays = features_batch_arrays(prediction.features, 0, "ca", spec)
    np.testing.assert_array_equal(arrays.context_neighbours, rows.context_neighbours)  # same lists
    np.testing.assert_array_equal(arrays.context_dist, rows.context_dist)
    logits, probabilities = predictor.logits_and_scores(prediction.features)
    np.testing.assert_allclose(logits, h5_logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(prediction.model_probabilities, probabilities)
    assert bundle.model_config["context"] == "attention" and bundle.model_config["context_k"] == 4


def test_context_model_file_saves_loads_and_predicts(trained_context, tmp_path, features_1a82a):
    from pocknet.model.files import load_model, save_model
    from pocknet.predict.predictor import Predictor
    from pocknet.train.training import export_model
    from pocknet.trainset.h5reader import H5Reader

    h5, module, _, _, report, _ = trained_context
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {}, {"stage": "test"})
    path = tmp_path / "context.pt"
    save_model(bundle, path)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert any(key.startswith("context.layers.1.") for key in raw["state_dict"])
    model, loaded = load_model(path)
    assert model.uses_context and loaded.model_config == bundle.model_config
    in_memory = Predictor(bundle=bundle).logits_and_scores(features_1a82a)
    from_file = Predictor(path).logits_and_scores(features_1a82a)
    np.testing.assert_array_equal(from_file[0], in_memory[0])
    prediction = Predictor(path).predict_features(features_1a82a)
    assert np.isfinite(prediction.probabilities).all() and len(prediction.probabilities) == features_1a82a.n_points


def test_swa_averages_and_recalibrates_the_context_model(trained_context):
    from pocknet.train.swa_stage import SwaConfig, stochastic_weight_average
    from pocknet.train.config import TrainingConfig
    from pocknet.trainset.h5reader import H5Reader

    h5, _, history, _, _, params = trained_context
    with H5Reader(h5) as reader:
        bundle, metrics = stochastic_weight_average(history, reader, SwaConfig(mode="fixed", start=0, stop=2), TrainingConfig.from_params(params))
    assert bundle.model_config["context"] == "attention" and any(k.startswith("context.") for k in bundle.state_dict)
    assert metrics["bn_samples"] > 0 and np.isfinite(metrics["pr_auc"])


def test_fusion_with_context_gives_the_same_logits_in_training_and_predict(tmp_path, p2rank_test):
    """The residue-embedding branch and the context branch together, H5 rows vs `pocknet predict`."""
    from training_fixtures import PROTEINS, tiny_training_params, write_h5

    from pocknet.embed.config import EmbeddingConfig
    from pocknet.embed.embedder import EsmEmbedder
    from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint
    from pocknet.predict.predictor import Predictor
    from pocknet.train.config import TrainingConfig
    from pocknet.train.training import export_model, fit, validation_report
    from pocknet.trainset.arrays import load_embeddings
    from pocknet.trainset.h5reader import H5Reader

    embedder = EsmEmbedder(EmbeddingConfig(model=str(write_tiny_esm2_checkpoint(tmp_path / "esm2_t2_tiny.pt"))))
    embed = lambda sequence: embedder.embed([sequence])[0]
    h5 = write_h5(tmp_path / "set.h5", p2rank_test, embed=embed)
    params = tiny_training_params(tmp_path, max_epochs=1)
    params["model"] = {**params["model"], **CONTEXT}
    module, _, data = fit(h5, TrainingConfig.from_params(params))
    model = module.model.eval()
    assert model.uses_context and model.uses_embeddings
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, validation_report(model, data, "iou"), {}, {"stage": "test"})
        dataset = PointDataset(load_split(reader, "val", context_spec(model.config)), load_embeddings(reader))
        batch = dataset.__getitems__(range(len(dataset)))
    assert set(model.batch_keys) <= set(batch)
    with torch.no_grad():
        h5_logits = model(batch).numpy()
    val_file = next(rel for rel, split in PROTEINS.items() if split == "val")
    prediction = Predictor(bundle=bundle, embed=embed).predict_file(p2rank_test / val_file)
    np.testing.assert_allclose(prediction.model_probabilities, 1 / (1 + np.exp(-h5_logits)), rtol=1e-5, atol=1e-6)
