"""Plotting helpers for the notebooks (matplotlib): decision boundaries of a classifier on 2-D data."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _to_numpy(out) -> np.ndarray:
    """A numpy array from whatever ``predict`` returned (numpy, list, or a torch tensor on any device)."""
    if hasattr(out, "detach") and hasattr(out, "cpu"):  # torch.Tensor, without importing torch
        out = out.detach().cpu().numpy()
    return np.asarray(out)


def _grid_classes(out: np.ndarray, m: int, classes: np.ndarray, threshold: float) -> np.ndarray:
    """Predicted class labels from the raw output of ``predict`` on m grid points."""
    if out.dtype == bool or not np.issubdtype(out.dtype, np.number) or np.iscomplexobj(out):
        raise ValueError(f"predict must return real numbers, got dtype {out.dtype}")
    if out.ndim == 2 and out.shape[0] == m and out.shape[1] >= 2:   # (M, C) scores or probabilities
        return np.argmax(out, axis=1)
    if out.ndim == 2 and out.shape == (m, 1):
        out = out[:, 0]
    if out.shape != (m,):
        raise ValueError(
            f"predict must map an (M, 2) array to labels or scores of shape (M,), (M, 1) or (M, C); "
            f"for M = {m} it returned shape {out.shape}"
        )
    if np.issubdtype(out.dtype, np.integer) or np.all(np.isin(out, classes)):
        return out                                                   # class labels
    if classes.size > 2:
        raise ValueError(
            f"predict returned one score per point but y has {classes.size} classes; "
            "return labels or one score per class, shape (M, C)"
        )
    low, high = (classes[0], classes[-1]) if classes.size == 2 else (0, 1)
    return np.where(out > threshold, high, low)                     # binary scores


def plot_decision_boundary(predict: Callable, X, y, *, ax=None, resolution: int = 200, padding: float = 0.5,
                           threshold: float = 0.0, title: str | None = None, cmap: str | None = None,
                           xlabel: str = "$x_1$", ylabel: str = "$x_2$", markersize: float = 18):
    """Decision regions of a classifier on 2-D data, with the data on top.

    ``predict`` is evaluated on a ``resolution`` x ``resolution`` grid covering the data
    (plus ``padding`` on every side); each grid point is coloured by its predicted class,
    the boundaries between classes are drawn as black lines, and the samples are scattered
    in the colour of their true class (one legend entry per class).

    What ``predict`` may return for M grid points:

    * class labels, shape (M,) (integers, or floats that are all among the labels in ``y``);
    * one score per class, shape (M, C): the predicted class is the argmax (logits or
      probabilities);
    * one score per point, shape (M,) or (M, 1), for two classes: the larger label of ``y``
      where the score exceeds ``threshold`` (0 for logits/margins, use 0.5 for
      probabilities), the smaller one elsewhere.

    Torch tensors are accepted as output (moved to the CPU); the input is always a float64
    numpy array, so wrap a torch model, e.g.
    ``lambda P: model(torch.as_tensor(P, dtype=torch.float32, device=device))``.

    Args:
        predict: function ``(M, 2) array -> labels or scores`` (see above).
        X: data points.
        y: their class labels (integers or ±1).
        ax: matplotlib axes to draw on (default: a new figure).
        resolution: grid points per axis (integer >= 2).
        padding: margin around the data's bounding box, >= 0, in data units.
        threshold: decision threshold for one score per point.
        title: axes title.
        cmap: colormap of the classes (default: the categorical ``tab10`` colours, one per class,
            for up to 10 classes; ``viridis`` beyond).
        xlabel, ylabel: axis labels.
        markersize: scatter marker size.

    Returns:
        The matplotlib axes drawn on.

    Raises:
        ValueError: naming ``X``, ``y``, ``resolution``, ``padding`` or ``predict``
            (non-callable, or an output of the wrong shape or type).

    Shape:
        X: (N, 2); y: (N,); predict's input: (resolution**2, 2).

    PyTorch counterpart: none (matplotlib ``contourf`` over ``model(grid).argmax(1)``).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    if not callable(predict):
        raise ValueError(f"predict must be a callable mapping an (M, 2) array to labels or scores, got {predict!r}")
    X = np.asarray(X)
    if X.dtype == bool or not np.issubdtype(X.dtype, np.number) or X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 1:
        raise ValueError(f"X must be a numeric array of shape (N, 2) with N >= 1, got shape {X.shape}")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise ValueError("X must contain finite values only")
    y = np.asarray(y)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},), one label per row of X, got {y.shape}")
    if not np.issubdtype(y.dtype, np.number) or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
        raise ValueError(f"y must hold integer class labels, got {y.dtype} values")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, float, np.number)) or not padding >= 0 \
            or not np.isfinite(padding):
        raise ValueError(f"padding must be a finite number >= 0, got {padding!r}")

    classes = np.unique(y)
    (x0, y0), (x1, y1) = X.min(axis=0) - padding, X.max(axis=0) + padding
    if x1 == x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 == y0:
        y0, y1 = y0 - 0.5, y1 + 0.5
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    pred = _grid_classes(_to_numpy(predict(grid)), grid.shape[0], classes, float(threshold))

    # map every label (data or predicted) to a colour index
    labels = np.union1d(classes, np.unique(pred))
    index = {lab: i for i, lab in enumerate(labels.tolist())}
    if cmap is None and len(labels) <= 10:
        colours = plt.get_cmap("tab10")(np.arange(len(labels)))
    else:
        colours = plt.get_cmap(cmap or "viridis")(np.linspace(0.0, 1.0, len(labels)) if len(labels) > 1 else [0.0])
    region_cmap = ListedColormap(colours)
    Z = np.searchsorted(labels, pred).reshape(gx.shape).astype(float)

    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.0))
    levels = np.arange(len(labels) + 1) - 0.5
    ax.contourf(gx, gy, Z, levels=levels, cmap=region_cmap, alpha=0.3)
    if len(np.unique(Z)) > 1:
        ax.contour(gx, gy, Z, levels=levels[1:-1], colors="k", linewidths=1.0)
    for lab in classes.tolist():
        mask = y == lab
        ax.scatter(X[mask, 0], X[mask, 1], s=markersize, color=colours[index[lab]], edgecolors="k",
                   linewidths=0.4, label=f"class {lab}")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small", loc="best")
    return ax
