"""plot_lr_schedules / lr_schedule_values: learning-rate schedules as figures (headless, Agg backend)."""

import functools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcourse.numpy_ref import lr_scheduler as S
from dlcourse.plots import lr_schedule_values, plot_lr_schedules


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _torch_lrs(make, steps, base_lr=0.1):
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return lrs


def test_values_from_callable_and_sequence():
    f = functools.partial(S.cosine_annealing_lr, base_lr=0.1, T_max=10)
    got = lr_schedule_values(f, 11)
    want = np.array([S.cosine_annealing_lr(t, 0.1, 10) for t in range(11)])
    np.testing.assert_allclose(got, want, rtol=1e-15, err_msg="callable evaluated at steps 0..10")
    assert got.dtype == np.float64 and got.shape == (11,)
    seq = [0.3, 0.2, 0.1]
    np.testing.assert_array_equal(lr_schedule_values(seq), seq)
    np.testing.assert_array_equal(lr_schedule_values(seq, 2), seq[:2])


def test_one_line_per_schedule_with_exact_data_and_labels():
    steps = 30
    schedules = {
        "step": functools.partial(S.step_lr, base_lr=0.1, step_size=10, gamma=0.5),
        "cyclic": functools.partial(S.cyclic_lr, base_lr=0.01, max_lr=0.1, step_size_up=5),
        "torch exp": _torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9), steps),
    }
    ax = plot_lr_schedules(schedules, steps, title="three", log=False)
    assert len(ax.lines) == 3
    assert [line.get_label() for line in ax.lines] == list(schedules)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(schedules)
    for line, (name, s) in zip(ax.lines, schedules.items()):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(steps), err_msg=f"{name}: x is the step 0..{steps - 1}")
        np.testing.assert_allclose(line.get_ydata(), lr_schedule_values(s, steps), rtol=1e-15, err_msg=name)
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "learning rate" and ax.get_title() == "three"


def test_closed_forms_drawn_match_torch_schedulers():
    # what the L08 notebook shows: the closed form and torch's scheduler draw the same curve
    steps = 40
    pairs = [
        (functools.partial(S.step_lr, base_lr=0.1, step_size=7, gamma=0.3),
         lambda o: torch.optim.lr_scheduler.StepLR(o, 7, 0.3)),
        (functools.partial(S.cosine_annealing_warm_restarts_lr, base_lr=0.1, T_0=5, T_mult=2, eta_min=0.001),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 5, 2, 0.001)),
        (functools.partial(S.cyclic_lr, base_lr=0.001, max_lr=0.1, step_size_up=4, mode="triangular2"),
         lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.001, 0.1, 4, mode="triangular2", cycle_momentum=False)),
    ]
    for closed, make in pairs:
        ax = plot_lr_schedules({"closed form": closed, "torch": _torch_lrs(make, steps)}, steps)
        a, b = (line.get_ydata() for line in ax.lines)
        worst = int(np.argmax(np.abs(a - b)))
        assert np.allclose(a, b, rtol=1e-12, atol=1e-15), (
            f"closed form and torch differ; worst step {worst}: {a[worst]} vs {b[worst]}")


def test_log_axis_and_existing_axes():
    fig, ax = plt.subplots()
    out = plot_lr_schedules({"poly": functools.partial(S.polynomial_lr, base_lr=1.0, total_iters=5)}, 8,
                            ax=ax, log=True, xlabel="epoch")
    assert out is ax and ax.get_yscale() == "log" and ax.get_xlabel() == "epoch"
    y = ax.lines[0].get_ydata()
    assert np.isnan(y[5:]).all(), "zeros are left out of a log plot"
    assert np.isfinite(y[:5]).all()


@pytest.mark.parametrize(
    "schedules, steps, match",
    [
        ({}, 5, "schedules"),
        ([0.1, 0.2], 5, "schedules"),
        ({"f": lambda t: 0.1}, None, "steps"),
        ({"f": lambda t: 0.1}, 0, "steps"),
        ({"s": [0.1, 0.2]}, 3, "steps"),
        ({"s": [0.1, -0.2]}, None, "schedule"),
        ({"s": [0.1, float("nan")]}, None, "schedule"),
        ({"s": "abc"}, None, "schedule"),
        ({"s": [[0.1, 0.2]]}, None, "schedule"),
    ],
)
def test_bad_input_raises_value_error(schedules, steps, match):
    with pytest.raises(ValueError, match=match):
        plot_lr_schedules(schedules, steps)
