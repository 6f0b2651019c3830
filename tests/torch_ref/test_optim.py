"""The tensor-op optimizers against torch.optim: trajectories, schedulers, closures, state."""

import copy
import inspect

import pytest
import torch
from torch.optim import lr_scheduler
from torch.testing import assert_close

from dlcourse.torch_ref import optim as ours
from tests.torch_ref._helpers import DEVICES

CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.05, initial_accumulator_value=0.1, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.2, amsgrad=True)),
]
IDS = [f"{name}-{i}" for i, (name, _) in enumerate(CONFIGS)]


def _problem(device, dtype, seed=0):
    """Parameters (two groups) and a non-quadratic loss of them."""
    g = torch.Generator().manual_seed(seed)
    shapes = [(6, 4), (4,), (3, 2, 2)]
    init = [torch.randn(s, generator=g, dtype=dtype).to(device) for s in shapes]
    A = torch.randn(4, 6, generator=g, dtype=dtype).to(device)

    def loss_fn(params):
        w, b, c = params
        h = torch.tanh(A @ w + b)
        return (h**2).sum() + (c**3).abs().sum() + (w**2).sum() * 0.1

    return init, loss_fn


def _make(cls, init, kwargs, **extra):
    params = [p.clone().requires_grad_() for p in init]
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": kwargs["lr"] * 0.5}]
    return params, cls(groups, **kwargs, **extra)


