"""moving_average, plot_history(smooth=k) and plot_curves (headless, Agg backend)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from dlcourse.plots import moving_average, plot_curves, plot_history


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _naive_moving_average(x, k):
    return np.array([np.mean(x[max(0, i - k + 1):i + 1]) for i in range(len(x))])


@pytest.mark.parametrize("k", [1, 2, 3, 7, 50])
def test_moving_average_matches_definition(k):
    x = np.random.default_rng(k).normal(size=23) * 10 + 3
    got = moving_average(x, k)
    want = _naive_moving_average(x, k)
    worst = int(np.argmax(np.abs(got - want)))
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (
        f"window {k}: expected {want[worst]} at index {worst}, got {got[worst]}")
    assert got.shape == x.shape and got.dtype == np.float64


def test_moving_average_edge_cases():
    x = [4.0, 2.0, 6.0]
    out = moving_average(x, 1)
    assert list(out) == x
    assert list(moving_average(x, 2)) == [4.0, 3.0, 4.0]
    assert moving_average([], 3).shape == (0,)
    a = np.array([1.0, 2.0])
    moving_average(a, 2)
    assert list(a) == [1.0, 2.0], "input not modified"


@pytest.mark.parametrize("values, window, match", [
    ([1.0], 0, "window"), ([1.0], 2.5, "window"), ([1.0], True, "window"),
    ([[1.0, 2.0]], 2, "values"), (["a"], 2, "values"),
])
def test_moving_average_bad_input(values, window, match):
    with pytest.raises(ValueError, match=match):
        moving_average(values, window)


def _history():
    rng = np.random.default_rng(0)
    t = np.arange(40)
    return {
        "train_loss": list(2.0 * np.exp(-t / 10) + 0.1 * rng.random(40)),
        "val_loss": list(2.1 * np.exp(-t / 12) + 0.1 * rng.random(40)),
        "train_acc": list(1 - np.exp(-t / 8) * 0.9),
        "lr": list(0.1 * 0.95 ** t),
    }


def test_plot_history_unchanged_without_smooth():
    h = _history()
    for smooth in (None, 1):
        axes = plot_history(h, metrics=("loss", "accuracy", "lr"), smooth=smooth)
        assert [len(ax.lines) for ax in axes] == [2, 1, 1]
        assert list(axes[0].lines[0].get_ydata()) == h["train_loss"]
        assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["training", "validation"]
    default = plot_history(h, metrics=("loss",))
    assert list(default[0].lines[1].get_ydata()) == h["val_loss"]


def test_plot_history_smooth_draws_raw_and_average():
    h = _history()
    k = 5
    axes = plot_history(h, metrics=("loss", "accuracy", "lr"), smooth=k)
    loss_ax, acc_ax, lr_ax = axes
    assert len(loss_ax.lines) == 4, "raw + average for training and validation"
    raw_train, avg_train, raw_val, avg_val = loss_ax.lines
    assert list(raw_train.get_ydata()) == h["train_loss"] and raw_train.get_alpha() < 1
    np.testing.assert_allclose(avg_train.get_ydata(), _naive_moving_average(h["train_loss"], k), rtol=1e-12)
    np.testing.assert_allclose(avg_val.get_ydata(), _naive_moving_average(h["val_loss"], k), rtol=1e-12)
    assert avg_train.get_color() == raw_train.get_color()
    labels = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert labels == [f"training (avg of {k})", f"validation (avg of {k})"]
    assert len(acc_ax.lines) == 2
    assert len(lr_ax.lines) == 1 and list(lr_ax.lines[0].get_ydata()) == h["lr"], "lr is never smoothed"
    with pytest.raises(ValueError, match="smooth"):
        plot_history(h, smooth=0)


def test_plot_curves_raw_and_smoothed():
    rng = np.random.default_rng(1)
    curves = {"B=8": rng.random(60), "B=64": rng.random(30)}
    ax = plot_curves(curves, title="noise", ylabel="minibatch loss")
    assert [line.get_label() for line in ax.lines] == list(curves)
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), np.arange(1, 31))
    assert ax.get_ylabel() == "minibatch loss" and ax.get_xlabel() == "iteration" and ax.get_title() == "noise"

    ax = plot_curves(curves, smooth=10, x={"B=64": np.arange(30) * 64.0}, xlabel="samples seen", log=True)
    assert len(ax.lines) == 4 and ax.get_yscale() == "log"
    np.testing.assert_allclose(ax.lines[1].get_ydata(), _naive_moving_average(curves["B=8"], 10), rtol=1e-12)
    np.testing.assert_array_equal(ax.lines[3].get_xdata(), np.arange(30) * 64.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["B=8 (avg of 10)", "B=64 (avg of 10)"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(curves={}), "curves"),
    (dict(curves={"a": [1.0]}, smooth=-1), "smooth"),
    (dict(curves={"a": [1.0, 2.0]}, x={"a": [0.0]}), "x"),
    (dict(curves={"a": [[1.0]]}), "values"),
])
def test_plot_curves_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_curves(**kwargs)


def test_numpy_history_accuracy_panel_is_drawn():
    """The History (numpy train and torch fit alike) names its accuracies train_acc/val_acc: the accuracy panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlcourse.numpy_ref.models import History
    from dlcourse.plots import plot_history

    h = History()
    h.train_loss += [1.0, 0.5]
    h.val_loss += [1.1, 0.7]
    h.train_acc += [0.5, 0.8]
    h.val_acc += [0.4, 0.7]
    axes = plot_history(h, metrics=("loss", "accuracy"))
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy"]
    assert [line.get_label() for line in axes[1].get_lines()][:2] == ["training", "validation"]
    plt.close("all")


def test_plot_history_reads_one_naming_scheme():
    """Mappings use the History's names; the long torch-era names are no longer translated."""
    with pytest.raises(ValueError, match="metrics"):
        plot_history({"train_accuracy": [0.5, 0.6]}, metrics=("accuracy",))
    axes = plot_history({"train_acc": [0.5, 0.6], "val_acc": [0.4, 0.5]}, metrics=("accuracy",))
    assert [line.get_label() for line in axes[0].get_lines()] == ["training", "validation"]
