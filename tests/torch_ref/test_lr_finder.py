"""lr_range_test / suggest_lr: the schedule, the recorded losses against a hand-written loop, restoring the model."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlcourse.torch_ref import lr_range_test, suggest_lr
from tests.torch_ref._helpers import DEVICES


def _data(n=60, d=6, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = (X @ torch.randn(d, classes, generator=g, dtype=torch.float64)).argmax(1)
    return X, y


def _model(seed=1, d=6, classes=3, batchnorm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(d, 12)] + ([nn.BatchNorm1d(12)] if batchnorm else []) + [nn.Tanh(), nn.Linear(12, classes)]
    return nn.Sequential(*layers).to(torch.float64)


def _loader(batch_size=16):
    X, y = _data()
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)


def _manual(model, loader, lrs, momentum):
    """Oracle: the range test written out by hand (cycle the loader, record, then step at lr_i)."""
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=lrs[0], momentum=momentum)
    batches = [b for b in loader]
    out = []
    for i, lr in enumerate(lrs):
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        out.append(loss.item())
        loss.backward()
        opt.step()
    return np.array(out)


@pytest.mark.parametrize("device", DEVICES)
def test_lrs_are_geometric_from_start_to_end(device):
    lrs, losses = lr_range_test(_model(), _loader(), nn.CrossEntropyLoss(), torch.optim.SGD,
                                start_lr=1e-4, end_lr=1e-1, num_steps=7, device=device)
    expected = np.geomspace(1e-4, 1e-1, 7)
    worst = int(np.argmax(np.abs(lrs - expected) / expected))
    assert np.allclose(lrs, expected, rtol=1e-12, atol=0), \
        f"lrs must be geomspace(1e-4, 1e-1, 7); worst element {worst}: {lrs[worst]} vs {expected[worst]}"
    assert lrs.shape == losses.shape == (7,)


@pytest.mark.parametrize("device", DEVICES)
def test_losses_match_a_hand_written_loop_cycling_the_loader(device):
    model, loader = _model(), _loader()  # 4 batches, 10 steps: the loader is cycled
    lrs, losses = lr_range_test(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD, start_lr=1e-3, end_lr=1.0,
                                num_steps=10, device=device, optimizer_kwargs={"momentum": 0.9})
    expected = _manual(_model(), loader, list(lrs), momentum=0.9)
    err = np.abs(losses - expected) / np.maximum(np.abs(expected), 1e-12)
    assert err.max() < 1e-7 if device == "cpu" else err.max() < 1e-6, (
        f"losses differ from the hand-written loop; worst step {int(err.argmax())}: "
        f"{losses[err.argmax()]!r} vs expected {expected[err.argmax()]!r}")


@pytest.mark.parametrize("device", DEVICES)
def test_weights_buffers_mode_and_device_are_restored(device):
    model = _model(batchnorm=True)
    model.eval()
    before = copy.deepcopy(model.state_dict())
    lr_range_test(model, _loader(), None, torch.optim.Adam, start_lr=1e-3, end_lr=10.0, num_steps=12, device=device)
    after = model.state_dict()
    for name, value in before.items():
        assert torch.equal(after[name], value), f"{name} was not restored (max diff {(after[name] - value).abs().max()})"
        assert after[name].device == value.device, f"{name} left on {after[name].device}"
    assert not model.training, "the model was in eval mode and must be put back in eval mode"


def test_stops_early_on_divergence_and_on_non_finite_loss():
    lrs, losses = lr_range_test(_model(), _loader(), None, torch.optim.SGD, start_lr=1e-2, end_lr=1e6,
                                num_steps=60, device="cpu", divergence_factor=4.0)
    assert len(lrs) == len(losses) < 60, "a loss above 4x the best so far must stop the test"
    best_before = np.min(losses[:-1])
    assert not losses[-1] <= 4.0 * best_before, f"the last loss {losses[-1]} should exceed 4 x {best_before}"
    assert np.all(losses[:-1] <= 4.0 * np.minimum.accumulate(losses[:-1]))


def test_bad_arguments_raise_value_errors_naming_them():
    model, loader = _model(), _loader()
    cases = [
        (dict(start_lr=0.0, end_lr=1.0, num_steps=5), "start_lr"),
        (dict(start_lr=1e-3, end_lr=1e-4, num_steps=5), "end_lr"),
        (dict(start_lr=1e-3, end_lr=float("inf"), num_steps=5), "end_lr"),
        (dict(start_lr=1e-3, end_lr=1.0, num_steps=1), "num_steps"),
        (dict(start_lr=1e-3, end_lr=1.0, num_steps=5, divergence_factor=1.0), "divergence_factor"),
        (dict(start_lr=1e-3, end_lr=1.0, num_steps=5, optimizer_kwargs={"lr": 0.1}), "optimizer_kwargs"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            lr_range_test(model, loader, None, torch.optim.SGD, device="cpu", **kwargs)
    with pytest.raises(ValueError, match="loader"):
        lr_range_test(model, [], None, torch.optim.SGD, start_lr=1e-3, end_lr=1.0, num_steps=5, device="cpu")


def test_suggest_lr_finds_the_steepest_descent_before_the_minimum():
    lrs = np.geomspace(1e-5, 10, 121)
    t = np.log10(lrs)
    losses = 2.0 - np.tanh(2 * (t + 2)) + np.exp(3 * (t - 0.5))  # steepest fall at lr = 1e-2, blow-up after ~1
    got = suggest_lr(lrs, losses, smooth=1)
    assert abs(np.log10(got) + 2) <= 0.05, f"expected about 1e-2, got {got}"
    noisy = losses + 0.01 * np.random.default_rng(0).standard_normal(lrs.size)
    assert abs(np.log10(suggest_lr(lrs, noisy, smooth=9)) + 2) <= 0.2
    assert suggest_lr(lrs[:5], np.arange(5.0)) == lrs[0], "a loss that only rises suggests the smallest lr"


def test_suggest_lr_rejects_bad_input():
    with pytest.raises(ValueError, match="lrs and losses"):
        suggest_lr([1e-3, 1e-2, 1e-1], [1.0, 0.5])
    with pytest.raises(ValueError, match="smooth"):
        suggest_lr([1e-3, 1e-2, 1e-1], [1.0, 0.5, 0.2], smooth=2)
    with pytest.raises(ValueError, match="lrs"):
        suggest_lr([1e-3, 1e-3, 1e-1], [1.0, 0.5, 0.2])
    with pytest.raises(ValueError, match="losses"):
        suggest_lr([1e-3, 1e-2, 1e-1], [1.0, np.nan, 0.2])
