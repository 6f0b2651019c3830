"""plot_loss_contours: contours of a 2-D loss with optimizer trajectories (headless, Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse.plots import plot_loss_contours


def quad(X, Y):
    return 0.5 * (X**2 + 25 * Y**2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def gd_path(lr, steps=20, start=(2.0, 1.0)):
    w = np.array(start, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * np.array([w[0], 25 * w[1]])
        path.append(w.copy())
    return np.array(path)


def test_one_line_per_trajectory_with_labels_and_axes():
    trajs = {"GD lr=0.03": gd_path(0.03), "GD lr=0.07": gd_path(0.07), "momentum": gd_path(0.01)}
    ax = plot_loss_contours(quad, (-2.5, 2.5), (-1.5, 1.5), trajectories=trajs, mark_minimum=(0, 0),
                            title="quadratic", resolution=50)
    assert len(ax.lines) == len(trajs), f"expected {len(trajs)} lines, got {len(ax.lines)}"
    for line, (label, path) in zip(ax.lines, trajs.items()):
        assert line.get_label().startswith(label), f"line label {line.get_label()!r} should start with {label!r}"
        np.testing.assert_allclose(line.get_xydata(), path, rtol=1e-12)
        assert line.get_marker() not in (None, "None", "", " "), "trajectories are drawn with markers"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len([t for t in legend if t != "minimum"]) == len(trajs), f"one legend entry per trajectory: {legend}"
    assert "minimum" in legend, f"the minimum star has a legend entry: {legend}"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title() == "quadratic"
    assert ax.get_xlim() == (-2.5, 2.5) and ax.get_ylim() == (-1.5, 1.5)
    # start points are marked: one scatter per trajectory plus the minimum star
    assert len(ax.collections) >= len(trajs) + 1


def test_defaults_custom_labels_and_existing_axes():
    _fig, axes = plt.subplots(1, 2)
    ax = plot_loss_contours(quad, (-1, 1), (-1, 1), ax=axes[1], xlabel="slope", ylabel="bias", resolution=20)
    assert ax is axes[1]
    assert len(ax.lines) == 0 and ax.get_legend() is None
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("slope", "bias")
    ax2 = plot_loss_contours(quad, (-1, 1), (-1, 1), resolution=20)
    assert "w" in ax2.get_xlabel() and "1" in ax2.get_xlabel() and "2" in ax2.get_ylabel()


@pytest.mark.parametrize("log_levels", [True, False])
def test_levels_log_and_linear_and_explicit(log_levels):
    ax = plot_loss_contours(quad, (-1, 1), (-1, 1), levels=12, log_levels=log_levels, resolution=30)
    lv = np.asarray(ax.collections[0].levels)
    assert len(lv) == 12
    ratios, diffs = lv[1:] / lv[:-1], np.diff(lv)
    if log_levels:
        np.testing.assert_allclose(ratios, ratios[0], rtol=1e-9, err_msg="log levels are geometric")
    else:
        np.testing.assert_allclose(diffs, diffs[0], rtol=1e-9, err_msg="linear levels are evenly spaced")
    ax = plot_loss_contours(quad, (-1, 1), (-1, 1), levels=[0.1, 1.0, 5.0], resolution=30)
    np.testing.assert_allclose(ax.collections[-1].levels, [0.1, 1.0, 5.0])


def test_log_levels_on_a_saddle_cover_the_negative_values():
    ax = plot_loss_contours(lambda X, Y: X**2 - Y**2, (-1, 1), (-1, 1), levels=10, resolution=41)
    lv = np.asarray(ax.collections[0].levels)
    assert len(lv) == 10 and lv[0] < 0 < lv[-1], f"levels must span [-1, 1], got {lv}"
    np.testing.assert_allclose(lv[-1], 1.0, rtol=1e-12)
    gaps = np.diff(lv + 1.0)
    assert np.all(gaps[1:] > gaps[:-1]), "heights above the minimum are geometrically spaced"


def test_single_point_trajectory_and_filled():
    ax = plot_loss_contours(quad, (-1, 1), (-1, 1), trajectories={"start": [[0.5, 0.5]]}, filled=True,
                            resolution=20)
    assert len(ax.lines) == 1


@pytest.mark.parametrize("bad", [
    {"a": np.zeros((5, 3))},
    {"a": np.zeros(5)},
    {"a": np.zeros((0, 2))},
    {"a": np.zeros((2, 5, 2))},
    [np.zeros((5, 2))],
])
def test_bad_trajectories_raise(bad):
    with pytest.raises(ValueError, match="trajectories"):
        plot_loss_contours(quad, (-1, 1), (-1, 1), trajectories=bad, resolution=10)


@pytest.mark.parametrize("name,lim", [
    ("xlim", (1, -1)), ("xlim", (0, 0)), ("xlim", (0,)), ("xlim", "ab"), ("xlim", (0, np.inf)),
    ("ylim", (2, 1)), ("ylim", None),
])
def test_bad_limits_raise(name, lim):
    kwargs = {"xlim": (-1, 1), "ylim": (-1, 1), name: lim}
    with pytest.raises(ValueError, match=name):
        plot_loss_contours(quad, kwargs["xlim"], kwargs["ylim"], resolution=10)


def test_other_bad_input_raises():
    with pytest.raises(ValueError, match="resolution"):
        plot_loss_contours(quad, (-1, 1), (-1, 1), resolution=1)
    with pytest.raises(ValueError, match="mark_minimum"):
        plot_loss_contours(quad, (-1, 1), (-1, 1), mark_minimum=(0, 0, 0), resolution=10)
    with pytest.raises(ValueError, match="f"):
        plot_loss_contours(lambda X, Y: np.zeros(3), (-1, 1), (-1, 1), resolution=10)
