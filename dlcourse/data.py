"""Offline datasets for the course: nothing here downloads anything.

* :func:`load_digits` — scikit-learn's 8x8 handwritten digits (1797 images,
  10 classes; the data ship with scikit-learn), split into train/validation/
  test sets and standardized with training statistics only.
* Toy 2-D sets for plotting decision boundaries: :func:`make_xor`,
  :func:`make_spirals`, :func:`make_moons`, :func:`make_circles`.  Each
  returns ``(X, y)`` with ``X`` float64 of shape (n, 2) and ``y`` int64
  class labels of shape (n,), shuffled, and reproducible from ``seed``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split

__all__ = [
    "DigitsSplits",
    "load_digits",
    "make_xor",
    "make_spirals",
    "make_moons",
    "make_circles",
]

DIGITS_NUM_CLASSES = 10
DIGITS_IMAGE_SHAPE = (1, 8, 8)  # (channels, height, width), as torch's conv layers expect


# ---------------------------------------------------------------------------
# Argument checking
# ---------------------------------------------------------------------------


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(value, name: str, low: float, high: float, *, include_low: bool = True) -> float:
    """Check ``value`` is a real number in [low, high) (or (low, high) without include_low)."""
    ok_type = not isinstance(value, bool) and isinstance(value, numbers.Real)
    in_range = ok_type and (low <= value if include_low else low < value) and value < high
    if not in_range:
        interval = f"{'[' if include_low else '('}{low}, {high})"
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    return float(value)


# ---------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------


@dataclass
class DigitsSplits:
    """The digits data split into train, validation and test sets.

    Attributes:
        X_train, X_val, X_test: float64 inputs, shape (N, 64) flattened or
            (N, 1, 8, 8) as images.
        y_train, y_val, y_test: int64 labels in 0..9, shape (N,).
        mean, std: the training-set statistics used for standardization,
            shaped like one sample ((64,) or (1, 8, 8)), so that
            ``X_raw = X * std + mean``; ``None`` when ``standardize=False``.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray | None
    std: np.ndarray | None

    @property
    def num_classes(self) -> int:
        """Number of classes (10)."""
        return DIGITS_NUM_CLASSES

    def __repr__(self) -> str:  # shapes, not thousands of numbers
        return (
            f"DigitsSplits(train={self.X_train.shape}, val={self.X_val.shape}, "
            f"test={self.X_test.shape}, standardized={self.mean is not None})"
        )


def load_digits(
    *,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    standardize: bool = True,
    flatten: bool = True,
) -> DigitsSplits:
    """Load scikit-learn's 8x8 digits, split and standardized.

    The 1797 samples are split with stratification (every split has the
    same class proportions) into test, validation and training sets of
    ``round(test_fraction * 1797)``, ``round(val_fraction * 1797)`` and the
    remaining samples (359 / 359 / 1079 with the defaults).

    Standardization uses the *training* statistics only, per pixel:
    ``X = (X_raw - mean) / std`` with ``mean`` and ``std`` (population
    standard deviation, ddof=0) computed on the training set and applied
    unchanged to the validation and test sets — using their own statistics
    would leak information about them into training.  Pixels that are
    constant on the training set (some border pixels are always 0) have
    std 0; for them std is set to 1, so they become 0 instead of NaN.  This
    is what ``sklearn.preprocessing.StandardScaler`` does.

    Args:
        val_fraction: fraction of all samples used for validation, in (0, 1).
        test_fraction: fraction of all samples used for testing, in (0, 1);
            ``val_fraction + test_fraction`` must be < 1.
        seed: random seed of the split (``random_state`` of
            ``sklearn.model_selection.train_test_split``).
        standardize: standardize with training statistics (True) or keep
            the raw pixel values 0..16 (False).
        flatten: return inputs as vectors of 64 pixels (True) or as
            single-channel images of shape (1, 8, 8) for conv nets (False).

    Returns:
        A :class:`DigitsSplits`.

    Shape:
        X_*: (N, 64) if flatten else (N, 1, 8, 8); y_*: (N,);
        mean, std: (64,) if flatten else (1, 8, 8).

    PyTorch counterpart: none; wrap the arrays in
    ``torch.utils.data.TensorDataset`` to use them with a ``DataLoader``.
    """
    val_fraction = _check_float(val_fraction, "val_fraction", 0.0, 1.0, include_low=False)
    test_fraction = _check_float(test_fraction, "test_fraction", 0.0, 1.0, include_low=False)
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            f"val_fraction + test_fraction must be < 1 to leave training data, "
            f"got {val_fraction} + {test_fraction}"
        )
    seed = _check_int(seed, "seed", 0)

    digits = sklearn.datasets.load_digits()
    X = digits.data.astype(np.float64)
    y = digits.target.astype(np.int64)
    n = len(y)

    n_test = round(test_fraction * n)
    n_val = round(val_fraction * n)
    n_train = n - n_test - n_val
    # Stratification needs at least one sample of every class in every split.
    for argument, split, size in [
        ("test_fraction", "test", n_test),
        ("val_fraction", "validation", n_val),
        ("val_fraction + test_fraction", "training", n_train),
    ]:
        if size < DIGITS_NUM_CLASSES:
            raise ValueError(
                f"{argument} leaves the {split} split {size} samples, fewer than the "
                f"{DIGITS_NUM_CLASSES} classes (a stratified split needs at least one of each)"
            )

    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=n_test, stratify=y, random_state=seed
    )
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=n_val, stratify=y_rest, random_state=seed
    )

    mean = std = None
    if standardize:
        mean = X_train.mean(axis=0)
        std = X_train.std(axis=0)
        std[std == 0.0] = 1.0  # constant pixels: avoid 0/0
        X_train, X_val, X_test = [(part - mean) / std for part in (X_train, X_val, X_test)]

    if not flatten:
        X_train, X_val, X_test = [part.reshape(-1, *DIGITS_IMAGE_SHAPE) for part in (X_train, X_val, X_test)]
        if standardize:
            mean, std = mean.reshape(DIGITS_IMAGE_SHAPE), std.reshape(DIGITS_IMAGE_SHAPE)

    return DigitsSplits(X_train, y_train, X_val, y_val, X_test, y_test, mean, std)


# ---------------------------------------------------------------------------
# Toy 2-D data sets
# ---------------------------------------------------------------------------


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
    n = _check_int(n, "n", 1)
    noise = _check_float(noise, "noise", 0.0, np.inf)
    seed = _check_int(seed, "seed", 0)
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
    classes = _check_int(classes, "classes", 2)
    n = _check_int(n, "n", classes)
    noise = _check_float(noise, "noise", 0.0, np.inf)
    seed = _check_int(seed, "seed", 0)
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
    n = _check_int(n, "n", 2)
    noise = _check_float(noise, "noise", 0.0, np.inf)
    seed = _check_int(seed, "seed", 0)
    X, y = sklearn.datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    return X.astype(np.float64), y.astype(np.int64)


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

    Returns:
        ``(X, y)``: float64 points and int64 labels in {0, 1}.

    Shape:
        X: (n, 2); y: (n,).

    PyTorch counterpart: none.
    """
    n = _check_int(n, "n", 2)
    noise = _check_float(noise, "noise", 0.0, np.inf)
    factor = _check_float(factor, "factor", 0.0, 1.0, include_low=False)
    seed = _check_int(seed, "seed", 0)
    X, y = sklearn.datasets.make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return X.astype(np.float64), y.astype(np.int64)