def _tolerance(dtype):
    return dict(rtol=1e-10, atol=1e-12) if dtype == torch.float64 else dict(rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_trajectory_matches_torch_with_lr_changed_mid_run(device, dtype, name, kwargs):
    init, loss_fn = _problem(device, dtype)
    pa, oa = _make(getattr(ours, name), init, kwargs)
    pb, ob = _make(getattr(torch.optim, name), init, kwargs)
    for step in range(30):
        if step == 15:
            for o in (oa, ob):
                for group in o.param_groups:
                    group["lr"] *= 0.3
        for params, opt in ((pa, oa), (pb, ob)):
            opt.zero_grad()
            loss_fn(params).backward()
            opt.step()
        for i, (a, b) in enumerate(zip(pa, pb)):
            assert_close(a, b, **_tolerance(dtype),
                         msg=lambda m: f"{name}{kwargs} parameter {i} after step {step + 1}: {m}")
    for i, (a, b) in enumerate(zip(pa, pb)):
        sa, sb = oa.state[a], ob.state[b]
        assert set(sa) == set(sb), f"state keys of parameter {i}: ours {sorted(sa)}, torch {sorted(sb)}"
        for key in sb:
            assert_close(sa[key], sb[key], **_tolerance(dtype), msg=lambda m: f"state[{key!r}] of parameter {i}: {m}")
            if key != "step":
                assert sa[key].device == a.device and sa[key].dtype == a.dtype, f"state[{key!r}] on param's device/dtype"


SCHEDULERS = {
    "StepLR": lambda o: lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda o: lr_scheduler.MultiStepLR(o, milestones=[5, 20], gamma=0.3),
    "ExponentialLR": lambda o: lr_scheduler.ExponentialLR(o, gamma=0.95),
    "CosineAnnealingLR": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=1e-4),
    "CosineAnnealingWarmRestarts": lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=8, T_mult=2),
    "OneCycleLR": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=30,
                                                    cycle_momentum="momentum" in o.defaults or "betas" in o.defaults),
    "CyclicLR": lambda o: lr_scheduler.CyclicLR(o, base_lr=0.001, max_lr=0.05, step_size_up=5,
                                                cycle_momentum="momentum" in o.defaults and o.defaults["momentum"] > 0),
    "LambdaLR": lambda o: lr_scheduler.LambdaLR(o, lambda t: 1.0 / (1.0 + 0.1 * t)),
    "MultiplicativeLR": lambda o: lr_scheduler.MultiplicativeLR(o, lambda t: 0.97),
    "LinearLR": lambda o: lr_scheduler.LinearLR(o, start_factor=0.2, total_iters=10),
    "ConstantLR": lambda o: lr_scheduler.ConstantLR(o, factor=0.5, total_iters=10),
    "PolynomialLR": lambda o: lr_scheduler.PolynomialLR(o, total_iters=25, power=2.0),
    "SequentialLR": lambda o: lr_scheduler.SequentialLR(
        o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=5), lr_scheduler.ExponentialLR(o, gamma=0.9)],
        milestones=[5]),
    "ReduceLROnPlateau": lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=2),
}
SCHED_OPTIMIZERS = [("SGD", dict(lr=0.02, momentum=0.9)), ("Adagrad", dict(lr=0.05)),
                    ("RMSprop", dict(lr=0.01, momentum=0.3)), ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("sched", list(SCHEDULERS))
@pytest.mark.parametrize("name,kwargs", SCHED_OPTIMIZERS, ids=[n for n, _ in SCHED_OPTIMIZERS])
def test_every_scheduler_drives_ours_like_torch(device, sched, name, kwargs):
    init, loss_fn = _problem(device, torch.float64, seed=1)
    pa, oa = _make(getattr(ours, name), init, kwargs)
    pb, ob = _make(getattr(torch.optim, name), init, kwargs)
    sa, sb = SCHEDULERS[sched](oa), SCHEDULERS[sched](ob)
    for step in range(30):
        losses = []
        for params, opt in ((pa, oa), (pb, ob)):
            opt.zero_grad()
            loss = loss_fn(params)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        for s, loss in zip((sa, sb), losses):
            s.step(loss) if sched == "ReduceLROnPlateau" else s.step()
        lrs_a = [g["lr"] for g in oa.param_groups]
        lrs_b = [g["lr"] for g in ob.param_groups]
        assert lrs_a == pytest.approx(lrs_b, rel=1e-12), f"{sched} learning rates at step {step + 1}"
        for i, (a, b) in enumerate(zip(pa, pb)):
            assert_close(a, b, rtol=1e-10, atol=1e-12, msg=lambda m: f"{name}+{sched} parameter {i}, step {step + 1}: {m}")


def _steps_with_closure(loss_fn, *runs, steps=5):
    """Step every (params, optimizer) run ``steps`` times with a closure; yield each step's returned losses."""
    for _ in range(steps):
        results = []
        for params, opt in runs:
            def closure(params=params, opt=opt):
                opt.zero_grad()
                loss = loss_fn(params)
                loss.backward()
                return loss
            results.append(opt.step(closure))
        yield results


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=IDS[::2])
def test_closure_is_evaluated_with_grad_and_its_loss_returned(device, name, kwargs):
    init, loss_fn = _problem(device, torch.float64, seed=2)
    pa, oa = _make(getattr(ours, name), init, kwargs)
    pb, ob = _make(getattr(torch.optim, name), init, kwargs)
    for results in _steps_with_closure(loss_fn, (pa, oa), (pb, ob)):
        assert results[0] is not None and results[0].item() == pytest.approx(results[1].item(), rel=1e-12)
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert_close(a, b, rtol=1e-10, atol=1e-12, msg=lambda m: f"{name} with closure, parameter {i}: {m}")


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_and_cross_loading_with_torch(name, kwargs):
    """Ours → state_dict → fresh ours (and fresh torch) continue exactly like the original."""
    init, loss_fn = _problem("cpu", torch.float64, seed=3)
    pa, oa = _make(getattr(ours, name), init, kwargs)
    for _ in range(4):
        oa.zero_grad()
        loss_fn(pa).backward()
        oa.step()
    snapshot = [p.detach().clone() for p in pa]
    saved = copy.deepcopy(oa.state_dict())  # state_dict() shares the live buffers
    continuations = []
    for cls in (getattr(ours, name), getattr(torch.optim, name)):
        pc, oc = _make(cls, snapshot, kwargs)
        oc.load_state_dict(copy.deepcopy(saved))  # load_state_dict shares same-device tensors
        continuations.append((pc, oc))
    for _ in range(4):
        for params, opt in [(pa, oa)] + continuations:
            opt.zero_grad()
            loss_fn(params).backward()
            opt.step()
    for label, (pc, _) in zip(("ours reloaded", "torch.optim loading ours"), continuations):
        for i, (a, c) in enumerate(zip(pa, pc)):
            assert_close(c, a, rtol=1e-12, atol=1e-14, msg=lambda m: f"{name}: {label}, parameter {i}: {m}")
    # and torch's state dict loads into ours
    pt, ot = _make(getattr(torch.optim, name), init, kwargs)
    ot.zero_grad()
    loss_fn(pt).backward()
    ot.step()
    _, fresh = _make(getattr(ours, name), init, kwargs)
    fresh.load_state_dict(ot.state_dict())
    assert fresh.state_dict()["param_groups"][0]["lr"] == kwargs["lr"]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_signature_and_defaults_match_torch_without_implementation_flags(name):
    flags = {"foreach", "fused", "capturable", "differentiable"}
    sig_ours = inspect.signature(getattr(ours, name))
    sig_torch = inspect.signature(getattr(torch.optim, name))
    theirs = {k: v.default for k, v in sig_torch.parameters.items() if k not in flags}
    mine = {k: v.default for k, v in sig_ours.parameters.items()}
    assert mine == theirs, f"{name}: ours {mine} vs torch {theirs}"
    positional_torch = [k for k, v in sig_torch.parameters.items()
                        if v.kind == v.POSITIONAL_OR_KEYWORD and k not in flags]
    positional_ours = [k for k, v in sig_ours.parameters.items() if v.kind == v.POSITIONAL_OR_KEYWORD]
    assert positional_ours == positional_torch[: len(positional_ours)]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"])
