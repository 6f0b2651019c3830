"""Plotting and diagnostic helpers shared by the lectures and assignments (matplotlib).

One module per kind of figure; everything is re-exported here, so notebooks write
``from dlcourse.plots import plot_history``. Every function draws on ``ax``/``axes`` when
given (so figures can be composed) and returns what it drew on; axes are labelled and
legends drawn. Tests render them headless with the Agg backend.
"""

from dlcourse.plots.history import plot_history
from dlcourse.plots.history import moving_average, plot_curves
from dlcourse.plots.schedules import lr_schedule_values, plot_lr_schedules
from dlcourse.plots.landscape import plot_loss_contours

__all__ = ["plot_history"]
__all__ += ["moving_average", "plot_curves"]
__all__ += ["lr_schedule_values", "plot_lr_schedules"]
__all__ += ["plot_loss_contours"]
from dlcourse.plots.layers import plot_layer_histograms, plot_layer_stats
from dlcourse.plots.boundaries import plot_decision_boundary
__all__ += ["plot_layer_histograms", "plot_layer_stats"]
__all__ += ["plot_decision_boundary"]
from dlcourse.plots.interactive import figure_explorer
__all__ += ["figure_explorer"]
