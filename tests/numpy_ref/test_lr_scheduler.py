"""Closed-form schedules against torch.optim.lr_scheduler, step by step (120+ steps)."""


import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as TS

from dlcourse.numpy_ref import lr_scheduler as S
from dlcourse.numpy_ref import optim

BASE_LR = 0.1
STEPS = 130

# name -> (our function, our kwargs, torch scheduler factory)
CASES = {
    "step": (S.step_lr, dict(step_size=7, gamma=0.5), lambda o: TS.StepLR(o, step_size=7, gamma=0.5)),
    "step_default_gamma": (S.step_lr, dict(step_size=30), lambda o: TS.StepLR(o, step_size=30)),
    "multistep": (S.multistep_lr, dict(milestones=[50, 10, 80, 80]), lambda o: TS.MultiStepLR(o, milestones=[50, 10, 80, 80])),
    "exponential": (S.exponential_lr, dict(gamma=0.97), lambda o: TS.ExponentialLR(o, gamma=0.97)),
    "polynomial": (S.polynomial_lr, dict(total_iters=100, power=2.0), lambda o: TS.PolynomialLR(o, total_iters=100, power=2.0)),
    "polynomial_linear": (S.polynomial_lr, dict(total_iters=40), lambda o: TS.PolynomialLR(o, total_iters=40)),
    "cosine": (S.cosine_annealing_lr, dict(T_max=STEPS, eta_min=0.001), lambda o: TS.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.001)),
    "cyclic_triangular": (S.cyclic_lr, dict(base_lr=0.01, max_lr=0.1, step_size_up=9),
                          lambda o: TS.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=9, cycle_momentum=False)),
    "cyclic_triangular_asym": (S.cyclic_lr, dict(base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=12),
                               lambda o: TS.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=12, cycle_momentum=False)),
    "cyclic_triangular2": (S.cyclic_lr, dict(base_lr=0.01, max_lr=0.1, step_size_up=10, mode="triangular2"),
                           lambda o: TS.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=10, mode="triangular2", cycle_momentum=False)),
    "cyclic_exp_range": (S.cyclic_lr, dict(base_lr=0.01, max_lr=0.1, step_size_up=8, mode="exp_range", gamma=0.99),
                         lambda o: TS.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=8, mode="exp_range", gamma=0.99, cycle_momentum=False)),
    "warm_restarts": (S.cosine_annealing_warm_restarts_lr, dict(T_0=10, eta_min=0.002),
                      lambda o: TS.CosineAnnealingWarmRestarts(o, T_0=10, eta_min=0.002)),
    "warm_restarts_mult": (S.cosine_annealing_warm_restarts_lr, dict(T_0=3, T_mult=2),
                           lambda o: TS.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2)),
    "linear": (S.linear_lr, dict(), lambda o: TS.LinearLR(o)),
    "linear_decay": (S.linear_lr, dict(start_factor=1.0, end_factor=0.1, total_iters=60),
                     lambda o: TS.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=60)),
    "inverse_time": (S.inverse_time_lr, dict(decay=0.05), lambda o: TS.LambdaLR(o, lambda t: 1 / (1 + 0.05 * t))),
}


def torch_lrs(factory, steps=STEPS):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=BASE_LR)
    sched = factory(opt)
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return np.array(lrs, dtype=float)


def our_lrs(fn, kwargs, steps=STEPS):
    if "base_lr" in kwargs:  # cyclic: base_lr is a schedule argument
        return np.array([fn(t, **kwargs) for t in range(steps + 1)])
    return np.array([fn(t, BASE_LR, **kwargs) for t in range(steps + 1)])


@pytest.mark.parametrize("name", CASES)
def test_schedule_matches_torch_step_by_step(name):
    fn, kwargs, factory = CASES[name]
    ours, theirs = our_lrs(fn, kwargs), torch_lrs(factory)
    bad = np.flatnonzero(np.abs(ours - theirs) > 1e-13 * BASE_LR + 1e-12 * np.abs(theirs))
    assert bad.size == 0, (
        f"{name}: {bad.size} steps differ; first at step {bad[0]}: ours {ours[bad[0]]!r}, torch {theirs[bad[0]]!r}"
    )
    assert len(set(np.round(theirs, 12))) > 2, "the schedule should actually change over the tested steps"


