"""PocketNet and its components: shapes, masking, distance bias, normalisation, config, state dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from pocknet.errors import ConfigError, PockNetError
from pocknet.model import (
    BatchError,
    MissingBatchKeyError,
    ModelConfig,
    NeighbourhoodAttention,
    PocketNet,
)

F, D, K, H, B = 7, 8, 4, 16, 6


def _config(**overrides) -> ModelConfig:
    values = {
        "n_features": F,
        "embedding_dim": D,
        "k": K,
        "hidden": H,
        "heads": 4,
        "rbf_max": 12.0,
        "dropout": 0.1,
        "context": "none",  # these tests are about the per-point and fusion paths (context: test_context.py)
    }
    values.update(overrides)
    return ModelConfig(**values)


def _model(seed: int = 0, **overrides) -> PocketNet:
    torch.manual_seed(seed)
    return PocketNet(_config(**overrides)).eval()


def _batch(seed: int = 1, n_valid: tuple[int, ...] = (4, 4, 3, 2, 1, 0)) -> dict[str, torch.Tensor]:
    """Neighbours of row i: the first n_valid[i] real, the rest padding (dist −1, junk embeddings)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(K)[None, :] < torch.tensor(n_valid)[:, None]
    dist = torch.rand(B, K, generator=g) * 10.0 + 1.0
    dist = torch.where(mask, dist, torch.full_like(dist, -1.0))
    return {
        "tabular": torch.randn(B, F, generator=g) * 3.0 + 1.0,
        "centre_embedding": torch.randn(B, D, generator=g),
        "neighbour_embedding": torch.randn(B, K, D, generator=g),
        "neighbour_dist": dist,
        "neighbour_mask": mask,
    }


