"""Interactive figures for the lectures: controls (ipywidgets) that redraw one matplotlib figure.

A lecture builds the controls, passes a ``draw(**values)`` function that makes one figure, and
displays what :func:`figure_explorer` returns. The figure is drawn once right away, into the
explorer's output area, so a notebook executed with widget state saved (nbclient and nbconvert save
it by default) opens with the controls *and* the first figure, without a running kernel. Each control
change redraws the figure with the controls' current values.

Lectures keep a static figure next to each explorer for readers whose viewer shows no widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = ["figure_explorer"]


def figure_explorer(draw: Callable[..., object], controls: Mapping[str, object], *, columns: int = 2,
                    draw_now: bool = True):
    """Controls that redraw a figure: a ``VBox`` of the controls (in ``columns``) above the figure.

    Args:
        draw: ``draw(**values)`` draws one figure (``plt.show()`` at its end, or returning a
            figure); ``values`` maps each name of ``controls`` to the control's current value.
        controls: name -> ipywidgets value widget (``FloatSlider``, ``Dropdown``, ...), in display order.
        columns: how many columns the controls are laid out in (>= 1).
        draw_now: draw the first figure immediately (so the saved notebook shows it).

    Returns:
        an ``ipywidgets.VBox`` ``(controls, output)``; ``.output`` is its ``Output`` and
        ``.redraw()`` draws again.

    Raises:
        ValueError: naming ``controls`` when it is empty or holds something without a ``value``,
            or ``columns`` when it is not a positive integer, or ``draw`` when it is not callable.

    PyTorch counterpart: none (``ipywidgets.interactive`` does the same with an implicit layout;
    this keeps the figure in an ``Output`` whose state is saved with the notebook).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not callable(draw):
        raise ValueError(f"draw must be a function draw(**values), got {type(draw).__name__}")
    if not controls:
        raise ValueError("controls must name at least one widget")
    bad = [name for name, w in controls.items() if not hasattr(w, "value") or not hasattr(w, "observe")]
    if bad:
        raise ValueError(f"controls must be ipywidgets with a value; not: {bad}")
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")

    items = list(controls.values())
    per_column = -(-len(items) // columns)
    grid = widgets.HBox([widgets.VBox(items[i:i + per_column]) for i in range(0, len(items), per_column)])
    output = widgets.Output()

    def redraw(change=None) -> None:
        with output:
            output.clear_output(wait=True)
            figure = draw(**{name: w.value for name, w in controls.items()})
            if figure is not None and hasattr(figure, "savefig"):
                display(figure)
                plt.close(figure)

    for w in items:
        w.observe(redraw, names="value")
    box = widgets.VBox([grid, output])
    box.output = output
    box.redraw = redraw
    if draw_now:
        redraw()
    return box
