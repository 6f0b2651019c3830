"""Plotting helpers for the notebooks (matplotlib): per-layer histograms and per-layer statistics.

What a deep network does to its signal at initialization is easiest to see layer by layer
(Glorot & Bengio 2010): the distribution of each hidden layer's activations on a batch, and of
the gradients backpropagated to it.

* :func:`plot_layer_histograms` draws one histogram per layer, either one panel per layer or
  all layers overlaid on one axes (the Glorot & Bengio figure);
* :func:`plot_layer_stats` draws per-layer numbers (e.g. the std of the activations) as lines
  against the layer index, one line per series, optionally on a log scale.

The arrays usually come from :func:`dlcourse.numpy_ref.diagnostics.mlp_trace`, the per-layer
statistics from :func:`dlcourse.numpy_ref.diagnostics.layer_stats`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dlcourse.plots._checks import check_limits

_KINDS = {
    "activation": ("activation value", "Activations per layer"),
    "gradient": ("gradient value", "Backpropagated gradients per layer"),
}


def _layer_values(values) -> tuple[list[str], list[np.ndarray]]:
    """(labels, flattened float arrays) from a sequence of arrays or a mapping label -> array."""
    if isinstance(values, Mapping):
        labels = [str(k) for k in values]
        items = list(values.values())
    elif isinstance(values, Sequence) and not isinstance(values, (str, bytes)):
        items = list(values)
        labels = [f"layer {k}" for k in range(1, len(items) + 1)]
    else:
        raise ValueError(
            "values must be a sequence of arrays (one per layer) or a mapping label -> array, "
            f"got {type(values).__name__}"
        )
    if not items:
        raise ValueError("values must hold at least one layer, got none")
    arrays = []
    for label, item in zip(labels, items):
        arr = np.asarray(item)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"values[{label!r}] must hold real numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float64).ravel()
        if arr.size == 0:
            raise ValueError(f"values[{label!r}] is empty")
        arrays.append(arr)
    return labels, arrays


def _default_range(finite: list[np.ndarray], kind: str) -> tuple[float, float]:
    pooled = np.concatenate([a for a in finite if a.size]) if any(a.size for a in finite) else np.zeros(1)
    if kind == "gradient":
        # symmetric around 0; the 99.9th percentile of |g| keeps a few outliers from squashing the rest
        q = float(np.quantile(np.abs(pooled), 0.999))
        q = q if q > 0 else float(np.max(np.abs(pooled)))
        q = q if q > 0 else 1.0
        return -q, q
    lo, hi = float(pooled.min()), float(pooled.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def _axes_list(axes) -> list:
    if isinstance(axes, np.ndarray):
        return list(axes.ravel())
    if isinstance(axes, Sequence):
        return list(axes)
    return [axes]


def plot_layer_histograms(values, *, kind: str = "activation", axes=None, bins: int = 50, range=None,
                          overlay: bool = False, ncols: int = 5, sharex: bool = True, logy: bool = False,
                          title: str | None = None, cmap: str = "viridis", show_stats: bool = True,
                          legend: bool = True):
    """Histograms of each layer's values: activations or backpropagated gradients.

    Heights are the *fraction* of the layer's values in each bin (so layers of different
    sizes compare). With the default shared x range the panels use one scale, which is what
    reveals vanishing (a spike at 0 in the early layers' gradients) and saturation (mass
    piled at +-1 for tanh). Non-finite values are left out and counted in the label.

    Args:
        values: a sequence of arrays, one per layer (labelled "layer 1", "layer 2", ...), or a
            mapping label -> array. Arrays of any shape are flattened.
        kind: "activation" or "gradient" (axis labels, title and the default range).
        axes: where to draw: with ``overlay`` a single axes; otherwise a sequence (or array)
            of exactly one axes per layer. Default: a new figure.
        bins: number of bins (>= 1).
        range: ``(low, high)`` of the histograms. Default: with ``sharex`` (or ``overlay``),
            the min and max over all layers for activations and a symmetric range up to the
            99.9th percentile of |value| for gradients (values outside are not drawn);
            without ``sharex``, each panel's own such range.
        overlay: all layers on one axes as step outlines, coloured from light (first layer)
            to dark (last layer) with ``cmap``, with a legend.
        ncols: panels per row of a new figure (``overlay=False``).
        sharex: one x range for all panels (ignored with ``overlay``: always shared).
        logy: logarithmic y axis.
        title: figure title (overlay: axes title). Default from ``kind``.
        cmap: matplotlib colormap name for the overlay colours.
        show_stats: add each layer's mean and std to its panel title (overlay: its legend
            label, std only).
        legend: draw the legend (overlay only; e.g. only on the first of several panels).

    Returns:
        The list of axes drawn on (one axes with ``overlay``, else one per layer). Each
        panel's title (overlay: legend entry) names the layer, with its statistics when
        ``show_stats``.

    Raises:
        ValueError: if ``values`` is empty or not numeric, ``kind`` is unknown, ``bins`` or
            ``ncols`` < 1, ``range`` is not an increasing finite pair, or ``axes`` has the
            wrong length.

    Shape:
        values[k]: any shape (flattened).

    PyTorch counterpart: none (``torch.histc`` computes the counts;
    ``SummaryWriter.add_histogram`` logs the same picture to TensorBoard).
    """
    import matplotlib.pyplot as plt

    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}, got {kind!r}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    labels, arrays = _layer_values(values)
    finite = [a[np.isfinite(a)] for a in arrays]
    dropped = [a.size - f.size for a, f in zip(arrays, finite)]
    xlabel, default_title = _KINDS[kind]
    title = default_title if title is None else title
    shared = check_limits(range, "range") if range is not None else (
        _default_range(finite, kind) if (sharex or overlay) else None)
    n = len(arrays)

    def describe(i: int, short: bool = False) -> str:
        f = finite[i]
        if not f.size:
            text = f"{labels[i]}: no finite values"
        elif not show_stats:
            text = labels[i]
        elif short:
            text = f"{labels[i]}: std {f.std():.2g}"
        else:
            text = f"{labels[i]}: mean {f.mean():.2g}, std {f.std():.2g}"
        return text + (f" ({dropped[i]} non-finite left out)" if dropped[i] else "")

    def sci_ticks(ax):  # 1e-4-sized gradients: "x1e-4" once instead of long overlapping tick labels
        try:
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        except AttributeError:  # a non-scalar formatter set by the caller: leave it
            pass

    def draw(ax, i: int, **style):
        f = finite[i]
        rng = shared if shared is not None else _default_range([f], kind)
        if f.size:
            weights = np.full(f.size, 1.0 / f.size)
            ax.hist(f, bins=bins, range=rng, weights=weights, **style)
        else:
            ax.text(0.5, 0.5, "no finite values", transform=ax.transAxes, ha="center", va="center")
        ax.set_xlim(rng)

    if overlay:
        if axes is None:
            fig, ax = plt.subplots(figsize=(6.0, 3.6))
        else:
            ax_list = _axes_list(axes)
            if len(ax_list) != 1:
                raise ValueError(f"axes must be a single axes with overlay=True, got {len(ax_list)}")
            ax = ax_list[0]
        colors = plt.get_cmap(cmap)(np.linspace(0.85, 0.05, n) if n > 1 else [0.4])
        for i in np.arange(n):
            draw(ax, int(i), histtype="step", linewidth=1.4, color=colors[i], label=describe(int(i), short=True))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("fraction of values")
        sci_ticks(ax)
        if logy:
            ax.set_yscale("log")
        ax.set_title(title)
        if legend:
            ax.legend(fontsize="x-small", loc="best")
        return [ax]

    if axes is None:
        nc = min(n, int(ncols))
        nr = -(-n // nc)
        fig, grid = plt.subplots(nr, nc, figsize=(2.6 * nc, 2.3 * nr), squeeze=False)
        ax_list = list(grid.ravel())
        for extra in ax_list[n:]:
            extra.set_visible(False)
        ax_list = ax_list[:n]
        fig.suptitle(title)
    else:
        ax_list = _axes_list(axes)
        if len(ax_list) != n:
            raise ValueError(f"axes must hold {n} axes (one per layer), got {len(ax_list)}")
        fig = ax_list[0].figure
        if title:
            fig.suptitle(title)
    for i, ax in enumerate(ax_list):
        draw(ax, i, color="C0", alpha=0.8)
        ax.set_title(describe(i).replace(": ", "\n", 1), fontsize="small")
        ax.set_xlabel(xlabel, fontsize="small")
        ax.set_ylabel("fraction of values", fontsize="small")
        ax.tick_params(labelsize="x-small")
        sci_ticks(ax)
        if logy:
            ax.set_yscale("log")
    if axes is None:
        fig.tight_layout()
    return ax_list


def plot_layer_stats(stats, *, ax=None, logy: bool = False, abs_values: bool = False, xlabel: str = "layer",
                     ylabel: str = "value", title: str | None = None, marker: str = "o"):
    """Per-layer numbers as lines against the layer index (1, 2, ...), one line per series.

    Typical use: the std of each layer's activations (or gradients) for several
    initializations, on a log scale so that geometric growth or decay is a straight line.

    Args:
        stats: mapping label -> sequence of per-layer values (series may differ in length),
            e.g. ``{"N(0,1)": stds_a, "Xavier": stds_b}`` or the dict returned by
            :func:`dlcourse.numpy_ref.diagnostics.layer_stats`.
        ax: matplotlib axes to draw on (default: a new figure).
        logy: logarithmic y axis (values <= 0 are then not drawn).
        abs_values: plot absolute values (e.g. means of both signs on a log axis).
        xlabel, ylabel: axis labels.
        title: axes title.
        marker: matplotlib marker of the points.

    Returns:
        The matplotlib axes drawn on; ``ax.lines`` holds one line per series, in order.

    Raises:
        ValueError: if ``stats`` is not a non-empty mapping of label -> non-empty 1-D
            sequence of real numbers.

    Shape:
        stats[label]: (num_layers,).

    PyTorch counterpart: none (matplotlib ``ax.plot``).
    """
    import matplotlib.pyplot as plt

    if not isinstance(stats, Mapping) or len(stats) == 0:
        raise ValueError(
            f"stats must be a non-empty mapping label -> per-layer values, got {type(stats).__name__}"
            + (" (empty)" if isinstance(stats, Mapping) else ""))
    series = {}
    for label, vals in stats.items():
        arr = np.asarray(vals)
        if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
            raise ValueError(f"stats[{label!r}] must hold real numbers, got dtype {arr.dtype}")
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"stats[{label!r}] must be a non-empty 1-D sequence (one value per layer), "
                             f"got shape {arr.shape}")
        arr = arr.astype(np.float64)
        series[str(label)] = np.abs(arr) if abs_values else arr
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.5))
    longest = 0
    for label, arr in series.items():
        layers = np.arange(1, arr.size + 1)
        y = np.where(arr > 0, arr, np.nan) if logy else arr
        ax.plot(layers, y, marker=marker, markersize=4, label=label)
        longest = max(longest, arr.size)
    if logy:
        ax.set_yscale("log")
    if longest <= 20:
        ax.set_xticks(np.arange(1, longest + 1))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax
