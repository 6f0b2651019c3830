"""SlowDataset / loader_throughput: items, the transform, counting, validation (no timing assertions)."""

import pytest
import torch
from torch.utils.data import DataLoader

from dlcourse.torch_ref import SlowDataset, loader_throughput
from tests.torch_ref._helpers import DEVICES


def _tensors(n=20):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 1, 4, 4, generator=g, dtype=torch.float64), torch.arange(n) % 3


def test_items_are_the_transformed_inputs_and_the_targets():
    X, y = _tensors()
    ds = SlowDataset(X, y, latency=0.0, transform=lambda x: 2 * x + 1)
    assert len(ds) == 20
    for i in (0, 7, 19):
        x_i, y_i = ds[i]
        torch.testing.assert_close(x_i, 2 * X[i] + 1, rtol=1e-15, atol=0)
        assert y_i == y[i], f"target {i}: expected {y[i]}, got {y_i}"
    plain = SlowDataset(X, y, latency=1e-4)
    assert torch.equal(plain[3][0], X[3]), "without a transform the input is returned unchanged"


def _triple(x):  # module level: picklable for workers started with spawn (macOS, Windows)
    return x * 3


def test_a_dataloader_with_two_workers_yields_every_sample_once():
    X, y = _tensors(24)
    ds = SlowDataset(X, y, latency=1e-4, transform=_triple)
    seen_x, seen_y = [], []
    for xb, yb in DataLoader(ds, batch_size=5, num_workers=2, prefetch_factor=2):
        seen_x.append(xb), seen_y.append(yb)
    torch.testing.assert_close(torch.cat(seen_x), 3 * X, rtol=1e-15, atol=0)
    assert torch.equal(torch.cat(seen_y), y)


@pytest.mark.parametrize("device", DEVICES)
def test_throughput_counts_batches_and_samples(device):
    X, y = _tensors(23)
    loader = DataLoader(SlowDataset(X, y), batch_size=5)  # 5 batches, the last one of 3
    r = loader_throughput(loader, device=device, warmup=1, step_time=1e-4)
    assert r["batches"] == 4, f"expected 4 timed batches after 1 warm-up batch, got {r['batches']}"
    assert r["batches_per_s"] > 0 and r["first_batch_s"] >= 0 and 0 <= r["wait_fraction"] <= 1
    ratio = r["samples_per_s"] / r["batches_per_s"]
    assert abs(ratio - 18 / 4) < 1e-9, f"samples per batch must be 18/4 = 4.5, got {ratio}"
    r2 = loader_throughput(loader, device=device, warmup=0, batches=2)
    assert r2["batches"] == 2


def test_bad_arguments_raise_value_errors_naming_them():
    X, y = _tensors()
    with pytest.raises(ValueError, match="X and y"):
        SlowDataset(X, y[:5])
    with pytest.raises(ValueError, match="X and y"):
        SlowDataset(X.numpy(), y)
    with pytest.raises(ValueError, match="latency"):
        SlowDataset(X, y, latency=-1.0)
    loader = DataLoader(SlowDataset(X, y), batch_size=10)
    with pytest.raises(ValueError, match="step_time"):
        loader_throughput(loader, step_time=-0.1, device="cpu")
    with pytest.raises(ValueError, match="warmup"):
        loader_throughput(loader, warmup=-1, device="cpu")
    with pytest.raises(ValueError, match="batches"):
        loader_throughput(loader, batches=0, device="cpu")
    with pytest.raises(ValueError, match="loader"):
        loader_throughput(loader, warmup=2, device="cpu")
