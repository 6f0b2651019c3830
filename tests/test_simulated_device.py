"""The simulated CUDA device (dlcourse.grading.simulated_device): device-agnostic code is checked without a GPU.

Every test here runs the simulation whether or not the machine has a GPU (simulated_cuda() does not depend on
one); only on_device() chooses between the real device and the simulation.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dlcourse.grading import simulated_device
from dlcourse.grading.simulated_device import (
    SIMULATED_DEVICE,
    devices_text,
    is_simulated_cuda,
    on_device,
    simulated_cuda,
    test_devices,
)

MIXED = "Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"
CUDA = torch.device("cuda", 0)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------ moves


@pytest.mark.parametrize("move", [
    lambda x: x.to("cuda"), lambda x: x.to("cuda:0"), lambda x: x.to(torch.device("cuda")),
    lambda x: x.to(torch.device("cuda", 0)), lambda x: x.to(device="cuda"), lambda x: x.cuda(), lambda x: x.cuda(0),
    lambda x: x.to("cuda", non_blocking=True), lambda x: x.to(0),
])
def test_moving_a_tensor_tags_a_copy_and_leaves_the_original_on_the_cpu(move):
    x = torch.arange(6.0).reshape(2, 3)
    with simulated_cuda():
        y = move(x)
        assert y.device == CUDA and y.device.type == "cuda" and y.is_cuda and y.get_device() == 0
        assert x.device.type == "cpu" and not x.is_cuda and x.get_device() == -1
        y.add_(1)  # a copy: the caller's tensor does not change
        assert torch.equal(x, torch.arange(6.0).reshape(2, 3))
        assert y.to("cuda") is y, "moving to the device it is on returns the tensor itself, as torch does"
    assert is_simulated_cuda(y) and not is_simulated_cuda(x)
    assert y.device.type == "cpu", "outside the block a tagged tensor is a plain CPU tensor"


def test_dtype_conversions_views_and_results_stay_on_the_device():
    with simulated_cuda():
        x = torch.randn(4, 3).to("cuda")
        for y in (x.double(), x.to(torch.float64), x.to("cuda", torch.float16), x.T, x[1:], x.reshape(-1), x.view(3, 4),
                  x * 2, x @ x.T, torch.relu(x), x.sum(), x.max(dim=1).values, x.argmax(1), torch.stack([x, x]),
                  *x.unbind(0), *x.split(2), x.clone(), x.detach(), x.data, x.float(), x.contiguous()):
            assert y.device == CUDA, y
        rows = list(x)
        assert all(r.device == CUDA for r in rows)


@pytest.mark.parametrize("back", [lambda y: y.cpu(), lambda y: y.to("cpu"), lambda y: y.to(torch.device("cpu")),
                                  lambda y: y.to("cpu", torch.float64), lambda y: y.to(torch.zeros(1))])
def test_moving_back_to_the_cpu_copies(back):
    with simulated_cuda():
        y = torch.ones(3, device="cuda")
        z = back(y)
        assert z.device.type == "cpu"
        z.add_(1)
        assert torch.equal(y.cpu(), torch.ones(3)), "the tensor on the device did not change"
        assert z.numpy().shape == (3,)


@pytest.mark.parametrize("make", [
    lambda d: torch.zeros(2, 3, device=d), lambda d: torch.ones(2, device=d), lambda d: torch.empty(4, device=d),
    lambda d: torch.randn(3, device=d), lambda d: torch.rand(3, device=d), lambda d: torch.randint(0, 5, (3,), device=d),
    lambda d: torch.arange(5, device=d), lambda d: torch.full((2,), 7.0, device=d), lambda d: torch.eye(3, device=d),
    lambda d: torch.linspace(0, 1, 5, device=d), lambda d: torch.tensor([1.0, 2.0], device=d),
    lambda d: torch.as_tensor([1, 2], device=d), lambda d: torch.as_tensor(np.ones(3), device=d),
    lambda d: torch.zeros_like(torch.ones(2), device=d), lambda d: torch.randperm(4, device=d),
    lambda d: torch.ones(2).new_zeros(3, device=d), lambda d: torch.tensor(3.0, device=d),
])
@pytest.mark.parametrize("device", ["cuda", torch.device("cuda"), "cuda:0"])
def test_factory_functions_with_a_cuda_device(make, device):
    with simulated_cuda():
        t = make(device)
        assert t.device == CUDA
        assert make("cpu").device.type == "cpu" and make(None).device.type == "cpu"


def test_as_tensor_of_a_numpy_array_copies_as_a_real_gpu_does():
    a = np.zeros(3)
    with simulated_cuda():
        t = torch.as_tensor(a, device="cuda")
        t.add_(1)
    assert np.array_equal(a, np.zeros(3))


def test_the_device_of_new_tensors_follows_their_inputs():
    with simulated_cuda():
        x = torch.ones(2, 3, device="cuda")
        for y in (torch.zeros_like(x), torch.empty_like(x), torch.randn_like(x), x.new_zeros(4), x.new_tensor([1.0]),
                  x.new_full((2,), 3.0), torch.tensor(x.tolist(), device=x.device), torch.ones(2).type_as(x),
                  x.new_ones(2), torch.as_tensor(x.cpu(), device=x.device)):
            assert y.device == CUDA
        assert x.new_zeros(2, device="cpu").device.type == "cpu"
        assert torch.as_tensor(x) is x


def test_an_invalid_device_ordinal_fails_as_on_a_machine_with_one_gpu():
    with simulated_cuda(), pytest.raises(RuntimeError, match="invalid device ordinal"):
        torch.ones(2).to("cuda:1")


def test_what_the_device_reports():
    with simulated_cuda():
        x = torch.tensor([1.0, 2.0]).to("cuda")
        assert x.device == SIMULATED_DEVICE and str(x.device) == "cuda:0"
        assert torch.device(x.device) == CUDA and x.device != torch.device("cpu")
        assert "device='cuda:0'" in repr(x) and "device='cuda:0'" in repr(x.requires_grad_(True) * 2)
        assert repr(torch.ones(2)) == "tensor([1., 1.])"
        assert x.type().startswith("torch.cuda.")
        assert not x.is_cpu


# ------------------------------------------------------------------------------------------------ mixing


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a @ b.T, lambda a, b: torch.cat([a, b]),
    lambda a, b: torch.stack([b, a]), lambda a, b: torch.where(a > 0, a, b), lambda a, b: F.mse_loss(a, b),
    lambda a, b: a.add_(b), lambda a, b: b.add_(a), lambda a, b: torch.equal(a, b), lambda a, b: a == b,
    lambda a, b: F.linear(b, a), lambda a, b: torch.maximum(a, b),
])
def test_mixing_the_devices_raises_torchs_error(op):
    with simulated_cuda():
        a = torch.randn(3, 3, device="cuda")
        b = torch.randn(3, 3)
        with pytest.raises(RuntimeError) as info:
            op(a, b)
    message = str(info.value)
    assert message.startswith(MIXED), message
    assert "simulated" in message and ".to(device)" in message, "the message says what to do"


def test_the_usual_forgotten_moves_raise():
    with simulated_cuda():
        model = nn.Linear(4, 3).to("cuda")
        x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
        with pytest.raises(RuntimeError, match="same device"):
            model(x)  # x not moved
        with pytest.raises(RuntimeError, match="same device"):
            F.cross_entropy(model(x.to("cuda")), y)  # y not moved
        with pytest.raises(RuntimeError, match="same device"):
            model.weight.grad = None
            torch.zeros(3, 4).add_(model.weight)  # a new tensor on the CPU, written with a CUDA one


def test_a_cpu_scalar_tensor_may_join_a_cuda_operation_but_not_the_other_way_round():
    with simulated_cuda():
        a = torch.randn(3, device="cuda")
        scalar = torch.tensor(2.0)
        assert (a * scalar).device == CUDA and (scalar + a).device == CUDA
        assert torch.clamp(a, min=torch.tensor(0.0)).device == CUDA
        with pytest.raises(RuntimeError, match="same device"):
            torch.ones(3) * a.sum()  # a CUDA scalar with a CPU tensor
        with pytest.raises(RuntimeError, match="same device"):
            scalar.add_(a.sum())  # written into a CPU tensor
        total = 0.0
        total += a.sum()  # a Python number and a CUDA tensor
        assert total.device == CUDA


def test_copies_between_devices_and_indexing_with_cpu_indices_are_allowed():
    with simulated_cuda():
        a = torch.zeros(4, device="cuda")
        a.copy_(torch.arange(4.0))
        b = torch.zeros(4)
        b.copy_(a)
        assert b.device.type == "cpu" and torch.equal(b, torch.arange(4.0))
        assert a[torch.tensor([0, 2])].device == CUDA and a[torch.tensor([True, False, True, False])].device == CUDA
        a[1:3] = torch.ones(2)
        with pytest.raises(RuntimeError, match="indices should be either on cpu"):
            b[torch.tensor([0, 1], device="cuda")]


# ------------------------------------------------------------------------------------------------ numpy


def test_numpy_is_refused_on_the_device_as_on_a_real_gpu():
    with simulated_cuda():
        t = torch.ones(2, device="cuda")
        with pytest.raises(TypeError, match="can't convert cuda:0 device type tensor to numpy"):
            t.numpy()
        with pytest.raises(TypeError, match="Use Tensor.cpu"):
            np.asarray(t)
        assert t.cpu().numpy().tolist() == [1.0, 1.0]
        assert t.sum().item() == 2.0 and t.tolist() == [1.0, 1.0] and float(t[0]) == 1.0
        assert t.numpy(force=True).tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------------------------ modules


def test_module_to_moves_parameters_and_buffers_and_keeps_their_identity():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    params = list(model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)  # created before the move, as people do
    with simulated_cuda():
        assert model.to("cuda") is model
        assert [p is q for p, q in zip(params, model.parameters())] == [True] * len(params)
        assert all(p.device == CUDA for p in model.parameters())
        assert all(b.device == CUDA for b in model.buffers())
        assert next(model.parameters()).device == CUDA
        assert all(v.device == CUDA for v in model.state_dict().values())
        model(torch.randn(5, 3, device="cuda")).sum().backward()
        optimizer.step()
        assert model[1].num_batches_tracked.device == CUDA and int(model[1].num_batches_tracked) == 1
        model.cpu()
        assert all(p.device.type == "cpu" for p in model.parameters())
        model.cuda()
        assert all(p.device == CUDA for p in model.parameters())


def test_state_dicts_load_across_devices_and_deep_copies_stay_on_the_device():
    torch.manual_seed(0)
    cpu_model = nn.Linear(3, 2)
    with simulated_cuda():
        model = nn.Linear(3, 2, device="cuda")
        model.load_state_dict(cpu_model.state_dict())
        assert model.weight.device == CUDA and torch.equal(model.weight.cpu(), cpu_model.weight.detach())
        twin = copy.deepcopy(model)
        saved = copy.deepcopy(model.state_dict())
        assert twin.weight.device == CUDA and saved["weight"].device == CUDA
        cpu_model.load_state_dict(model.state_dict())
        assert cpu_model.weight.device.type == "cpu"


def test_a_tensor_attribute_that_is_not_a_buffer_stays_behind():
    class Forgetful(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.ones(3)  # not registered: .to(device) does not move it

        def forward(self, x):
            return x * self.scale

    with simulated_cuda():
        model = Forgetful().to("cuda")
        with pytest.raises(RuntimeError, match="same device"):
            model(torch.ones(2, 3, device="cuda"))


# ------------------------------------------------------------------------------------------------ optimizers, autograd


@pytest.mark.parametrize("make", [
    lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-3, amsgrad=True),
    lambda p: torch.optim.AdamW(p, lr=1e-2),
    lambda p: torch.optim.RMSprop(p, lr=1e-2, momentum=0.5, centered=True),
    lambda p: torch.optim.Adagrad(p, lr=1e-1),
])
def test_optimizer_state_lives_on_the_device_and_the_numbers_equal_the_cpus(make):
    def run(device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).to(device)
        optimizer = make(model.parameters())
        x, y = torch.randn(16, 5), torch.randint(0, 3, (16,))
        for _ in range(4):
            optimizer.zero_grad()
            F.cross_entropy(model(x.to(device)), y.to(device)).backward()
            optimizer.step()
        state = [v for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v) and v.dim() > 0]
        return model, optimizer, state

    cpu_model, _, _ = run("cpu")
    with simulated_cuda():
        model, optimizer, state = run("cuda")
        assert state and all(v.device == CUDA for v in state)
        again = make(model.parameters())
        again.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        assert all(v.device == CUDA for s in again.state.values() for v in s.values() if torch.is_tensor(v) and v.dim())
    for p, q in zip(model.parameters(), cpu_model.parameters()):
        assert torch.equal(p.detach(), q.detach()), "the simulated device computes exactly what the CPU computes"


def test_autograd_gradients_no_grad_and_inference_mode():
    with simulated_cuda():
        w = torch.randn(3, device="cuda", requires_grad=True)
        loss = (w * torch.arange(3.0, device="cuda")).pow(2).sum()
        (g,) = torch.autograd.grad(loss, [w], create_graph=True)
        assert g.device == CUDA
        loss.backward()
        assert w.grad.device == CUDA and torch.equal(w.grad, g.detach())
        with torch.no_grad():
            w -= 0.1 * w.grad
            w.grad.zero_()
        assert w.device == CUDA and w.is_leaf
        with torch.inference_mode():
            assert (w * 2).device == CUDA
        leaf = torch.ones(2, requires_grad=True)
        leaf.to("cuda").sum().backward()
        assert leaf.grad.device.type == "cpu", "a gradient flows back to the CPU tensor that was moved"


def test_dataloader_batches_stay_on_the_cpu_until_moved():
    data = TensorDataset(torch.randn(10, 2), torch.arange(10))
    with simulated_cuda():
        model = nn.Linear(2, 10).to("cuda")
        for xb, yb in DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)):
            assert xb.device.type == "cpu"
            with pytest.raises(RuntimeError, match="same device"):
                model(xb)
            assert F.cross_entropy(model(xb.to("cuda")), yb.to("cuda")).device == CUDA
        cuda_data = TensorDataset(torch.randn(6, 2, device="cuda"), torch.arange(6, device="cuda"))
        assert all(xb.device == CUDA for xb, _ in DataLoader(cuda_data, batch_size=4))


def test_random_numbers_equal_the_cpus_after_the_same_seed():
    torch.manual_seed(5)
    want = (torch.randn(4), torch.rand(3), torch.randint(0, 9, (3,)), nn.Dropout(0.5)(torch.ones(20)))
    g = torch.Generator().manual_seed(3)
    want_g = torch.randn(3, generator=g)
    with simulated_cuda():
        torch.manual_seed(5)
        got = (torch.randn(4, device="cuda"), torch.rand(3, device="cuda"), torch.randint(0, 9, (3,), device="cuda"),
               nn.Dropout(0.5)(torch.ones(20, device="cuda")))
        got_g = torch.randn(3, generator=torch.Generator().manual_seed(3), device="cuda")
        assert all(t.device == CUDA for t in (*got, got_g))
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    assert torch.equal(got_g, want_g)


# ------------------------------------------------------------------------------------------------ a training step


def _train_step(model, x, y, *, device, forget=None):
    """A device-agnostic training step; ``forget`` leaves out one move, as students do."""
    model.to(device)
    if forget != "x":
        x = x.to(device)
    if forget != "y":
        y = y.to(device)
    weights = torch.ones(model.out_features) if forget == "new tensor" else torch.ones(model.out_features, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(3):
        loss = F.cross_entropy(model(x), y, weight=weights)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("forget", [None, "x", "y", "new tensor"])
def test_a_train_step_passes_when_device_agnostic_and_fails_when_a_move_is_missing(forget):
    torch.manual_seed(0)
    x, y, start = torch.randn(12, 4), torch.randint(0, 3, (12,)), nn.Linear(4, 3)
    reference = _train_step(copy.deepcopy(start), x, y, device="cpu", forget=forget)  # on the CPU nothing shows
    with simulated_cuda():
        model = copy.deepcopy(start)
        if forget is None:
            assert _train_step(model, x, y, device="cuda") == reference, "the same numbers as on the CPU"
            assert model.weight.device == CUDA
        else:
            with pytest.raises(RuntimeError) as info:
                _train_step(model, x, y, device="cuda", forget=forget)
            assert str(info.value).startswith(MIXED)


def test_a_small_convnet_with_batch_norm_dropout_adam_and_a_scheduler_equals_the_cpu_run_to_the_last_bit():
    def run(device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Dropout(0.3), nn.Linear(4 * 4 * 4, 5)).to(device)
        X, Y = torch.randn(48, 1, 8, 8), torch.randint(0, 5, (48,))
        loader = DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=9)
        losses = []
        for _ in range(3):
            model.train()
            for xb, yb in loader:
                loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                scheduler.step()
                losses.append(loss.item())
        model.eval()
        with torch.no_grad():
            out = model(X.to(device)).cpu()
        return losses, {k: v.cpu() for k, v in model.state_dict().items()}, out

    losses, state, out = run("cpu")
    with simulated_cuda():
        losses_sim, state_sim, out_sim = run("cuda")
    assert losses_sim == losses and torch.equal(out_sim, out)
    assert all(torch.equal(state_sim[k], state[k]) for k in state)


# ------------------------------------------------------------------------------------------------ the block


def test_synchronize_outside_and_inside_the_block():
    with simulated_cuda():
        torch.cuda.synchronize()
        torch.cuda.synchronize("cuda")
        torch.cuda.synchronize(torch.device("cuda", 0))
        with pytest.raises(ValueError, match="Expected a cuda device"):
            torch.cuda.synchronize("cpu")
    assert torch.cuda.synchronize is not simulated_device._synchronize


def test_the_block_ends_cleanly_after_an_error_and_nests():
    with pytest.raises(ZeroDivisionError):
        with simulated_cuda():
            with simulated_cuda():
                x = torch.ones(2, device="cuda")
            assert x.device == CUDA, "the inner block does not end the outer one"
            1 / 0
    assert torch.ones(2, device="cpu").device.type == "cpu"
    assert torch.ones(2).to(x).device.type == "cpu", "no simulation is left behind"


def test_on_device_simulates_only_cuda_and_only_without_a_gpu(monkeypatch):
    monkeypatch.setattr(simulated_device, "_REAL_CUDA_AVAILABLE", lambda: False)
    with on_device("cpu"):
        assert torch.ones(1).device.type == "cpu"
    for device in ("cuda", torch.device("cuda", 0)):
        with on_device(device):
            assert torch.ones(1).to(device).device == CUDA
    assert test_devices() == ["cpu", "cuda"]
    assert "simulated" in devices_text(test_devices()) and "'cuda'" not in devices_text(test_devices())
    monkeypatch.setattr(simulated_device, "_REAL_CUDA_AVAILABLE", lambda: True)
    assert devices_text(test_devices()) == "['cpu', 'cuda']"
    assert not isinstance(on_device("cuda"), type(simulated_cuda()))


def test_mocking_cuda_availability_does_not_change_the_choice(monkeypatch):
    """Tests mock torch.cuda.is_available to simulate machines; on_device asks the real answer."""
    monkeypatch.setattr(simulated_device, "_REAL_CUDA_AVAILABLE", lambda: False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with on_device("cuda"):
        assert torch.ones(1, device="cuda").device == CUDA


def test_meta_tensors_are_left_alone():
    with simulated_cuda():
        with torch.device("meta"):
            big = nn.Linear(1000, 1000)
        assert big.weight.device.type == "meta"
        assert torch.ones(2).to("meta").device.type == "meta"


def test_the_overhead_is_moderate():
    """A small training loop, the worst case (tiny operations): the simulation costs a few times the CPU run."""
    def run(device):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x, y = torch.randn(64, 32, device=device), torch.randint(0, 10, (64,), device=device)
        start = time.perf_counter()
        for _ in range(150):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start

    run("cpu")
    plain = min(run("cpu") for _ in range(2))
    with simulated_cuda():
        simulated = min(run("cuda") for _ in range(2))
    assert simulated < 8 * plain + 0.05, f"simulated {simulated:.3f} s against {plain:.3f} s on the CPU"


@pytest.mark.parametrize("move", [lambda m: m.to("cuda"), lambda m: m.to(device="cuda"),
                                  lambda m: m.to(device="cuda", dtype=torch.float64), lambda m: m.to("cuda", torch.float64),
                                  lambda m: m.to(torch.ones(1, device="cuda")), lambda m: m.cuda()])
def test_every_form_of_module_to_moves_everything(move):
    with simulated_cuda():
        model = move(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
        assert {t.device for t in (*model.parameters(), *model.buffers())} == {CUDA}