def _run(model: PocketNet, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with torch.no_grad():
        return model(batch)


# ----------------------------------------------------------------------------- shapes and modes


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_forward_shapes_tabular_only_and_fusion(norm):
    for embedding_dim in (0, D):
        model = _model(embedding_dim=embedding_dim, norm=norm)
        out = _run(model, _batch())
        assert out.shape == (B,) and out.dtype == torch.float32
        assert torch.isfinite(out).all()
        model.train()
        out = model(_batch())
        out.sum().backward()
        assert out.shape == (B,)


def test_tabular_only_reads_only_tabular():
    model = _model(embedding_dim=0)
    assert model.batch_keys == ("tabular",)
    assert model.residue_encoder is None and model.attention is None and model.fusion is None

    class OnlyTabular(dict):
        def __getitem__(self, key):
            assert key == "tabular", f"tabular-only model read {key!r}"
            return super().__getitem__(key)

    full = _batch()
    out = _run(model, OnlyTabular(tabular=full["tabular"]))
    assert torch.equal(out, _run(model, full))


def test_fusion_needs_its_keys():
    model = _model()
    batch = _batch()
    del batch["neighbour_mask"]
    with pytest.raises(KeyError, match="neighbour_mask") as info:
        _run(model, batch)
    assert isinstance(info.value, MissingBatchKeyError) and isinstance(info.value, PockNetError)
    assert "neighbour_mask" in str(info.value)


def test_deterministic_given_seed():
    a, b = _model(seed=3), _model(seed=3)
    assert torch.equal(_run(a, _batch()), _run(b, _batch()))
    assert not torch.equal(_run(a, _batch()), _run(_model(seed=4), _batch()))


def test_lower_precision_embeddings_are_cast():
    model = _model()
    batch = _batch()
    half = dict(
        batch,
        centre_embedding=batch["centre_embedding"].half(),
        neighbour_embedding=batch["neighbour_embedding"].half(),
    )
    out = _run(model, half)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


# ----------------------------------------------------------------------------- output bias, normalisation


@pytest.mark.parametrize("embedding_dim", [0, D])
@pytest.mark.parametrize("prevalence", [0.025, 0.5])
def test_output_bias_gives_prevalence(embedding_dim, prevalence):
    model = _model(embedding_dim=embedding_dim)
    model.init_output_bias(prevalence)
    with torch.no_grad():
        model.output.weight.zero_()
    probs = torch.sigmoid(_run(model, _batch()))
    assert torch.allclose(probs, torch.full_like(probs, prevalence), atol=1e-6)


def test_output_bias_clamps_and_rejects():
    model = _model()
    model.init_output_bias(0.0)
    assert model.output.bias.item() == pytest.approx(np.log(1e-4 / (1 - 1e-4)), rel=1e-5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            model.init_output_bias(bad)


@pytest.mark.parametrize("embedding_dim", [0, D])
def test_standardisation_buffers_are_applied(embedding_dim):
    g = torch.Generator().manual_seed(7)
    mean = torch.randn(F, generator=g) * 5.0
    std = torch.rand(F, generator=g) * 3.0 + 0.5
    plain = _model(embedding_dim=embedding_dim)
    normalised = PocketNet(plain.config, feature_mean=mean, feature_std=std).eval()
    normalised.load_state_dict({**plain.state_dict(), "feature_mean": mean, "feature_std": std})

    raw = _batch()
    standardised = dict(raw, tabular=(raw["tabular"] - mean) / std)
    expected = _run(plain, standardised)
    assert torch.allclose(_run(normalised, raw), expected, atol=1e-5)

    plain.set_normalisation(mean.numpy(), std.tolist())
    assert torch.allclose(_run(plain, raw), expected, atol=1e-5)
    assert "feature_mean" in plain.state_dict() and "feature_std" in plain.state_dict()


def test_constant_columns_do_not_divide_by_zero():
    model = _model(embedding_dim=0)
    model.set_normalisation(np.zeros(F), np.zeros(F))
    assert (model.feature_std >= 1e-6).all()
    with pytest.raises(ValueError, match="feature_std"):
        model.set_normalisation(np.zeros(F), np.ones(F + 1))
    with pytest.raises(ValueError, match="non-finite"):
        PocketNet(_config(), feature_mean=np.full(F, np.nan))


# ----------------------------------------------------------------------------- masking and distance bias


def test_padded_neighbours_are_ignored_valid_ones_are_not():
    model = _model()
    batch = _batch()
    base = _run(model, batch)
    row, pad, valid = 2, 3, 0  # row 2: neighbours 0..2 real, 3 padding
    assert not batch["neighbour_mask"][row, pad] and batch["neighbour_mask"][row, valid]

    changed = {k: v.clone() for k, v in batch.items()}
    changed["neighbour_embedding"][row, pad] = 1e3
    changed["neighbour_dist"][row, pad] = 0.5
    assert torch.equal(_run(model, changed), base)
    changed["neighbour_embedding"][row, pad] = float("nan")  # even NaN padding stays out
    assert torch.equal(_run(model, changed), base)

    changed = {k: v.clone() for k, v in batch.items()}
    changed["neighbour_embedding"][row, valid] += 1.0
    out = _run(model, changed)
    assert out[row] != base[row]
    others = torch.arange(B) != row
    assert torch.equal(out[others], base[others])


def test_all_padded_row_is_finite_and_attends_to_centre():
    model = _model()
    batch = _batch()
    batch["neighbour_mask"][:] = False
    batch["neighbour_dist"][:] = -1.0
    batch["neighbour_embedding"][:] = float("nan")
    model.train()
    out = model(batch)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    attention = model.attention.eval()
    t = torch.randn(B, H)
    c = torch.randn(B, H)
    n = torch.randn(B, K, H)
    _, weights = attention(
        t, c, n, torch.zeros(B, K), torch.zeros(B, K, dtype=torch.bool), return_weights=True
    )
    assert torch.equal(weights[..., 0], torch.ones(B, 4))
    assert torch.equal(weights[..., 1:], torch.zeros(B, 4, K))


def test_padding_gets_zero_attention_weight():
    torch.manual_seed(0)
    attention = NeighbourhoodAttention(H, 4, "rbf", 8, 12.0, 0.0).eval()
    batch = _batch()
    mask = batch["neighbour_mask"]
    _, weights = attention(
        torch.randn(B, H),
        torch.randn(B, H),
        torch.randn(B, K, H),
        batch["neighbour_dist"].clamp(min=0),
        mask,
        return_weights=True,
    )
    assert torch.allclose(weights.sum(-1), torch.ones(B, 4))
    assert (weights[..., 1:].masked_select(~mask[:, None, :]) == 0).all()


@pytest.mark.parametrize("mode, matters", [("rbf", True), ("linear", True), ("none", False)])
def test_distance_bias(mode, matters):
    model = _model(distance_bias=mode)
    batch = _batch()
    base = _run(model, batch)
    moved = {k: v.clone() for k, v in batch.items()}
    moved["neighbour_dist"][0, 1] = 3.0 if batch["neighbour_dist"][0, 1] > 6.0 else 9.0
    out = _run(model, moved)
    assert bool(out[0] != base[0]) is matters
    assert torch.equal(out[1:], base[1:])


def test_centre_token_is_marked():
    model = _model()
    assert model.attention.centre_type.shape == (H,)
    assert model.attention.centre_type.abs().sum() > 0


# ----------------------------------------------------------------------------- gradients


def test_gradients_reach_residue_branch():
    model = _model().train()
    out = model(_batch())
    nn.functional.binary_cross_entropy_with_logits(out, torch.tensor([1.0, 0, 1, 0, 1, 0])).backward()
    for prefix in ("residue_encoder", "attention", "fusion", "tabular_encoder", "head", "output"):
        grads = [p.grad for name, p in model.named_parameters() if name.startswith(prefix)]
        assert grads and all(g is not None for g in grads), prefix
        assert sum(g.abs().sum() for g in grads) > 0, prefix
    assert model.attention.bias.proj.weight.grad.abs().sum() > 0
    assert model.attention.centre_type.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- batch validation


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("centre_embedding", torch.randn(B, 2 * D), "embedding_dim=8"),
        ("neighbour_embedding", torch.randn(B, K, 2 * D), "neighbour_embedding"),
        ("neighbour_embedding", torch.randn(B, K + 1, D), "k=4"),
        ("neighbour_dist", torch.randn(B, K + 1), "neighbour_dist"),
        ("neighbour_mask", torch.ones(B, K, dtype=torch.long), "bool"),
        ("tabular", torch.randn(B, F + 1), "features"),
        ("tabular", torch.randn(B), "dimensions"),
        ("tabular", torch.ones(B, F, dtype=torch.long), "float"),
        ("centre_embedding", torch.randn(B + 1, D), "B=6"),
    ],
)
def test_bad_batches_raise(key, value, message):
    model = _model()
    with pytest.raises(ValueError, match=message) as info:
        _run(model, dict(_batch(), **{key: value}))
    assert isinstance(info.value, BatchError) and isinstance(info.value, PockNetError)