def test_written_from_tensor_ops_not_torch_subclasses(name):
    cls = getattr(ours, name)
    assert issubclass(cls, torch.optim.Optimizer)
    for torch_cls in (torch.optim.SGD, torch.optim.Adagrad, torch.optim.RMSprop, torch.optim.Adam, torch.optim.AdamW):
        assert not issubclass(cls, torch_cls)


def test_skips_parameters_without_gradients_and_rejects_bad_arguments():
    p, q = torch.ones(3, requires_grad=True), torch.ones(3, requires_grad=True)
    opt = ours.Adam([p, q], lr=0.1)
    p.sum().backward()
    opt.step()
    assert torch.equal(q.detach(), torch.ones(3)) and len(opt.state[q]) == 0
    with pytest.raises(ValueError, match="learning rate"):
        ours.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="beta"):
        ours.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="Nesterov"):
        ours.SGD([p], lr=0.1, nesterov=True)


# ---------------------------------------------------------------------------------------------
# Multi-tensor (torch._foreach_*) path: forced on CPU (and used by default on CUDA), it must equal
# the per-parameter loop, torch.optim's foreach and for-loop implementations, and share their state.

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


def _force_path(opt, multi_tensor: bool):
    """Make one optimizer instance use the multi-tensor (True) or per-parameter (False) path."""
    opt._use_multi_tensor = (lambda params: bool(params)) if multi_tensor else (lambda params: False)
    return opt


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
    pm, om = _make(getattr(ours, name), init, kwargs)
    pl, ol = _make(getattr(ours, name), init, kwargs)
    _force_path(om, True), _force_path(ol, False)
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
        pa, oa = _make(getattr(ours, name), init, kwargs)
        _force_path(oa, first)
        for step in range(4):
            _set_grads(pa, step, seed=4)
            oa.step()
        snapshot = [p.detach().clone() for p in pa]
        saved = copy.deepcopy(oa.state_dict())
        pc, oc = _make(getattr(ours, name), snapshot, kwargs)
        _force_path(oc, second)
        oc.load_state_dict(copy.deepcopy(saved))
        pt, ot = _make(getattr(torch.optim, name), snapshot, kwargs, foreach=True)
        ot.load_state_dict(copy.deepcopy(saved))
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
    pa, oa = _make(getattr(ours, name), init, kwargs)
    pb, ob = _make(getattr(torch.optim, name), init, kwargs, foreach=True)
    _force_path(oa, True)
    for results in _steps_with_closure(loss_fn, (pa, oa), (pb, ob)):
        assert results[0].item() == pytest.approx(results[1].item(), rel=1e-12), "closure loss"
    for i, (a, b) in enumerate(zip(pa, pb)):
        assert_close(a, b, **F64, msg=lambda m, i=i: f"{name} multi-tensor with closure, parameter {i}: {m}")


def test_path_choice_follows_torch_default_and_module_switch(monkeypatch):
    calls = []
    monkeypatch.setattr(ours.Adam, "_step_multi_tensor", lambda self, group, params: calls.append("multi"))
    monkeypatch.setattr(ours.Adam, "_step_per_parameter", lambda self, group, params: calls.append("loop"))
    p = torch.ones(3, requires_grad=True)
    opt = ours.Adam([p])
    p.grad = torch.full((3,), 0.5)
    opt.step()
    assert calls == ["loop"], f"CPU parameters must use the per-parameter path, got {calls}"
    monkeypatch.setattr(ours, "_FORCE_MULTI_TENSOR", True)
    calls.clear()
    opt.step()
    assert calls == ["multi"], f"_FORCE_MULTI_TENSOR=True must select the multi-tensor path, got {calls}"
    monkeypatch.setattr(ours, "_FORCE_MULTI_TENSOR", None)
    assert not ours.Adam._use_multi_tensor([torch.zeros(2)]), "CPU → per-parameter"
    if torch.cuda.is_available():
        assert ours.Adam._use_multi_tensor([torch.zeros(2, device="cuda")]), "CUDA → multi-tensor"
        assert not ours.Adam._use_multi_tensor([torch.zeros(2, device="cuda"), torch.zeros(2)]), "mixed → loop"


def test_multi_tensor_path_groups_by_device_and_dtype(monkeypatch):
    seen = []
    original = ours.SGD._step_multi_tensor

    def spy(self, group, params):
        seen.append([(p.device.type, p.dtype) for p in params])
        return original(self, group, params)

    monkeypatch.setattr(ours.SGD, "_step_multi_tensor", spy)
    monkeypatch.setattr(ours, "_FORCE_MULTI_TENSOR", True)
    params = [torch.zeros(2, dtype=dtype, requires_grad=True)
              for dtype in (torch.float64, torch.float32, torch.float64, torch.float32)]
    opt = ours.SGD(params, lr=0.1)
    for p in params:
        p.grad = torch.full_like(p, 0.5)
    opt.step()
    expected = [[("cpu", torch.float64)] * 2, [("cpu", torch.float32)] * 2]
    assert seen == expected, f"expected one call per (device, dtype): {expected}, got {seen}"
