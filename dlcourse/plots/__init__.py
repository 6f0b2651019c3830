"""Plotting and diagnostic helpers shared by the lectures and assignments (matplotlib).

One module per kind of figure; everything is re-exported here, so notebooks write
``from dlcourse.plots.history import plot_history

__all__ = ["plot_history"]
