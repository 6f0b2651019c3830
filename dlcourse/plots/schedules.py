"""Learning-rate schedules as figures: lr against the step, several schedules on one axes.

Schedules come either as precomputed sequences (e.g. recorded from a torch scheduler
with ``scheduler.get_last_lr()``) or as callables ``step -> lr`` (e.g. a
``functools.partial`` of a closed form in :mod:`dlcourse.numpy_ref.lr_scheduler`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from dlcourse.validation import check_integer

__all__ = ["lr_schedule_values", "plot_lr_schedules"]


def lr_schedule_values(schedule: Sequence[float] | Callable[[int], float], steps: int | None = None) -> np.ndarray:
    """The learning rates of one schedule at steps 0, 1, ..., steps - 1.

    Args:
        schedule: a sequence of learning rates (one per step) or a callable
            ``schedule(step) -> lr``.
        steps: how many steps; required for a callable, optional for a
            sequence (default: its length; otherwise its first ``steps`` values,
            and it must be long enough).

    Returns:
        float64 array of shape (steps,).

    Raises:
        ValueError: naming ``steps`` or ``schedule`` for a missing or bad step
            count, a too-short sequence, or non-finite / negative values.

    Shape:
        (steps,).

    PyTorch counterpart: ``[sched.get_last_lr()[0] for _ in range(steps) if not sched.step()]``
    style loops over a ``torch.optim.lr_scheduler`` instance.
    """
    if callable(schedule):
        if steps is None:
            raise ValueError("steps must be given when a schedule is a callable")
        steps = check_integer(steps, "steps", minimum=1)
        values = np.array([float(schedule(t)) for t in range(steps)], dtype=np.float64)
    else:
        if isinstance(schedule, (str, bytes)) or not hasattr(schedule, "__len__"):
            raise ValueError(f"schedule must be a sequence of learning rates or a callable, got {type(schedule).__name__}")
        values = np.asarray(schedule, dtype=np.float64)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"schedule must be a non-empty 1-D sequence of learning rates, got shape {values.shape}")
        if steps is not None:
            steps = check_integer(steps, "steps", minimum=1)
            if steps > values.size:
                raise ValueError(f"steps={steps} exceeds the schedule's length {values.size}")
            values = values[:steps]
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        bad = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0])
        raise ValueError(f"schedule must give finite learning rates >= 0; step {bad} gives {values[bad]}")
    return values


def plot_lr_schedules(
    schedules: Mapping[str, Sequence[float] | Callable[[int], float]],
    steps: int | None = None,
    *,
    ax=None,
    log: bool = False,
    title: str | None = None,
    xlabel: str = "step",
):
    """Plot several learning-rate schedules, lr against the step, on one axes.

    Args:
        schedules: name -> sequence of learning rates or callable ``step -> lr``.
        steps: number of steps to draw; required if any schedule is a callable
            (sequences are then cut to it), default: each sequence's own length.
        ax: matplotlib axes to draw on (default: a new figure).
        log: logarithmic lr axis (steps where a schedule is exactly 0 are
            left out of the curve).
        title: axes title (default "Learning-rate schedules").
        xlabel: label of the step axis (e.g. "epoch" or "iteration").

    Returns:
        The axes drawn on (labelled, with a legend).

    Raises:
        ValueError: for an empty mapping, a callable without ``steps``, or bad
            values (see :func:`lr_schedule_values`).

    Shape:
        each schedule: (steps,) values, drawn at x = 0 .. steps - 1.

    PyTorch counterpart: none (record ``scheduler.get_last_lr()`` and plot it).
    """
    import matplotlib.pyplot as plt

    if not isinstance(schedules, Mapping) or len(schedules) == 0:
        raise ValueError("schedules must be a non-empty mapping of name -> sequence or callable")
    curves = {str(name): lr_schedule_values(s, steps) for name, s in schedules.items()}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in curves.items():
        x = np.arange(values.size)
        if log:
            values = np.where(values > 0, values, np.nan)
        ax.plot(x, values, label=name, linewidth=1.5)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning rate")
    ax.set_title(title if title is not None else "Learning-rate schedules")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return ax