def test_embeddings_of_another_esm_model_raise():
    torch.manual_seed(0)
    model = PocketNet(_config(embedding_dim=2560)).eval()
    batch = _batch()
    batch["centre_embedding"] = torch.randn(B, 1280)
    batch["neighbour_embedding"] = torch.randn(B, K, 1280)
    with pytest.raises(BatchError, match="1280.*2560|2560"):
        _run(model, batch)


# ----------------------------------------------------------------------------- config


def test_config_from_params():
    params = {"hidden": 32, "heads": 8, "norm": "layer", "rbf_max": 20, "distance_bias": "linear"}
    config = ModelConfig.from_params(params, n_features=np.int64(35), embedding_dim=np.int64(2560), k=16)
    assert config.hidden == 32 and config.rbf_max == 20.0 and isinstance(config.rbf_max, float)
    assert type(config.n_features) is int and config.embedding_dim == 2560 and config.uses_embeddings
    as_dict = config.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert ModelConfig(**as_dict) == config
    assert ModelConfig.from_params(None, n_features=35, embedding_dim=0, k=16) == ModelConfig()


@pytest.mark.parametrize(
    "params, field",
    [
        ({"hiden": 64}, "hiden"),
        ({"k": 8}, "k"),
        ({"embedding_dim": 1280}, "embedding_dim"),
        ({"hidden": 0}, "training.model.hidden"),
        ({"hidden": 12.5}, "training.model.hidden"),
        ({"hidden": True}, "training.model.hidden"),
        ({"norm": "group"}, "training.model.norm"),
        ({"dropout": 1.0}, "training.model.dropout"),
        ({"dropout": -0.1}, "training.model.dropout"),
        ({"heads": 3}, "training.model.heads"),
        ({"distance_bias": "gaussian"}, "training.model.distance_bias"),
        ({"rbf_centers": 0}, "training.model.rbf_centers"),
        ({"rbf_max": 0}, "training.model.rbf_max"),
        ({"rbf_max": "far"}, "training.model.rbf_max"),
        ({"head_layers": 0}, "training.model.head_layers"),
        ({"tabular_layers": 0}, "training.model.tabular_layers"),
    ],
)
def test_config_rejects_bad_params(params, field):
    with pytest.raises(ConfigError, match=field):
        ModelConfig.from_params(params, n_features=35, embedding_dim=2560, k=16)