def test_cosine_beyond_T_max_follows_torch_up_to_its_recursion_error():
    T_max = 20
    ours = our_lrs(S.cosine_annealing_lr, dict(T_max=T_max), steps=100)
    theirs = torch_lrs(lambda o: TS.CosineAnnealingLR(o, T_max=T_max), steps=100)
    np.testing.assert_allclose(ours[: T_max + 1], theirs[: T_max + 1], rtol=1e-13, atol=1e-15 * BASE_LR)
    # beyond T_max: the closed form keeps following the cosine (rising again); torch drifts by rounding only
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12 * BASE_LR)
    assert ours[2 * T_max] == pytest.approx(BASE_LR, rel=1e-15)


def test_known_values():
    assert S.step_lr(14, 1.0, 7, 0.5) == 0.25
    assert S.inverse_time_lr(10, 1.0, 0.1) == 0.5
    assert S.polynomial_lr(200, 1.0, 100) == 0.0
    assert S.linear_lr(0, 0.3) == pytest.approx(0.1) and S.linear_lr(99, 0.3) == pytest.approx(0.3)
    assert S.cyclic_lr(5, 0.0, 1.0, 5) == 1.0 and S.cyclic_lr(10, 0.0, 1.0, 5) == 0.0
    assert S.cyclic_lr(15, 0.0, 1.0, 5, mode="triangular2") == 0.5
    assert S.cosine_annealing_warm_restarts_lr(3, 1.0, T_0=3, T_mult=2) == 1.0  # restart
    assert S.cosine_annealing_warm_restarts_lr(6, 1.0, T_0=3, T_mult=2) == pytest.approx(0.5)  # middle of period 6
    assert S.cosine_annealing_lr(5, 1.0, 10) == pytest.approx(0.5)


def test_scheduler_object_drives_param_groups_like_torch():
    a0, b0 = np.ones(3), np.ones(2)
    pa, pb = optim.Parameter(a0), optim.Parameter(b0)
    opt = optim.SGD([{"params": [pa]}, {"params": [pb], "lr": 0.5}], lr=0.1, momentum=0.9)
    sched = S.Scheduler(opt, S.cosine_annealing_lr, T_max=30, eta_min=0.01)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.5}], lr=0.1, momentum=0.9)
    tsched = TS.CosineAnnealingLR(topt, T_max=30, eta_min=0.01)
    g = np.random.default_rng(0)
    for step in range(30):
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-13, abs=1e-16)
        ga, gb = g.standard_normal(3), g.standard_normal(2)
        pa.grad, pb.grad, ta.grad, tb.grad = ga, gb, torch.tensor(ga), torch.tensor(gb)
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
    np.testing.assert_allclose(pa.data, ta.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(pb.data, tb.detach().numpy(), rtol=1e-12)
    assert sched.last_epoch == 30 and sched.base_lrs == [0.1, 0.5]
    state = sched.state_dict()
    sched2 = S.Scheduler(opt, S.cosine_annealing_lr, T_max=30, eta_min=0.01)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == sched.get_last_lr()


def test_lambda_scheduler():
    p = optim.Parameter(np.zeros(1))
    opt = optim.SGD([p], lr=0.2)
    sched = S.LambdaScheduler(opt, lambda t: 0.5**t)
    sched.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="step"):
        S.step_lr(-1, 0.1, 5)
    with pytest.raises(ValueError, match="step_size"):
        S.step_lr(1, 0.1, 0)
    with pytest.raises(ValueError, match="T_max"):
        S.cosine_annealing_lr(1, 0.1, 0)
    with pytest.raises(ValueError, match="mode"):
        S.cyclic_lr(1, 0.1, 1.0, 5, mode="sine")
    with pytest.raises(ValueError, match="T_mult"):
        S.cosine_annealing_warm_restarts_lr(1, 0.1, 5, T_mult=0)
    with pytest.raises(ValueError, match="start_factor"):
        S.linear_lr(1, 0.1, start_factor=0.0)
    with pytest.raises(ValueError, match="milestones"):
        S.multistep_lr(1, 0.1, milestones=["a"])
    with pytest.raises(ValueError, match="optimizer"):
        S.Scheduler(object(), S.step_lr, step_size=3)
