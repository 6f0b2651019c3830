"""The two code paths of the tensor-op optimizers: foreach=True (``_multi_tensor_<algo>``, torch._foreach_*
ops) and foreach=False (``_single_tensor_<algo>``, a loop) must agree with each other, with torch.optim's
foreach and for-loop implementations, and share their state; foreach=None follows torch's default rule."""

import copy

import pytest
import torch
from torch.testing import assert_close

from dlcourse.torch_ref import optim as ours
from tests.torch_ref._helpers import DEVICES
from tests.torch_ref.test_optim import CONFIGS, IDS, _make, _problem, _steps_with_closure


def _option_grid():
    """Every combination of each optimizer's options (a few values each)."""
    grid = []
    for momentum in (0.0, 0.9):
        for dampening in (0.0, 0.1):
            for nesterov in ((False, True) if momentum and not dampening else (False,)):
                for weight_decay in (0.0, 0.02):
                    for maximize in (False, True):
                        grid.append(("SGD", {"lr": 0.05, "momentum": momentum, "dampening": dampening,
                                             "weight_decay": weight_decay, "nesterov": nesterov,
                                             "maximize": maximize}))
    for lr_decay in (0.0, 0.01):
        for weight_decay in (0.0, 0.05):
            for init_acc in (0.0, 0.1):
                for maximize in (False, True):
                    grid.append(("Adagrad", {"lr": 0.1, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                             "initial_accumulator_value": init_acc, "eps": 1e-6,
                                             "maximize": maximize}))
    for momentum in (0.0, 0.5):
        for centered in (False, True):
            for weight_decay in (0.0, 0.01):
                for maximize in (False, True):
                    grid.append(("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": momentum, "centered": centered,
                                             "weight_decay": weight_decay, "maximize": maximize}))
    for weight_decay in (0.0, 0.1):
        for amsgrad in (False, True):
            for maximize in (False, True):
                for decoupled in (False, True):
                    grid.append(("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": weight_decay,
                                          "amsgrad": amsgrad, "maximize": maximize,
                                          "decoupled_weight_decay": decoupled}))
                grid.append(("AdamW", {"lr": 0.01, "weight_decay": weight_decay * 2, "amsgrad": amsgrad,
                                       "maximize": maximize}))
    return grid


GRID = _option_grid()
GRID_IDS = [f"{name}-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr") for name, kw in GRID]
# Placements of the four parameters (w, b, s, h): all on one device, or split between CUDA and CPU.
PLACEMENTS = DEVICES + (["cuda+cpu"] if "cuda" in DEVICES else [])
F64 = {"rtol": 1e-12, "atol": 1e-14}
F32 = {"rtol": 1e-6, "atol": 1e-7}


def _mixed_params(placement, seed=0):
    """Two groups: (w f64, b f64) and (s 0-d f64, h f32); devices mixed when placement is 'cuda+cpu'."""
    g = torch.Generator().manual_seed(seed)
    specs = [((5, 3), torch.float64), ((3,), torch.float64), ((), torch.float64), ((2, 3), torch.float32)]
    devices = ["cuda", "cpu", "cuda", "cpu"] if placement == "cuda+cpu" else [placement] * 4
    return [torch.randn(shape, generator=g, dtype=torch.float64).to(dtype=dtype, device=dev)
            for (shape, dtype), dev in zip(specs, devices)]


def _set_grads(params, step, seed=0):
    """Random upstream gradients plus a term in θ (so errors would feed back); some are missing.

    b has no gradient in steps 0-1 (its state starts late), the 0-d s none in every third step.
    Returns the gradients set (to check that ``step`` does not write into ``p.grad``).
    """
    g = torch.Generator().manual_seed(1000 * seed + step)
    given = []
    for k, p in enumerate(params):
        noise = torch.randn(p.shape, generator=g, dtype=torch.float64)
        if (k == 1 and step < 2) or (k == 2 and step % 3 == 1):
            p.grad = None
            given.append(None)
            continue
        p.grad = (noise + 0.3 * torch.sin(p.detach().double().cpu())).to(dtype=p.dtype, device=p.device)
        given.append(p.grad.clone())
    return given


