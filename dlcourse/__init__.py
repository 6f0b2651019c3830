"""dlcourse: Training Deep Neural Networks, a Jupyter-notebook course.

Subpackages:

- :mod:`dlcourse.numpy_ref`: float64 numpy reference implementations (layers, losses, ...); never loads torch
- :mod:`dlcourse.torch_ref`: device-agnostic PyTorch references
- :mod:`dlcourse.data`: offline datasets (scikit-learn's digits, toy 2-D sets, image sets); torch only in its
  torch parts, loaded on first use
- :mod:`dlcourse.plots`: the lectures' figures (torch-free)
- :mod:`dlcourse.grading`: checks for notebook tests and the nbgrader pipeline, in steps
- :mod:`dlcourse.demos`: command-line entry points of the demos (DDP, the transfer experiment)
- :mod:`dlcourse.validation` (argument checks) and :mod:`dlcourse.history` (the training history), shared by all
"""

__version__ = "0.1.0"
