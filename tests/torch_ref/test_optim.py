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
    flags = {"fused", "capturable", "differentiable"}  # foreach is ours too
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