def _assert_same(pa, oa, pb, ob, label):
    for i, (a, b) in enumerate(zip(pa, pb)):
        tol = F64 if a.dtype == torch.float64 else F32
        assert_close(a, b, **tol, msg=lambda m, i=i: f"{label}: parameter {i}: {m}")
        sa, sb = oa.state[a], ob.state[b]
        assert set(sa) == set(sb), f"{label}: state keys of parameter {i}: {sorted(sa)} vs {sorted(sb)}"
        for key in sb:
            assert_close(sa[key], sb[key], **tol, msg=lambda m, i=i, key=key: f"{label}: state[{key!r}] of parameter {i}: {m}")


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("name,kwargs", GRID, ids=GRID_IDS)
def test_multi_tensor_path_equals_per_parameter_path_and_torch_foreach_and_for_loop(placement, name, kwargs):
    init = _mixed_params(placement)
    pm, om = _make(getattr(ours, name), init, kwargs, foreach=True)
    pl, ol = _make(getattr(ours, name), init, kwargs, foreach=False)
    pf, of = _make(getattr(torch.optim, name), init, kwargs, foreach=True)
    pt, ot = _make(getattr(torch.optim, name), init, kwargs, foreach=False)
    runs = [("ours multi-tensor", pm, om), ("ours per-parameter", pl, ol),
            ("torch foreach", pf, of), ("torch for-loop", pt, ot)]
    for step in range(12):
        if step == 6:
            for _, _, opt in runs:
                for group in opt.param_groups:
                    group["lr"] *= 0.4
        for label, params, opt in runs:
            given = _set_grads(params, step)
            opt.step()
            if label.startswith("ours"):  # the gradients are read, never overwritten
                for i, (p, g) in enumerate(zip(params, given)):
                    assert g is None or torch.equal(p.grad, g), f"{label} changed p.grad of parameter {i}"
        for label, params, opt in runs[1:]:
            _assert_same(pm, om, params, opt, f"{name}{kwargs} multi-tensor vs {label}, step {step + 1}")
    for i, p in enumerate(pm):
        for key, value in om.state[p].items():
            if key == "step":
                assert value.device.type == "cpu" and value.dtype == torch.float32 and value.dim() == 0, \
                    f"state['step'] of parameter {i} must be a 0-d float32 CPU tensor, got {value!r}"
            else:
                assert value.device == p.device and value.dtype == p.dtype, \
                    f"state[{key!r}] of parameter {i}: {value.device}/{value.dtype}, expected {p.device}/{p.dtype}"
    if name != "SGD":  # each parameter counts its own steps: w got 12 gradients, b 10, s 8
        counts = [om.state[p]["step"].item() for p in pm[:3]]
        assert counts == [12, 10, 8], f"per-parameter step counts: expected [12, 10, 8], got {counts}"


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_between_multi_tensor_and_per_parameter_paths(placement, name, kwargs):
    """Either path → state_dict → the other path (and torch foreach) continues exactly like the original."""
    for first, second in ((True, False), (False, True)):
        init = _mixed_params(placement, seed=4)
        pa, oa = _make(getattr(ours, name), init, kwargs, foreach=first)
        for step in range(4):
            _set_grads(pa, step, seed=4)
            oa.step()
        snapshot = [p.detach().clone() for p in pa]
        saved = copy.deepcopy(oa.state_dict())
        pc, oc = _make(getattr(ours, name), snapshot, kwargs, foreach=second)
        oc.load_state_dict(copy.deepcopy(saved))
        pt, ot = _make(getattr(torch.optim, name), snapshot, kwargs, foreach=True)
        ot.load_state_dict(copy.deepcopy(saved))
        assert all(g["foreach"] is first for o in (oc, ot) for g in o.param_groups), "foreach is saved"
        for o, foreach in ((oc, second), (ot, True)):  # loading restores the saved foreach: choose again
            for group in o.param_groups:
                group["foreach"] = foreach
        for step in range(4, 9):
            for params, opt in ((pa, oa), (pc, oc), (pt, ot)):
                _set_grads(params, step, seed=4)
                opt.step()
        label = "multi-tensor" if first else "per-parameter"
        _assert_same(pa, oa, pc, oc, f"{name}: {label} state loaded into the other path")
        _assert_same(pa, oa, pt, ot, f"{name}: {label} state loaded into torch foreach")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=IDS[::2])
def test_multi_tensor_path_with_closure(device, name, kwargs):
    init, loss_fn = _problem(device, torch.float64, seed=5)
    pa, oa = _make(getattr(ours, name), init, kwargs, foreach=True)
    pb, ob = _make(getattr(torch.optim, name), init, kwargs, foreach=True)
    for results in _steps_with_closure(loss_fn, (pa, oa), (pb, ob)):
        assert results[0].item() == pytest.approx(results[1].item(), rel=1e-12), "closure loss"
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert_close(a, b, **F64, msg=lambda m, i=i: f"{name} multi-tensor with closure, parameter {i}: {m}")



