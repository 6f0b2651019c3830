"""Plotting helpers for the notebooks (matplotlib): learning curves from a training history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["plot_history"]

_LABELS = {"loss": "loss", "accuracy": "accuracy", "lr": "learning rate"}


def _series(history) -> dict[str, list[float]]:
    if hasattr(history, "as_dict"):
        return history.as_dict()
    if isinstance(history, Mapping):
        return {k: list(v) for k, v in history.items() if isinstance(v, Sequence) and len(v) > 0}
    raise ValueError(
        f"history must be a dlcourse History or a mapping of name -> list of per-epoch values, got {type(history).__name__}"
    )


def plot_history(history, metrics: Sequence[str] = ("loss", "accuracy"), *, axes=None, title: str | None = None,
                 log_loss: bool = False, mark_best: bool = True):
    """Learning curves: one panel per metric, training and validation curves per panel.

    Args:
        history: a :class:`dlcourse.torch_ref.History` (what ``fit`` returns) or a mapping
            such as ``{"train_loss": [...], "val_loss": [...]}``.
        metrics: which panels: any of "loss", "accuracy", "lr"; panels with no data are
            skipped.
        axes: existing matplotlib axes, one per drawn panel (default: a new figure).
        title: figure title.
        log_loss: logarithmic y axis for the loss panel.
        mark_best: draw a vertical line at ``history.best_epoch`` (early stopping).

    Returns:
        The list of axes drawn on (x axis: epoch, starting at 1; labelled axes and legends).

    Raises:
        ValueError: if ``history`` has none of the requested metrics, or ``axes``
            has the wrong length.
    """
    import matplotlib.pyplot as plt

    data = _series(history)
    panels = []
    for metric in metrics:
        if metric not in _LABELS:
            raise ValueError(f"metrics must be among {sorted(_LABELS)}, got {metric!r}")
        names = ["lr"] if metric == "lr" else [f"train_{metric}", f"val_{metric}"]
        present = [n for n in names if data.get(n)]
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
