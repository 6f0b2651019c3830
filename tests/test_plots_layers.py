"""plot_layer_histograms and plot_layer_stats (headless, Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse.plots import plot_layer_histograms, plot_layer_stats


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _layers(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return [np.tanh(rng.normal(scale=0.5 * (k + 1), size=(64, 16))) for k in range(n)]


def _bar_heights(ax):
    return np.array([p.get_height() for p in ax.patches])


def test_grid_one_panel_per_layer_with_fractions():
    values = _layers(7)
    axes = plot_layer_histograms(values, bins=20)
    assert len(axes) == 7
    fig = axes[0].figure
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 7, f"expected 7 visible panels (2 rows of 5, 3 hidden), got {len(visible)}"
    for k, (ax, v) in enumerate(zip(axes, values), start=1):
        heights = _bar_heights(ax)
        assert len(heights) == 20
        assert heights.sum() == pytest.approx(1.0), f"layer {k}: fractions sum to {heights.sum()}, expected 1"
        assert ax.get_title().startswith(f"layer {k}\n")
        assert f"std {v.std():.2g}" in ax.get_title()
        assert ax.get_xlabel() == "activation value"
        assert ax.get_ylabel() == "fraction of values"
    lims = {ax.get_xlim() for ax in axes}
    assert len(lims) == 1, f"sharex: expected one common x range, got {lims}"
    lo = min(v.min() for v in values)
    hi = max(v.max() for v in values)
    assert lims.pop() == pytest.approx((lo, hi))
    assert fig._suptitle.get_text() == "Activations per layer"


def test_mapping_labels_and_given_axes():
    values = {"tanh N(0,1)": _layers(1)[0], "tanh Xavier": _layers(2)[1]}
    fig, axs = plt.subplots(1, 2)
    out = plot_layer_histograms(values, axes=axs, kind="gradient", title="grads")
    assert out == list(axs)
    assert out[0].get_title().startswith("tanh N(0,1)\n")
    assert out[1].get_xlabel() == "gradient value"
    assert fig._suptitle.get_text() == "grads"


def test_gradient_default_range_is_symmetric_and_explicit_range():
    rng = np.random.default_rng(1)
    g = [rng.normal(size=1000) * 1e-3, rng.normal(size=1000) + 0.5]
    axes = plot_layer_histograms(g, kind="gradient")
    lo, hi = axes[0].get_xlim()
    assert lo == pytest.approx(-hi) and hi > 0
    axes = plot_layer_histograms(g, range=(-1, 2))
    assert axes[1].get_xlim() == (-1.0, 2.0)


def test_sharex_false_gives_each_panel_its_range():
    values = [np.linspace(0, 1, 50), np.linspace(10, 20, 50)]
    axes = plot_layer_histograms(values, sharex=False)
    assert axes[0].get_xlim() == pytest.approx((0, 1))
    assert axes[1].get_xlim() == pytest.approx((10, 20))


def test_overlay_one_axes_step_outlines_and_legend():
    values = _layers(5)
    axes = plot_layer_histograms(values, overlay=True, logy=True, bins=15)
    assert len(axes) == 1
    ax = axes[0]
    assert len(ax.patches) == 5, "one step outline per layer"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(legend) == 5 and legend[0] == f"layer 1: std {values[0].std():.2g}"
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "Activations per layer"
    colours = {tuple(p.get_edgecolor()) for p in ax.patches}
    assert len(colours) == 5, "layers must be told apart by colour"


def test_overlay_draws_on_given_axes():
    fig, ax = plt.subplots()
    assert plot_layer_histograms(_layers(2), overlay=True, axes=ax, title="t") == [ax]
    assert ax.get_title() == "t"


def test_non_finite_values_are_left_out_and_reported():
    v = np.array([0.0, 1.0, np.inf, np.nan, 0.5])
    axes = plot_layer_histograms([v, np.array([np.nan, np.inf])])
    assert "2 non-finite left out" in axes[0].get_title()
    assert "no finite values" in axes[1].get_title()
    assert _bar_heights(axes[0]).sum() == pytest.approx(1.0)


def test_input_not_modified():
    values = _layers(2)
    copies = [v.copy() for v in values]
    plot_layer_histograms(values)
    assert all(np.array_equal(a, b) for a, b in zip(values, copies))


@pytest.mark.parametrize("kwargs, match", [
    (dict(values=[]), "values"),
    (dict(values=np.ones(3)), "values"),
    (dict(values="abc"), "values"),
    (dict(values=[np.array([])]), "empty"),
    (dict(values=[np.array(["a", "b"])]), "real numbers"),
    (dict(values=[np.ones(3)], kind="weights"), "kind"),
    (dict(values=[np.ones(3)], bins=0), "bins"),
    (dict(values=[np.ones(3)], ncols=0), "ncols"),
    (dict(values=[np.ones(3)], range=(1, 0)), "range"),
    (dict(values=[np.ones(3)], range=5), "range"),
])
def test_histograms_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_layer_histograms(**kwargs)


def test_histograms_wrong_number_of_axes():
    fig, axs = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="axes"):
        plot_layer_histograms(_layers(2), axes=axs)
    with pytest.raises(ValueError, match="axes"):
        plot_layer_histograms(_layers(2), axes=axs, overlay=True)


def test_layer_stats_lines_labels_and_log_scale():
    stats = {"N(0,1)": [1.0, 10.0, 100.0], "Xavier": np.array([1.0, 0.9, 0.8, 0.7]), "zero": [0.0, 1.0, 2.0]}
    ax = plot_layer_stats(stats, logy=True, ylabel="std of activations", title="std per layer")
    assert len(ax.lines) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(stats)
    x, y = ax.lines[1].get_data()
    assert list(x) == [1, 2, 3, 4] and np.allclose(y, [1.0, 0.9, 0.8, 0.7])
    assert np.isnan(ax.lines[2].get_ydata()[0]), "non-positive values are masked on a log axis"
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "layer" and ax.get_ylabel() == "std of activations"
    assert ax.get_title() == "std per layer"


def test_layer_stats_abs_values_on_given_axes():
    fig, ax = plt.subplots()
    out = plot_layer_stats({"mean": [-1.0, 2.0, -3.0]}, ax=ax, abs_values=True)
    assert out is ax
    assert list(ax.lines[0].get_ydata()) == [1.0, 2.0, 3.0]


def test_layer_stats_accepts_layer_stats_output():
    from dlcourse.numpy_ref.diagnostics import layer_stats

    stats = layer_stats(_layers(3))
    ax = plot_layer_stats({k: stats[k] for k in ("mean", "std")})
    assert len(ax.lines) == 2


@pytest.mark.parametrize("stats, match", [
    ({}, "stats"),
    ([1.0, 2.0], "stats"),
    ({"a": []}, "non-empty 1-D"),
    ({"a": [[1.0, 2.0]]}, "non-empty 1-D"),
    ({"a": ["x", "y"]}, "real numbers"),
])
def test_layer_stats_bad_input(stats, match):
    with pytest.raises(ValueError, match=match):
        plot_layer_stats(stats)


def test_overlay_without_stats_or_legend():
    values = _layers(3)
    (ax,) = plot_layer_histograms(values, overlay=True, show_stats=False)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "layer 2", "layer 3"]
    (ax,) = plot_layer_histograms(values, overlay=True, legend=False)
    assert ax.get_legend() is None
    axes = plot_layer_histograms(values, show_stats=False)
    assert axes[0].get_title() == "layer 1"
