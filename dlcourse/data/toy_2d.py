"""Toy 2-D classification sets for plotting decision boundaries.

Each function returns ``(X, y)`` with ``X`` float64 of shape (n, 2) and ``y`` int64
class labels of shape (n,), shuffled and reproducible from ``seed``.
:func:`make_moons` and :func:`make_circles` import scikit-learn on the first call.
"""

from __future__ import annotations

import numpy as np
from dlcourse.validation import check_integer, check_nonnegative, check_real_in_range


__all__ = ["make_xor", "make_spirals", "make_moons", "make_circles"]


def make_xor(n: int = 200, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: four Gaussian blobs that no line can separate.

    Math:
        Each point is c + noise * N(0, I) with a blob centre c in
        {(-1,-1), (-1,+1), (+1,-1), (+1,+1)}, the n points spread evenly over
        the blobs; its label is XOR of the centre's signs: 1 for (-1,+1)
        and (+1,-1), 0 for (-1,-1) and (+1,+1).  (With large ``noise`` a
        point may cross an axis; it keeps its blob's label.)

    Args:
        n: number of points, >= 1.
        noise: standard deviation of the blobs, >= 0.
        seed: seed of ``np.random.default_rng``.

    Returns:
        ``(X, y)``: float64 points and int64 labels in {0, 1}.

    Shape:
        X: (n, 2); y: (n,).

    PyTorch counterpart: none.
    """
    n = check_integer(n, "n", minimum=1)
    noise = check_nonnegative(noise, "noise")
    seed = check_integer(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)

    centres = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    blob = rng.permutation(np.arange(n) % 4)  # balanced blobs, random order
    X = centres[blob] + noise * rng.standard_normal((n, 2))
    y = (np.sign(centres[blob, 0]) != np.sign(centres[blob, 1])).astype(np.int64)
    return X, y


def make_spirals(n: int = 300, *, classes: int = 3, noise: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the classic CS231n toy set).

    Math:
        For class k, m points with radius r evenly spaced in [0, 1] and angle
        t = linspace(4k, 4(k+1)) + noise * N(0, 1) (``noise`` is in radians),
        at (r sin t, r cos t).  The n points are spread as evenly as possible
        over the classes, then shuffled.

    Args:
        n: total number of points, >= ``classes``.
        classes: number of spiral arms (classes), >= 2.
        noise: standard deviation of the angle noise, >= 0.
        seed: seed of ``np.random.default_rng``.

    Returns:
        ``(X, y)``: float64 points and int64 labels in 0..classes-1.

    Shape:
        X: (n, 2); y: (n,).

    PyTorch counterpart: none.
    """
    classes = check_integer(classes, "classes", minimum=2)
    n = check_integer(n, "n", minimum=classes)
    noise = check_nonnegative(noise, "noise")
    seed = check_integer(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)

    X_parts, y_parts = [], []
    for k in range(classes):
        m = n // classes + (1 if k < n % classes else 0)
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * k, 4.0 * (k + 1), m) + noise * rng.standard_normal(m)
        X_parts.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y_parts.append(np.full(m, k, dtype=np.int64))
    order = rng.permutation(n)
    return np.concatenate(X_parts)[order], np.concatenate(y_parts)[order]


def make_moons(n: int = 200, *, noise: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Math:
        ``sklearn.datasets.make_moons(n_samples=n, noise=noise,
        random_state=seed)``: Gaussian noise of standard deviation ``noise``
        added to points on two half circles of radius 1.

    Args:
        n: number of points, >= 2.
        noise: standard deviation of the noise, >= 0.
        seed: random seed.

    Returns:
        ``(X, y)``: float64 points and int64 labels in {0, 1}.

    Shape:
        X: (n, 2); y: (n,).

    PyTorch counterpart: none.
    """
    return _from_sklearn("make_moons", n, noise, seed)


def make_circles(
    n: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1) inside a large one (class 0).

    Math:
        ``sklearn.datasets.make_circles(n_samples=n, noise=noise,
        factor=factor, random_state=seed)``: points on the unit circle and
        on a circle of radius ``factor``, plus Gaussian noise.

    Args:
        n: number of points, >= 2.
        noise: standard deviation of the noise, >= 0.
        factor: radius of the inner circle, in (0, 1).
        seed: random seed.

    Returns, Shape, PyTorch counterpart: as :func:`make_moons`.
    """
    factor = check_real_in_range(factor, "factor", 0.0, 1.0, include_low=False, include_high=False)
    return _from_sklearn("make_circles", n, noise, seed, factor=factor)


def _from_sklearn(maker: str, n: int, noise: float, seed: int, **extra: float) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.<maker>`` with checked arguments, as float64 points and int64 labels."""
    n = check_integer(n, "n", minimum=2)
    noise = check_nonnegative(noise, "noise")
    seed = check_integer(seed, "seed", minimum=0)
    import sklearn.datasets

    X, y = getattr(sklearn.datasets, maker)(n_samples=n, noise=noise, random_state=seed, **extra)
    return X.astype(np.float64), y.astype(np.int64)