def test_config_rejects_bad_data_sizes():
    with pytest.raises(ConfigError, match="training.model.n_features"):
        ModelConfig.from_params({}, n_features=0, embedding_dim=0, k=16)
    with pytest.raises(ConfigError, match="training.model.embedding_dim"):
        ModelConfig.from_params({}, n_features=35, embedding_dim=-1, k=16)
    # heads need not divide hidden when there is no attention
    assert ModelConfig.from_params({"hidden": 30, "context": "none"}, n_features=35, embedding_dim=0, k=16).hidden == 30
    with pytest.raises(ConfigError, match="heads"):  # the context branch attends
        ModelConfig.from_params({"hidden": 30, "context": "attention"}, n_features=35, embedding_dim=0, k=16)


# ----------------------------------------------------------------------------- state dict, norms, size


@pytest.mark.parametrize("embedding_dim", [0, D])
def test_state_dict_round_trip(embedding_dim):
    model = _model(embedding_dim=embedding_dim)
    model.set_normalisation(np.arange(F, dtype=np.float32), np.full(F, 2.0))
    model.train()
    for _ in range(3):  # move BatchNorm running statistics off their defaults
        model(_batch(seed=11))
    model.eval()
    restored = PocketNet(model.config)
    restored.load_state_dict(model.state_dict())
    restored.eval()
    assert torch.equal(_run(restored, _batch()), _run(model, _batch()))


@pytest.mark.parametrize("embedding_dim", [0, D])
def test_batch_norm_only_for_batch_norm(embedding_dim):
    batch_model = _model(embedding_dim=embedding_dim, norm="batch")
    layer_model = _model(embedding_dim=embedding_dim, norm="layer")
    bns = [m for m in batch_model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bns and all(m.track_running_stats and m.running_mean is not None for m in bns)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in layer_model.modules())


def test_describe_counts_trainable_parameters():
    tabular = PocketNet(ModelConfig(context="none"))
    fusion = PocketNet(ModelConfig(embedding_dim=2560, context="none"))
    assert tabular.describe() == sum(p.numel() for p in tabular.parameters())
    assert 20_000 < tabular.describe() < fusion.describe()
    assert fusion.residue_encoder is not None and tabular.residue_encoder is None
