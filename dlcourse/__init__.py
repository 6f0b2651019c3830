"""dlcourse: Training Deep Neural Networks, a Jupyter-notebook course.

Subpackages:

- :mod:`dlcourse.numpy_ref`: float64 numpy reference implementations (layers, losses, ...)
- :mod:`dlcourse.torch_ref`: device-agnostic PyTorch references
- :mod:`dlcourse.data`: offline datasets (scikit-learn's digits, toy 2-D sets)
- :mod:`dlcourse.grading`: checks for notebook tests and the nbgrader pipeline
"""

__version__ = "0.1.0"
