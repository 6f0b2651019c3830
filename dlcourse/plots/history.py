"""Plotting helpers for the notebooks (matplotlib): learning curves from a training history."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from dlcourse.history import History

_LABELS = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate"}
# panel -> the History series (or mapping keys) it draws
_SERIES = {"loss": ("train_loss", "val_loss"), "accuracy": ("train_acc", "val_acc"), "lr": ("lr",)}


def _series(history) -> dict[str, list[float]]:
    if isinstance(history, History):
        return history.series()
    if isinstance(history, Mapping):
        return {k: list(v) for k, v in history.items() if isinstance(v, Sequence) and len(v) > 0}
    raise ValueError(
        f"history must be a dlcourse History or a mapping of name -> list of per-epoch values, "
        f"got {type(history).__name__}"
    )


def moving_average(values, window: int) -> np.ndarray:
    """Trailing moving average with the same length as the input.

    Element i is the mean of the last ``window`` values up to and including i;
    the first ``window - 1`` elements average over the values seen so far (so
    the curve starts at ``values[0]`` and stays aligned with the raw one).

    Math:
        out[i] = mean(values[max(0, i - window + 1) : i + 1]).

    Args:
        values: the raw series (e.g. per-iteration losses).
        window: number of values averaged, integer >= 1 (1 returns a copy).

    Returns:
        float64 array shaped like ``values``.

    Raises:
        ValueError: naming ``values`` if it is not 1-D and numeric, or
            ``window`` if it is not a positive integer.

    Shape:
        values: (T,) -> (T,).

    PyTorch counterpart: none; ``pandas.Series(values).rolling(window,
    min_periods=1).mean()`` computes the same.
    """
    if isinstance(window, bool) or not isinstance(window, numbers.Integral) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values must be a 1-D sequence of numbers, got {type(values).__name__}") from None
    if x.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {x.shape}")
    if x.size == 0 or window == 1:
        return x.copy()
    csum = np.cumsum(np.concatenate(([0.0], x)))
    idx = np.arange(1, x.size + 1)
    start = np.maximum(idx - int(window), 0)
    return (csum[idx] - csum[start]) / (idx - start)


def plot_history(history, metrics: Sequence[str] = ("loss", "accuracy"), *, axes=None, title: str | None = None,
                 log_loss: bool = False, mark_best: bool = True, smooth: int | None = None):
    """Learning curves: one panel per metric, training and validation curves per panel.

    Args:
        history: a :class:`dlcourse.history.History` (what ``dlcourse.torch_ref.fit`` and
            ``dlcourse.numpy_ref.models.train`` return) or a mapping with the same names,
            such as ``{"train_loss": [...], "val_loss": [...], "train_acc": [...]}``.
        metrics: which panels: any of "loss" (train_loss, val_loss), "accuracy"
            (train_acc, val_acc), "lr"; panels with no data are skipped.
        axes: existing matplotlib axes, one per drawn panel (default: a new figure).
        title: figure title.
        log_loss: logarithmic y axis for the loss panel.
        mark_best: draw a vertical line at ``history.best_epoch`` (early stopping).
        smooth: None (default) or a window k >= 1: draw each loss/accuracy curve
            faintly as recorded and, over it, its trailing moving average of k
            values (:func:`moving_average`), which carries the legend label
            ("training (avg of k)").  The lr panel is never smoothed.
            None and 1 draw exactly what is recorded.

    Returns:
        The list of axes drawn on (x axis: epoch, starting at 1; labelled axes and legends).

    Raises:
        ValueError: if ``history`` has none of the requested metrics, or ``axes``
            has the wrong length.
    """
    import matplotlib.pyplot as plt

    if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, numbers.Integral) or smooth < 1):
        raise ValueError(f"smooth must be None or a positive integer window, got {smooth!r}")
    data = _series(history)
    panels = []
    for metric in metrics:
        if metric not in _LABELS:
            raise ValueError(f"metrics must be among {sorted(_LABELS)}, got {metric!r}")
        present = [n for n in _SERIES[metric] if data.get(n)]
        if present:
            panels.append((metric, present))
    if not panels:
        raise ValueError(f"history has none of the metrics {list(metrics)}; it has {sorted(data)}")
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.5), squeeze=False)
        axes = list(axes[0])
    else:
        axes = list(axes) if isinstance(axes, Sequence) or hasattr(axes, "__iter__") else [axes]
        if len(axes) != len(panels):
            raise ValueError(f"axes must hold {len(panels)} axes (one per panel), got {len(axes)}")
        fig = axes[0].figure
    best = getattr(history, "best_epoch", None)
    for ax, (metric, names) in zip(axes, panels):
        for name in names:
            values = data[name]
            label = {"train": "training", "val": "validation"}.get(name.split("_")[0], name)
            if smooth is not None and smooth > 1 and metric != "lr":
                x = range(1, len(values) + 1)
                (raw,) = ax.plot(x, values, alpha=0.3, linewidth=1)
                ax.plot(x, moving_average(values, smooth), color=raw.get_color(), linewidth=2,
                        label=f"{label} (avg of {smooth})")
                continue
            ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 30 else None,
                    markersize=3, label=label)
        if mark_best and best is not None:
            ax.axvline(best + 1, color="gray", linestyle="--", linewidth=1, label=f"best epoch ({best + 1})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(_LABELS[metric])
        if metric == "loss" and log_loss:
            ax.set_yscale("log")
        if metric == "lr" and min(min(data[n]) for n in names) > 0:
            ax.set_yscale("log")
        ax.set_title(_LABELS[metric])
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return axes


def plot_curves(curves: Mapping[str, Sequence[float]], *, smooth: int | None = None, ax=None,
                xlabel: str = "iteration", ylabel: str = "training loss", log: bool = False,
                title: str | None = None, x: Mapping[str, Sequence[float]] | None = None):
    """Several raw series (e.g. per-iteration losses) on one axes, optionally smoothed.

    Args:
        curves: name -> values; each is drawn against 1, 2, ..., len (or ``x[name]``).
        smooth: None, or a window k >= 1: each curve is drawn faintly as recorded and
            its trailing moving average of k values (:func:`moving_average`) over it,
            with the legend label.  None and 1 draw the raw curves only.
        ax: matplotlib axes (default: a new figure).
        xlabel, ylabel: axis labels.
        log: logarithmic y axis.
        title: axes title.
        x: optional name -> x values (e.g. samples seen, or wall-clock seconds) for
            curves that should not be drawn against the iteration index.

    Returns:
        The axes drawn on (labelled, with a legend).

    Raises:
        ValueError: for an empty mapping, a bad ``smooth``, a non-1-D curve, or an
            ``x`` entry whose length differs from its curve.

    Shape:
        each curve (T,); its x values (T,).

    PyTorch counterpart: none (plot ``History.batch_loss`` of :func:`dlcourse.torch_ref.fit`).
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError("curves must be a non-empty mapping of name -> sequence of values")
    if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, numbers.Integral) or smooth < 1):
        raise ValueError(f"smooth must be None or a positive integer window, got {smooth!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in curves.items():
        y = moving_average(values, 1)  # validates: 1-D numeric, float64 copy
        xs = np.arange(1, y.size + 1) if x is None or name not in x else np.asarray(x[name], dtype=np.float64)
        if xs.shape != y.shape:
            raise ValueError(f"x[{name!r}] must have the length of its curve ({y.size}), got shape {xs.shape}")
        if smooth is not None and smooth > 1:
            (raw,) = ax.plot(xs, y, alpha=0.25, linewidth=1)
            ax.plot(xs, moving_average(y, smooth), color=raw.get_color(), linewidth=2,
                    label=f"{name} (avg of {smooth})")
        else:
            ax.plot(xs, y, linewidth=1.5, label=str(name))
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax
