"""BatchNorm1d and Dropout from tensor ops against torch.nn, on every device."""

import pytest
import torch
from torch.testing import assert_close

from dlcourse.torch_ref import BatchNorm1d, Dropout
from tests.torch_ref._helpers import DEVICES


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(16, 5), (8, 5, 7)])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_matches_torch_in_train_then_eval(device, shape, momentum):
    g = torch.Generator().manual_seed(0)
    ours = BatchNorm1d(5, momentum=momentum).to(device).double()
    ref = torch.nn.BatchNorm1d(5, momentum=momentum).to(device).double()
    with torch.no_grad():  # non-trivial affine parameters, identical in both
        w, b = torch.randn(5, generator=g).double(), torch.randn(5, generator=g).double()
        for m in (ours, ref):
            m.weight.copy_(w)
            m.bias.copy_(b)
    for step in range(3):  # three training batches with different statistics
        x = (torch.randn(*shape, generator=g, dtype=torch.float64) * (step + 1) + step).to(device)
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(xa), ref(xb)
        assert_close(ya, yb, msg=lambda m: f"train-mode output, step {step}: {m}")
        dout = torch.randn(*shape, generator=g, dtype=torch.float64).to(device)
        ya.backward(dout)
        yb.backward(dout)
        assert_close(xa.grad, xb.grad, msg=lambda m: f"input gradient, step {step}: {m}")
        assert_close(ours.weight.grad, ref.weight.grad, msg=lambda m: f"weight gradient: {m}")
        assert_close(ours.bias.grad, ref.bias.grad, msg=lambda m: f"bias gradient: {m}")
        ours.zero_grad()
        ref.zero_grad()
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert_close(getattr(ours, name), getattr(ref, name), msg=lambda m: f"{name} after 3 batches: {m}")
    ours.eval()
    ref.eval()
    x = torch.randn(*shape, generator=g, dtype=torch.float64).to(device)
    assert_close(ours(x), ref(x), msg=lambda m: f"eval-mode output (running statistics): {m}")


@pytest.mark.parametrize("device", DEVICES)
def test_batchnorm_without_running_stats_or_affine(device):
    x = torch.randn(10, 4, dtype=torch.float64, device=device)
    ours = BatchNorm1d(4, affine=False, track_running_stats=False).to(device).eval()
    ref = torch.nn.BatchNorm1d(4, affine=False, track_running_stats=False).to(device).eval()
    assert_close(ours(x), ref(x).to(x.dtype), msg=lambda m: f"eval without running stats uses batch stats: {m}")
    assert set(ours.state_dict()) == set(ref.state_dict()) == set()


def test_batchnorm_state_dict_loads_both_ways():
    ref = torch.nn.BatchNorm1d(6)
    ref.train()
    ref(torch.randn(20, 6) * 3 + 1)
    ours = BatchNorm1d(6)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict())  # strict: same keys, shapes
    back = torch.nn.BatchNorm1d(6)
    back.load_state_dict(ours.state_dict())
    x = torch.randn(5, 6)
    assert_close(ours.eval()(x), back.eval()(x))


def test_batchnorm_errors_name_the_problem():
    with pytest.raises(ValueError, match="num_features"):
        BatchNorm1d(0)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm1d(3, momentum=1.5)
    m = BatchNorm1d(3)
    with pytest.raises(ValueError, match="channels"):
        m(torch.randn(4, 2))
    with pytest.raises(ValueError, match="input"):
        m(torch.randn(4, 3, 2, 2))
    with pytest.raises(ValueError, match="more than 1 value"):
        m(torch.randn(1, 3))


def test_dropout_equals_torch_on_cpu_with_the_same_seed():
    x = torch.randn(64, 33, dtype=torch.float64)
    for p in (0.0, 0.2, 0.5, 0.9, 1.0):
        torch.manual_seed(11)
        ours = Dropout(p)(x)
        torch.manual_seed(11)
        ref = torch.nn.Dropout(p)(x)
        assert_close(ours, ref, msg=lambda m: f"Dropout(p={p}) in training mode: {m}")


@pytest.mark.parametrize("device", DEVICES)
def test_dropout_is_inverted_and_p_is_the_drop_probability(device):
    torch.manual_seed(0)
    x = torch.ones(200_000, device=device)
    y = Dropout(0.25)(x)
    kept = y[y != 0]
    assert_close(kept, torch.full_like(kept, 1 / 0.75), msg=lambda m: f"kept values must be scaled by 1/(1-p): {m}")
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - 0.25) < 0.01, f"p=0.25 must drop 25% of the elements, dropped {dropped:.3%}"
    assert abs(y.mean().item() - 1.0) < 0.01, "inverted dropout keeps the mean"
    m = Dropout(0.25).eval()
    assert torch.equal(m(x), x), "eval mode is the identity"
    xg = torch.randn(100, device=device, requires_grad=True)
    out = Dropout(0.5)(xg)
    out.sum().backward()
    assert_close(xg.grad, (out != 0).float() * 2.0, msg=lambda m: f"gradient is the scaled mask: {m}")


def test_dropout_rejects_bad_p_and_has_no_state():
    for bad in (-0.1, 1.5, "0.5"):
        with pytest.raises(ValueError, match="p"):
            Dropout(bad)
    assert Dropout(0.3).state_dict().keys() == torch.nn.Dropout(0.3).state_dict().keys()


def test_modules_are_not_torch_subclasses():
    assert not issubclass(BatchNorm1d, torch.nn.modules.batchnorm._NormBase)
    assert not issubclass(Dropout, torch.nn.modules.dropout._DropoutNd)
