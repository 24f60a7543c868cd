import copy

import pytest
import torch
from torch import nn

from pocknet.errors import ConfigError
from pocknet.train.swa import average_state_dicts, choose_window, recalibrate_batchnorm


def _model(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    bn = model[1]
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.normal_()
    bn.running_mean.copy_(torch.randn(3))
    bn.running_var.copy_(torch.rand(3) + 0.5)
    bn.num_batches_tracked.fill_(10 * (seed + 1))
    return model


def _members() -> list[dict[str, torch.Tensor]]:
    return [_model(seed).state_dict() for seed in range(3)]


# --- choose_window ---------------------------------------------------------------------


def test_choose_window_examples():
    assert choose_window([0.1, 0.5, 0.6, 0.2, 0.1], 2) == (1, 3)
    assert choose_window([0.1, 0.5, 0.6, 0.2, 0.1], 1) == (2, 3)
    # ties → later window: windows (0,2) and (2,4) both average 0.5
    assert choose_window([0.5, 0.5, 0.4, 0.6], 2) == (2, 4)
    assert choose_window([0.3, 0.3, 0.3], 1) == (2, 3)
    # NaN = -inf: the window containing it loses even though its finite member is best
    assert choose_window([0.2, 0.2, 0.9, float("nan"), 0.1], 2) == (1, 3)
    assert choose_window([0.8, float("nan"), 0.9, 0.9], 2) == (2, 4)
    # width ≥ run length → whole run
    assert choose_window([0.1, 0.2], 5) == (0, 2)
    assert choose_window([0.1, 0.2], 2) == (0, 2)


def test_choose_window_errors():
    with pytest.raises(ConfigError):
        choose_window([0.1, 0.2], 0)
    with pytest.raises(ValueError):
        choose_window([], 2)


# --- average_state_dicts ---------------------------------------------------------------


def test_average_is_exact_arithmetic_mean():
    members = _members()
    avg = average_state_dicts(members)
    assert list(avg) == list(members[0])
    for key, value in avg.items():
        a, b, c = (m[key] for m in members)
        if value.is_floating_point():
            expected = ((a.double() + b.double() + c.double()) / 3).to(a.dtype)
            assert value.dtype == a.dtype
            assert torch.equal(value, expected), key
            assert not torch.equal(value, c)
    # integer buffers come from the last member
    assert avg["1.num_batches_tracked"].dtype == torch.long
    assert int(avg["1.num_batches_tracked"]) == 30
    # the result loads into the model and does not alias a member
    model = _model(0)
    model.load_state_dict(avg)
    avg["1.num_batches_tracked"] += 1
    assert int(members[2]["1.num_batches_tracked"]) == 30


def test_average_keeps_half_precision_dtype():
    members = [{"w": torch.tensor([1.0, 2.0], dtype=torch.float16) * k} for k in (1, 2, 4)]
    avg = average_state_dicts(members)
    assert avg["w"].dtype == torch.float16
    assert torch.equal(avg["w"], torch.tensor([7 / 3, 14 / 3], dtype=torch.float64).half())


def test_average_errors():
    members = _members()
    broken = dict(members[1])
    del broken["0.bias"]
    broken["extra.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match=r"0\.bias.*extra\.weight"):
        average_state_dicts([members[0], broken])
    with pytest.raises(ValueError):
        average_state_dicts([])
    wrong_shape = dict(members[1])
    wrong_shape["0.bias"] = torch.zeros(5)
    with pytest.raises(ValueError, match="shape"):
        average_state_dicts([members[0], wrong_shape])


# --- recalibrate_batchnorm -------------------------------------------------------------


def _batches(n_batches: int, size: int = 64) -> list[torch.Tensor]:
    torch.manual_seed(123)
    return [torch.randn(size, 4) * 2.0 + 3.0 for _ in range(n_batches)]


def test_recalibrate_single_batch_gives_data_statistics():
    model = _model(0)
    model.load_state_dict(average_state_dicts(_members()))
    averaged_mean = model[1].running_mean.clone()
    averaged_var = model[1].running_var.clone()
    (x,) = _batches(1, size=256)
    with torch.no_grad():
        h = model[0](x)
    n = recalibrate_batchnorm(model, [x])
    assert n == 256
    bn = model[1]
    torch.testing.assert_close(bn.running_mean, h.mean(0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(bn.running_var, h.var(0, unbiased=True), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(bn.running_mean, averaged_mean, atol=1e-2)
    assert not torch.allclose(bn.running_var, averaged_var, atol=1e-2)


def test_recalibrate_is_cumulative_average_over_batches_with_dict_batches():
    model = _model(0)
    model.load_state_dict(average_state_dicts(_members()))
    model[1].momentum = 0.05
    model.eval()
    batches = _batches(4)
    with torch.no_grad():
        hs = [model[0](x) for x in batches]
    n = recalibrate_batchnorm(model, [{"x": x} for x in batches], forward=lambda m, b: m(b["x"]))
    assert n == 4 * 64
    bn = model[1]
    # equal-sized batches: the cumulative average of batch means is the mean of all data
    torch.testing.assert_close(bn.running_mean, torch.cat(hs).mean(0), rtol=1e-5, atol=1e-6)
    # variance: the average of the per-batch unbiased variances (as update_bn)
    expected_var = torch.stack([h.var(0, unbiased=True) for h in hs]).mean(0)
    torch.testing.assert_close(bn.running_var, expected_var, rtol=1e-5, atol=1e-6)
    assert int(bn.num_batches_tracked) == 4
    # momentum and mode restored
    assert bn.momentum == 0.05
    assert not model.training and not bn.training


def test_recalibrate_matches_torch_update_bn_and_restores_mixed_modes():
    ours = _model(1)
    theirs = copy.deepcopy(ours)
    batches = _batches(3, size=50)
    ours.train()
    ours[2].eval()  # a frozen submodule must stay in eval mode
    recalibrate_batchnorm(ours, batches)
    torch.optim.swa_utils.update_bn(batches, theirs)
    for key in ("running_mean", "running_var"):
        torch.testing.assert_close(getattr(ours[1], key), getattr(theirs[1], key), rtol=0, atol=0)
    assert ours.training and ours[0].training and ours[1].training
    assert not ours[2].training
    assert ours[1].momentum == 0.1


def test_recalibrate_without_batchnorm_is_noop():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    before = copy.deepcopy(model.state_dict())
    model.eval()
    calls = []
    assert recalibrate_batchnorm(model, _batches(2), forward=lambda m, b: calls.append(b)) == 0
    assert calls == []
    assert not model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
