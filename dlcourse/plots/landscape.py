"""Plotting helpers for the notebooks (matplotlib): contours of a 2-D loss surface with optimizer trajectories."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from dlcourse.plots._checks import check_limits


def _check_trajectories(trajectories) -> dict[str, np.ndarray]:
    if trajectories is None:
        return {}
    if not isinstance(trajectories, Mapping):
        raise ValueError(  # noqa: TRY004 (the course convention: bad input -> ValueError)
            "trajectories must be a mapping of label -> array of shape (T, 2), "
            f"got {type(trajectories).__name__}"
        )
    out = {}
    for label, path in trajectories.items():
        arr = np.asarray(path, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 1:
            raise ValueError(
                f"trajectories[{label!r}] must have shape (T, 2) with T >= 1, got {arr.shape}"
            )
        out[str(label)] = arr
    return out


def plot_loss_contours(f: Callable, xlim, ylim, *, trajectories=None, levels=30, log_levels: bool = True,
                       ax=None, resolution: int = 200, title: str | None = None, mark_minimum=None,
                       xlabel: str = "$w_1$", ylabel: str = "$w_2$", cmap: str = "viridis",
                       filled: bool = False, equal_aspect: bool = False):
    """Contour lines of a loss of two parameters, optionally with optimizer trajectories on top.

    The loss is evaluated on a ``resolution`` x ``resolution`` grid over ``xlim`` x ``ylim``.
    With ``log_levels`` the contour levels are spaced geometrically between the smallest
    positive and the largest value on the grid, which shows both the narrow valley near the
    minimum and the steep walls far from it (linear levels crowd onto the walls).

    Args:
        f: vectorized loss, ``f(X, Y) -> Z`` with ``X, Y`` from ``np.meshgrid`` (same shape)
            and ``Z`` of that shape (elementwise loss at each ``(w1, w2) = (X[i, j], Y[i, j])``).
        xlim: ``(low, high)`` range of the first parameter.
        ylim: ``(low, high)`` range of the second parameter.
        trajectories: optional mapping label -> array-like of shape ``(T, 2)`` (the iterates
            ``(w1, w2)`` of an optimizer); each is drawn as one line with markers, its start
            point circled, with one legend entry per trajectory.
        levels: number of contour levels, or an explicit increasing sequence of levels.
        log_levels: geometric level spacing when ``levels`` is a number: between the
            smallest positive and the largest value, or, for surfaces that go negative
            (saddles), of the height above the grid minimum; otherwise linear.
        ax: matplotlib axes to draw on (default: a new figure).
        resolution: grid points per axis (>= 2).
        title: axes title.
        mark_minimum: optional ``(x, y)`` drawn as a star (e.g. the known minimizer).
        xlabel, ylabel: axis labels (default ``w_1``, ``w_2``).
        cmap: colormap of the contours.
        filled: filled contours (``contourf``) instead of lines.
        equal_aspect: same scale on both axes (shows the true shape of elongated valleys).

    Returns:
        The matplotlib axes drawn on. ``ax.lines`` holds exactly one ``Line2D`` per
        trajectory (start points and the minimum star are scatter collections).

    Raises:
        ValueError: if ``xlim``/``ylim`` are not increasing finite pairs, ``resolution`` < 2,
            a trajectory is not of shape ``(T, 2)``, or ``f`` returns the wrong shape.

    Shape:
        grid: ``(resolution, resolution)``; each trajectory ``(T, 2)``.

    Example:
        >>> ax = plot_loss_contours(lambda X, Y: X**2 + 10 * Y**2, (-2, 2), (-1, 1),
        ...                         trajectories={"GD": [[1.5, 0.8], [1.2, -0.6], [0.9, 0.4]]},
        ...                         mark_minimum=(0, 0))

    PyTorch counterpart: none (matplotlib ``ax.contour`` / ``ax.plot``).
    """
    import matplotlib.pyplot as plt

    x0, x1 = check_limits(xlim, "xlim")
    y0, y1 = check_limits(ylim, "ylim")
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    paths = _check_trajectories(trajectories)
    if mark_minimum is not None:
        star = np.asarray(mark_minimum, dtype=float)
        if star.shape != (2,):
            raise ValueError(f"mark_minimum must be a point (x, y), got shape {star.shape}")

    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    X, Y = np.meshgrid(xs, ys)
    Z = np.asarray(f(X, Y), dtype=float)
    if Z.shape != X.shape:
        raise ValueError(f"f(X, Y) must return an array of shape {X.shape} (elementwise), got {Z.shape}")

    if np.ndim(levels) == 0:
        n = int(levels)
        if n < 1:
            raise ValueError(f"levels must be a positive number or a sequence, got {levels!r}")
        finite = Z[np.isfinite(Z)]
        if finite.size == 0:
            raise ValueError("f(X, Y) has no finite value on the grid")
        zmin, zmax = float(finite.min()), float(finite.max())
        positive = finite[finite > 0]
        if log_levels and zmin < 0 and zmax > zmin:
            # surfaces with negative values (saddles): geometric spacing above the grid minimum
            lvls = zmin + np.geomspace(1e-3 * (zmax - zmin), zmax - zmin, n)
        elif log_levels and positive.size and zmax > positive.min():
            lvls = np.geomspace(positive.min(), zmax, n)
        elif zmax > zmin:
            lvls = np.linspace(zmin, zmax, n)
        else:
            lvls = n
    else:
        lvls = np.asarray(levels, dtype=float)

    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    draw = ax.contourf if filled else ax.contour
    draw(X, Y, Z, levels=lvls, cmap=cmap, **({} if filled else {"linewidths": 0.8}))

    colors = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (label, path) in enumerate(paths.items()):
        color = colors[i % len(colors)]
        ax.plot(path[:, 0], path[:, 1], marker="o", markersize=3, linewidth=1.5, color=color,
                label=f"{label} ({len(path) - 1} steps)" if len(path) > 1 else label)
        ax.scatter(path[:1, 0], path[:1, 1], s=60, facecolors="none", edgecolors=color, linewidths=1.5,
                   zorder=3, label="_start")
    if mark_minimum is not None:
        ax.scatter([star[0]], [star[1]], marker="*", s=200, color="red", edgecolors="k",
                   label="minimum", zorder=4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if equal_aspect:
        ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    if paths or mark_minimum is not None:
        ax.legend(loc="best", fontsize="small")
    return ax