def test_foreach_argument_follows_torch_default_and_is_stored_in_param_groups(monkeypatch):
    from dlcourse.torch_ref.optim import adam as adam_module
    from dlcourse.torch_ref.optim._base import _default_to_foreach

    calls = []
    monkeypatch.setattr(adam_module, "_multi_tensor_adam", lambda *a, **k: calls.append("multi"))
    monkeypatch.setattr(adam_module, "_single_tensor_adam", lambda *a, **k: calls.append("single"))
    p = torch.ones(3, requires_grad=True)
    p.grad = torch.full((3,), 0.5)
    for foreach, expected in ((None, "single"), (False, "single"), (True, "multi")):
        opt = ours.Adam([p], foreach=foreach)
        assert opt.param_groups[0]["foreach"] is foreach and opt.defaults["foreach"] is foreach
        calls.clear()
        opt.step()
        assert calls == [expected], f"foreach={foreach} on CPU must run the {expected} path, got {calls}"
    opt = ours.Adam([{"params": [p], "foreach": True}], foreach=False)  # per-group override, like torch
    calls.clear()
    opt.step()
    assert calls == ["multi"]
    assert not _default_to_foreach([torch.zeros(2)]), "CPU → single-tensor"
    assert not _default_to_foreach([]), "no parameters → single-tensor"
    if torch.cuda.is_available():
        assert _default_to_foreach([torch.zeros(2, device="cuda")]), "CUDA → multi-tensor"
        assert not _default_to_foreach([torch.zeros(2, device="cuda"), torch.zeros(2)]), "mixed → single-tensor"
    for name in ("SGD", "Adagrad", "RMSprop", "Adam", "AdamW"):
        with pytest.raises(ValueError, match="foreach"):
            getattr(ours, name)([p], foreach="yes")


def test_multi_tensor_functions_group_by_device_and_dtype(monkeypatch):
    from dlcourse.torch_ref.optim import _base, sgd

    seen = []
    original = _base._group_tensors_by_device_and_dtype

    def spy(tensorlists):
        groups = original(tensorlists)
        seen.extend([[(p.device.type, p.dtype) for p in lists[0]], idx] for lists, idx in groups)
        return groups

    monkeypatch.setattr(sgd, "_group_tensors_by_device_and_dtype", spy)
    params = [torch.zeros(2, dtype=dtype, requires_grad=True)
              for dtype in (torch.float64, torch.float32, torch.float64, torch.float32)]
    opt = ours.SGD(params, lr=0.1, momentum=0.9, foreach=True)
    for p in params:
        p.grad = torch.full_like(p, 0.5)
    opt.step()
    expected = [[[("cpu", torch.float64)] * 2, [0, 2]], [[("cpu", torch.float32)] * 2, [1, 3]]]
    assert seen == expected, f"expected one bucket per (device, dtype): {expected}, got {seen}"
    for p in params:  # new momentum buffers reach the state of every parameter, in every bucket
        assert torch.equal(opt.state[p]["momentum_buffer"], torch.full_like(p, 0.5))


def test_single_and_multi_tensor_functions_agree_for_every_option_in_float64():
    """Every algorithm and option combination: foreach=True and foreach=False give the same numbers.

    Float64, random gradients (never constant) of several shapes including 0-d, a parameter that
    never has a gradient and one that has none in some steps, a learning-rate change; compared
    after every step, bit for bit where the two paths do the same float operations (they do on
    CPU), otherwise to 1e-12.
    """
    shapes = [(4, 3), (5,), (), (2, 2, 3), (3,)]  # the last one never gets a gradient
    for name, kwargs in GRID:
        g = torch.Generator().manual_seed(7)
        init = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
        runs = []
        for foreach in (False, True):
            params = [x.clone().requires_grad_() for x in init]
            groups = [{"params": params[:3]}, {"params": params[3:], "lr": kwargs["lr"] * 0.5}]
            runs.append((params, getattr(ours, name)(groups, **kwargs, foreach=foreach)))
        for step in range(8):
            grads = [torch.randn(s, generator=g, dtype=torch.float64) * (0.1 + step % 3) for s in shapes]
            for params, opt in runs:
                if step == 4:
                    for group in opt.param_groups:
                        group["lr"] *= 0.3
                for k, (p, gr) in enumerate(zip(params, grads)):
                    p.grad = None if k == 4 or (k == 1 and step % 3 == 0) else gr.clone()
                opt.step()
            (pa, oa), (pb, ob) = runs
            for i, (a, b) in enumerate(zip(pa, pb)):
                label = f"{name}{kwargs} step {step + 1} parameter {i}"
                assert torch.equal(a, b) or torch.allclose(a, b, rtol=1e-12, atol=1e-14), label
                assert set(oa.state[a]) == set(ob.state[b]), label
                for key in oa.state[a]:
                    assert torch.equal(oa.state[a][key], ob.state[b][key]) or torch.allclose(
                        oa.state[a][key], ob.state[b][key], rtol=1e-12, atol=1e-14), f"{label} state {key}"
            assert len(oa.state[pa[4]]) == len(ob.state[pb[4]]) == (2 if name == "Adagrad" else 0)
            assert torch.equal(pa[4], init[4]) and torch.equal(pb[4], init[4]), "a parameter without grad moved"
