"""Offline datasets for the course: nothing here downloads anything.

* :func:`load_digits` — scikit-learn's 8x8 handwritten digits (1797 images,
  10 classes; the data ship with scikit-learn), split into train/validation/
  test sets and standardized with training statistics only.
* Toy 2-D sets for plotting decision boundaries: :func:`make_xor`,
  :func:`make_spirals`, :func:`make_moons`, :func:`make_circles`.  Each
  returns ``(X, y)`` with ``X`` float64 of shape (n, 2) and ``y`` int64
  class labels of shape (n,), shuffled, and reproducible from ``seed``.
* Image sets for conv nets (float32, (N, 3, 32, 32) by default):
  :func:`load_digits_images` (the digits upsampled to colour-channel images)
  and :func:`make_shapes` (procedurally drawn shapes with a ``difficulty``
  knob), with :func:`channel_stats` / :func:`normalize_images` (per-channel
  training statistics), the torch ``Dataset`` wrapper :class:`ImageDataset`
  and the augmentations of the lectures (:func:`augmentation`:
  flips, rotations, crops, noise).
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
    "ImageSplits",
    "load_digits_images",
    "SHAPE_CLASSES",
    "make_shapes",
    "make_shapes_splits",
    "glyph_alphabet",
    "make_glyphs",
    "make_glyphs_splits",
    "load_cluttered_digits",
    "make_source_task",
    "channel_stats",
    "normalize_images",
    "ImageDataset",
    "GaussianNoise",
    "augmentation",
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


# ---------------------------------------------------------------------------
# Image data sets for conv nets
# ---------------------------------------------------------------------------


@dataclass
class ImageSplits:
    """Image data split into train, validation and test sets.

    Attributes:
        X_train, X_val, X_test: float32 images, shape (N, C, H, W).
        y_train, y_val, y_test: int64 labels, shape (N,).
        mean, std: per-channel training statistics, shape (C,), used as
            ``X = (X_raw - mean[:, None, None]) / std[:, None, None]``;
            ``None`` when not normalized.
        classes: the class names.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    mean: np.ndarray | None
    std: np.ndarray | None
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def datasets(self, train_transform=None):
        """``(train, val, test)`` as :class:`ImageDataset`; ``train_transform`` applies to train only."""
        return (ImageDataset(self.X_train, self.y_train, transform=train_transform),
                ImageDataset(self.X_val, self.y_val), ImageDataset(self.X_test, self.y_test))

    def __repr__(self) -> str:
        return (f"ImageSplits(train={self.X_train.shape}, val={self.X_val.shape}, test={self.X_test.shape}, "
                f"classes={len(self.classes)}, normalized={self.mean is not None})")


def channel_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) standard deviation of a set of images.

    Math:
        mean_c = mean of X[:, c, :, :]; std_c = sqrt(mean((X[:, c] - mean_c)²)), 1 where 0.

    Shape:
        X: (N, C, H, W); mean, std: (C,), float32.

    PyTorch counterpart: the numbers to pass to ``torchvision.transforms.Normalize(mean, std)``.
    """
    X = np.asarray(X)
    if X.ndim != 4:
        raise ValueError(f"X must have shape (N, C, H, W), got shape {X.shape}")
    mean = X.mean(axis=(0, 2, 3), dtype=np.float64)
    std = X.std(axis=(0, 2, 3), dtype=np.float64)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def normalize_images(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(X - mean) / std`` per channel (use the *training* statistics for every split).

    Shape:
        X: (N, C, H, W); mean, std: (C,); returns (N, C, H, W) float32.

    PyTorch counterpart: ``torchvision.transforms.Normalize(mean, std)`` on each image.
    """
    X = np.asarray(X, dtype=np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if X.ndim != 4 or mean.shape != (X.shape[1],) or std.shape != (X.shape[1],):
        raise ValueError(f"mean and std must have shape ({X.shape[1] if X.ndim == 4 else 'C'},) for X of shape {X.shape}")
    return (X - mean[:, None, None]) / std[:, None, None]


def _finish_image_splits(parts, normalize: bool, classes) -> ImageSplits:
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = parts
    mean = std = None
    if normalize:
        mean, std = channel_stats(X_train)
        X_train, X_val, X_test = (normalize_images(p, mean, std) for p in (X_train, X_val, X_test))
    return ImageSplits(X_train.astype(np.float32), y_train, X_val.astype(np.float32), y_val,
                       X_test.astype(np.float32), y_test, mean, std, tuple(classes))


def load_digits_images(
    *,
    size: int = 32,
    channels: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
) -> ImageSplits:
    """The 8x8 digits as images for conv nets: upsampled and with colour channels.

    The splits are those of :func:`load_digits` (same fractions and seed give the
    same samples).  Pixels 0..16 are scaled to [0, 1], upsampled bilinearly to
    ``size`` x ``size`` (``torch.nn.functional.interpolate``, align_corners=False)
    and repeated over ``channels`` identical channels, so that networks built for
    RGB inputs (VGG) take them.  With ``normalize`` each channel is standardized
    with the training set's mean and std (:func:`channel_stats`).

    Args:
        size: image height and width, >= 8.
        channels: 1 or 3.
        val_fraction, test_fraction, seed: as in :func:`load_digits`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`ImageSplits` with classes "0".."9".

    Shape:
        X_*: (N, channels, size, size) float32; y_*: (N,) int64.

    PyTorch counterpart: none (wrap with :class:`ImageDataset`).
    """
    size = _check_int(size, "size", 8)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    import torch
    import torch.nn.functional as F

    raw = load_digits(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                      standardize=False, flatten=False)

    def convert(X):
        t = torch.from_numpy((X / 16.0).astype(np.float32))
        if size != 8:
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
        return t.repeat(1, channels, 1, 1).numpy()

    parts = [(convert(raw.X_train), raw.y_train), (convert(raw.X_val), raw.y_val), (convert(raw.X_test), raw.y_test)]
    return _finish_image_splits(parts, normalize, [str(d) for d in range(10)])


SHAPE_CLASSES = ("disk", "ring", "square", "frame", "triangle", "plus", "star", "crescent", "two_dots", "ell")


def _shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of shape ``k`` in local coordinates (u, v), the shape filling about [-1, 1]²."""
    r = np.hypot(u, v)
    if k == 0:  # disk
        return r < 0.9
    if k == 1:  # ring
        return (r < 0.95) & (r > 0.55)
    if k == 2:  # square
        return np.maximum(np.abs(u), np.abs(v)) < 0.75
    if k == 3:  # frame (hollow square)
        m = np.maximum(np.abs(u), np.abs(v))
        return (m < 0.85) & (m > 0.5)
    if k == 4:  # triangle (pointing up)
        return (v > -0.6) & (v < 0.9 - 1.73 * np.abs(u) * 0.87)
    if k == 5:  # plus
        return ((np.abs(u) < 0.28) & (np.abs(v) < 0.95)) | ((np.abs(v) < 0.28) & (np.abs(u) < 0.95))
    if k == 6:  # five-pointed star
        theta = np.arctan2(v, u)
        return r < 0.5 + 0.42 * np.cos(5 * theta + np.pi / 2)
    if k == 7:  # crescent
        return (r < 0.9) & (np.hypot(u - 0.45, v) > 0.7)
    if k == 8:  # two dots
        return (np.hypot(u - 0.5, v) < 0.38) | (np.hypot(u + 0.5, v) < 0.38)
    if k == 9:  # L shape
        return ((np.abs(u + 0.45) < 0.25) & (np.abs(v) < 0.9)) | ((np.abs(v - 0.65) < 0.25) & (u > -0.7) & (u < 0.8))
    raise ValueError(f"unknown shape class {k}")


def _scene_colours(rng: np.random.Generator, n: int, d: float) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background colours, (n, 3) each, with a contrast floor of 0.6 - 0.4·d."""
    bg = rng.uniform(0.0, 1.0, (n, 3))
    fg = rng.uniform(0.0, 1.0, (n, 3))
    min_contrast = 0.6 - 0.4 * d
    low = np.abs(fg.mean(1) - bg.mean(1)) < min_contrast
    fg[low] = np.where(bg[low].mean(1, keepdims=True) > 0.5, fg[low] * 0.3 * (1 - min_contrast),
                       1 - (1 - fg[low]) * 0.3 * (1 - min_contrast))
    return fg, bg


def _clutter_and_noise(X: np.ndarray, rng: np.random.Generator, d: float) -> np.ndarray:
    """Up to 3 random line segments (Binomial(3, d)), Gaussian noise of std 0.02 + 0.13·d, clip to [0, 1]."""
    n, _, size, _ = X.shape
    n_lines = rng.binomial(3, d, n)
    t = np.linspace(0, 1, 3 * size)
    for i in np.nonzero(n_lines)[0]:
        for _ in range(n_lines[i]):
            p0, p1 = rng.uniform(0, size - 1, 2), rng.uniform(0, size - 1, 2)
            colour = rng.uniform(0, 1, 3)
            rows = np.clip(np.round(p0[0] + t * (p1[0] - p0[0])).astype(int), 0, size - 1)
            cols = np.clip(np.round(p0[1] + t * (p1[1] - p0[1])).astype(int), 0, size - 1)
            X[i][:, rows, cols] = colour[:, None]
    X += rng.normal(0.0, 0.02 + 0.13 * d, X.shape).astype(np.float32)
    np.clip(X, 0.0, 1.0, out=X)
    return X


def make_shapes(
    n: int = 1000,
    *,
    num_classes: int = 10,
    size: int = 32,
    difficulty: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Procedurally drawn coloured shapes: a classification set of any size, offline.

    Each image shows one shape of class ``y`` (names in :data:`SHAPE_CLASSES`:
    disk, ring, square, frame, triangle, plus, star, crescent, two dots, L) in a
    random colour on a random background, anti-aliased (drawn at twice the size and
    averaged).  ``difficulty`` in [0, 1] widens the nuisance variation: position
    jitter (up to 0.2·size), scale range, rotation (up to ±35°), lower
    foreground/background contrast, pixel noise (std 0.02 + 0.13·difficulty) and up
    to 3 distracting line segments.  Difficulty 0 gives centred, upright,
    high-contrast shapes.

    Args:
        n: number of images, >= 1 (classes balanced, in random order).
        num_classes: how many of the shape classes to use, 2..10.
        size: image height and width, >= 16.
        difficulty: in [0, 1].
        seed: seed of ``np.random.default_rng``.

    Returns:
        ``(X, y)``: float32 images with values in [0, 1] and int64 labels.

    Shape:
        X: (n, 3, size, size); y: (n,).

    PyTorch counterpart: none (wrap with :class:`ImageDataset`).
    """
    n = _check_int(n, "n", 1)
    num_classes = _check_int(num_classes, "num_classes", 2)
    if num_classes > len(SHAPE_CLASSES):
        raise ValueError(f"num_classes must be <= {len(SHAPE_CLASSES)}, got {num_classes}")
    size = _check_int(size, "size", 16)
    difficulty = _check_float(difficulty, "difficulty", 0.0, 1.0 + 1e-12)
    seed = _check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    d = difficulty

    y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    hi = 2 * size  # supersampled grid
    grid = (np.arange(hi) + 0.5) / hi * 2.0 - 1.0  # pixel centres in [-1, 1]
    gy, gx = np.meshgrid(-grid, grid, indexing="ij")  # v up, u right

    centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d
    scale = 0.62 * np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # half-size relative to the image
    angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
    fg, bg = _scene_colours(rng, n, d)

    X = np.empty((n, 3, size, size), dtype=np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    for i in range(n):
        du, dv = gx - centre[i, 0], gy - centre[i, 1]
        u = (cos[i] * du + sin[i] * dv) / scale[i]
        v = (-sin[i] * du + cos[i] * dv) / scale[i]
        mask = _shape_mask(int(y[i]), u, v).astype(np.float32)
        alpha = mask.reshape(size, 2, size, 2).mean(axis=(1, 3))
        X[i] = bg[i][:, None, None] * (1 - alpha) + fg[i][:, None, None] * alpha
    return _clutter_and_noise(X, rng, d), y  # distractor line segments, pixel noise


def make_shapes_splits(
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 500,
    *,
    num_classes: int = 10,
    size: int = 32,
    difficulty: float = 0.5,
    seed: int = 0,
    normalize: bool = True,
) -> ImageSplits:
    """:func:`make_shapes` split into train/val/test and normalized with training statistics.

    Returns:
        An :class:`ImageSplits` whose classes are ``SHAPE_CLASSES[:num_classes]``.
    """
    return _generated_splits(make_shapes, n_train, n_val, n_test, normalize, SHAPE_CLASSES[:num_classes],
                             num_classes=num_classes, size=size, difficulty=difficulty, seed=seed)


def _generated_splits(make, n_train, n_val, n_test, normalize: bool, classes, **kwargs) -> ImageSplits:
    """``make(n_train + n_val + n_test, **kwargs)`` cut into train/val/test, in that order."""
    n_train, n_val, n_test = (_check_int(v, name, 1) for v, name in
                              [(n_train, "n_train"), (n_val, "n_val"), (n_test, "n_test")])
    X, y = make(n_train + n_val + n_test, **kwargs)
    a, b = n_train, n_train + n_val
    parts = [(X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:])]
    return _finish_image_splits(parts, normalize, classes)


# ---------------------------------------------------------------------------
# Glyphs, cluttered digits and the source task of mini_vgg
# ---------------------------------------------------------------------------
# The same nuisances as make_shapes (random colours and contrast, position, scale,
# rotation, distracting line segments, pixel noise: _scene_colours, _clutter_and_noise),
# so that a network pretrained on one set has learned to ignore them in the others.


def glyph_alphabet(num_classes: int = 30, *, alphabet: int = 0) -> list[list[np.ndarray]]:
    """The stroke templates of an invented alphabet: one list of pen strokes per character.

    Each character has 2 or 3 strokes; a stroke is a polyline (2 or 3 random vertices in
    [-0.8, 0.8]²) or, with probability 0.35, a circular arc (radius 0.25..0.6, 0.6π..1.6π,
    as 6 segments).  The same ``alphabet`` always gives the same characters, and the first
    characters do not depend on ``num_classes``; a different ``alphabet`` gives new ones.

    Returns:
        ``num_classes`` lists of (k, 2) float arrays (polyline vertices, y up).
    """
    num_classes = _check_int(num_classes, "num_classes", 2)
    alphabet = _check_int(alphabet, "alphabet", 0)
    characters = []
    for c in range(num_classes):
        rng = np.random.default_rng([alphabet, 77, c])
        strokes = []
        for _ in range(rng.integers(2, 4)):
            if rng.random() < 0.35:
                cx, cy = rng.uniform(-0.35, 0.35, 2)
                r = rng.uniform(0.25, 0.6)
                a = rng.uniform(0, 2 * np.pi) + rng.uniform(0.6, 1.6) * np.pi * np.linspace(0, 1, 7)
                strokes.append(np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1))
            else:
                strokes.append(rng.uniform(-0.8, 0.8, (int(rng.integers(2, 4)), 2)))
        characters.append(strokes)
    return characters


def _stroke_alpha(segments: list[np.ndarray], width: np.ndarray, size: int, batch: int = 256) -> np.ndarray:
    """Anti-aliased coverage of thick line segments: (n, size, size) in [0, 1].

    ``segments[i]`` is (m, 4) (x0, y0, x1, y1) in image coordinates [-1, 1]² (y up);
    a pixel's coverage is 1/2 + (width/2 - distance to the nearest segment) / pixel, clipped.
    """
    import torch

    grid = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    gy, gx = np.meshgrid(-grid, grid, indexing="ij")
    px = torch.from_numpy(gx.reshape(1, -1, 1).astype(np.float32))
    py = torch.from_numpy(gy.reshape(1, -1, 1).astype(np.float32))
    out = np.empty((len(segments), size, size), dtype=np.float32)
    for b0 in range(0, len(segments), batch):
        chunk = segments[b0:b0 + batch]
        m = max(len(s) for s in chunk)
        S = np.full((len(chunk), m, 4), 9.0, dtype=np.float32)  # padding: far-away points
        for j, s in enumerate(chunk):
            S[j, :len(s)] = s
        s = torch.from_numpy(S)
        ax, ay = s[:, None, :, 0], s[:, None, :, 1]
        abx, aby = s[:, None, :, 2] - ax, s[:, None, :, 3] - ay
        inv = 1.0 / (abx * abx + aby * aby).clamp_min(1e-9)
        dx, dy = px - ax, py - ay
        t = ((dx * abx + dy * aby) * inv).clamp_(0, 1)
        dx -= t * abx
        dy -= t * aby
        dist = (dx * dx + dy * dy).amin(-1).sqrt_()
        w = torch.from_numpy(width[b0:b0 + batch].astype(np.float32))[:, None]
        out[b0:b0 + batch] = ((w / 2 - dist) * (size / 2) + 0.5).clamp_(0, 1).reshape(-1, size, size).numpy()
    return out


def make_glyphs(
    n: int = 1000,
    *,
    num_classes: int = 30,
    size: int = 32,
    difficulty: float = 0.5,
    alphabet: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Handwriting-like characters of an invented alphabet, with the nuisances of :func:`make_shapes`.

    Class ``c`` is character ``c`` of :func:`glyph_alphabet` (2-3 pen strokes).  Each
    image redraws it with wobbly strokes (each stroke's ends moved by N(0, (0.04 +
    0.08·difficulty)²), the shift blended linearly along the stroke), a random pen
    width (1.6 to 3.2 pixels at size 32, scaled with the character), and the
    nuisances of :func:`make_shapes` at the same ``difficulty``: position, scale,
    rotation, colours and contrast, line segments, pixel noise.

    ``alphabet`` picks the characters: ``mini_vgg`` is pretrained on alphabet 0
    (:func:`make_source_task`), so another alphabet gives *new classes from the same
    kind of data* (the "similar data" of transfer learning).

    Args:
        n: number of images, >= 1 (classes balanced, in random order).
        num_classes: characters used, >= 2.
        size: image height and width, >= 16.
        difficulty: in [0, 1].
        alphabet: seed of the characters, >= 0.
        seed: seed of the drawing (``np.random.default_rng``).

    Returns:
        ``(X, y)``: float32 images with values in [0, 1] and int64 labels.

    Shape:
        X: (n, 3, size, size); y: (n,).

    PyTorch counterpart: none (wrap with :class:`ImageDataset`).
    """
    n = _check_int(n, "n", 1)
    num_classes = _check_int(num_classes, "num_classes", 2)
    size = _check_int(size, "size", 16)
    difficulty = _check_float(difficulty, "difficulty", 0.0, 1.0 + 1e-12)
    alphabet = _check_int(alphabet, "alphabet", 0)
    seed = _check_int(seed, "seed", 0)
    characters = glyph_alphabet(num_classes, alphabet=alphabet)
    rng = np.random.default_rng(seed)
    d = difficulty

    y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d
    scale = np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # relative to the template's size
    angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
    width = rng.uniform(0.10, 0.20, n) * scale
    fg, bg = _scene_colours(rng, n, d)
    jitter = 0.04 + 0.08 * d
    segments = []
    for i in range(n):
        cos, sin = np.cos(angle[i]), np.sin(angle[i])
        rotation = np.array([[cos, sin], [-sin, cos]]) * scale[i]
        parts = []
        for stroke in characters[y[i]]:
            ends = rng.normal(0.0, jitter, (2, 2))
            f = np.linspace(0, 1, len(stroke))[:, None]
            q = (stroke + ends[0] * (1 - f) + ends[1] * f) @ rotation + centre[i]
            parts.append(np.concatenate([q[:-1], q[1:]], 1))
        segments.append(np.concatenate(parts))
    alpha = _stroke_alpha(segments, width, size)[:, None]
    X = (bg[:, :, None, None] * (1 - alpha) + fg[:, :, None, None] * alpha).astype(np.float32)
    return _clutter_and_noise(X, rng, d), y


def make_glyphs_splits(
    n_train: int = 2000,
    n_val: int = 500,
    n_test: int = 500,
    *,
    num_classes: int = 10,
    size: int = 32,
    difficulty: float = 0.5,
    alphabet: int = 1,
    seed: int = 0,
    normalize: bool = True,
) -> ImageSplits:
    """:func:`make_glyphs` split into train/val/test and normalized with training statistics.

    The default ``alphabet=1`` holds characters that ``mini_vgg`` never saw in pretraining.

    Returns:
        An :class:`ImageSplits` with classes "glyph0", "glyph1", ...
    """
    return _generated_splits(make_glyphs, n_train, n_val, n_test, normalize,
                             [f"glyph{c}" for c in range(num_classes)], num_classes=num_classes, size=size,
                             difficulty=difficulty, alphabet=alphabet, seed=seed)


def load_cluttered_digits(
    *,
    size: int = 32,
    difficulty: float = 0.5,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
) -> ImageSplits:
    """The handwritten digits drawn into colour scenes with the nuisances of :func:`make_shapes`.

    The splits are those of :func:`load_digits` (same fractions and seed, same samples).
    Each 8x8 digit (pixels 0..16 read as ink coverage 0..1) is drawn once, by bilinear
    sampling (``torch.nn.functional.grid_sample``), into a ``size`` x ``size`` image:
    its 8x8 box spans 0.62·exp(±0.3·difficulty) of the image, shifted by up to
    ±0.2·difficulty·size and rotated by up to ±35°·difficulty, in a random colour on a
    random background (contrast floor 0.6 - 0.4·difficulty), then overdrawn with up to
    3 line segments and pixel noise (std 0.02 + 0.13·difficulty).  The drawing is
    seeded by ``seed`` too, so every call gives the same images.

    Unlike :func:`load_digits_images` (the plain digits, which even a small network
    learns from a handful of examples) the digits here are a hard target: the network
    must also learn to ignore colour, position, size and clutter.

    Args:
        size: image height and width, >= 16.
        difficulty: in [0, 1] (0: centred, upright, high contrast, almost no noise).
        val_fraction, test_fraction, seed: as in :func:`load_digits`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`ImageSplits` with classes "0".."9".

    Shape:
        X_*: (N, 3, size, size) float32; y_*: (N,) int64.

    PyTorch counterpart: none (wrap with :class:`ImageDataset`).
    """
    import torch
    import torch.nn.functional as F

    size = _check_int(size, "size", 16)
    difficulty = _check_float(difficulty, "difficulty", 0.0, 1.0 + 1e-12)
    raw = load_digits(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                      standardize=False, flatten=False)
    rng = np.random.default_rng([seed, 1])
    d = difficulty

    def draw(digits: np.ndarray) -> np.ndarray:
        n = len(digits)
        box = 0.62 * np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # fraction of the image the 8x8 box spans
        centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d  # (x, y) in [-1, 1] image coordinates
        angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
        fg, bg = _scene_colours(rng, n, d)
        cos, sin = np.cos(angle), np.sin(angle)
        # affine_grid maps output (x, y) to input coordinates: R(-angle) (p - centre) / box
        theta = np.zeros((n, 2, 3), dtype=np.float32)
        theta[:, 0, 0], theta[:, 0, 1] = cos / box, sin / box
        theta[:, 1, 0], theta[:, 1, 1] = -sin / box, cos / box
        theta[:, :, 2] = -np.einsum("nij,nj->ni", theta[:, :, :2], centre)
        ink = torch.from_numpy((digits / 16.0).astype(np.float32))
        grid = F.affine_grid(torch.from_numpy(theta), [n, 1, size, size], align_corners=False)
        alpha = F.grid_sample(ink, grid, mode="bilinear", padding_mode="zeros", align_corners=False).numpy()
        X = (bg[:, :, None, None] * (1 - alpha) + fg[:, :, None, None] * alpha).astype(np.float32)
        return _clutter_and_noise(X, rng, d)

    parts = [(draw(raw.X_train), raw.y_train), (draw(raw.X_val), raw.y_val), (draw(raw.X_test), raw.y_test)]
    return _finish_image_splits(parts, normalize, [str(c) for c in range(DIGITS_NUM_CLASSES)])


SOURCE_GLYPH_CLASSES = 30
SOURCE_DIFFICULTIES = (0.3, 0.5, 0.7)


def make_source_task(
    n: int = 12000,
    *,
    glyph_classes: int = SOURCE_GLYPH_CLASSES,
    difficulties=SOURCE_DIFFICULTIES,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pretraining task of ``mini_vgg``: the 10 shapes plus ``glyph_classes`` invented characters.

    Classes 0..9 are :data:`SHAPE_CLASSES` (:func:`make_shapes`), classes 10.. the
    characters of alphabet 0 (:func:`make_glyphs`), all with the same nuisances; the
    images are split evenly over ``difficulties`` (several levels of clutter), the
    shapes and glyphs in proportion to their numbers of classes, then shuffled.
    Digits are *not* in it: :func:`load_cluttered_digits` is a different task.

    Args:
        n: number of images, >= the number of difficulties.
        glyph_classes: characters of alphabet 0, >= 2.
        difficulties: a non-empty sequence of values in [0, 1].
        seed: seed of everything.

    Returns:
        ``(X, y)``: float32 images in [0, 1], (n, 3, 32, 32), and int64 labels in
        0 .. 9 + glyph_classes.
    """
    n = _check_int(n, "n", 1)
    glyph_classes = _check_int(glyph_classes, "glyph_classes", 2)
    seed = _check_int(seed, "seed", 0)
    difficulties = [_check_float(v, "difficulties", 0.0, 1.0 + 1e-12) for v in difficulties]
    if not difficulties or n < len(difficulties):
        raise ValueError(f"difficulties must be non-empty with at most n={n} values, got {difficulties!r}")
    num_shapes = len(SHAPE_CLASSES)
    Xs, ys = [], []
    for j, d in enumerate(difficulties):
        m = n // len(difficulties) + (j < n % len(difficulties))
        m_shapes = round(m * num_shapes / (num_shapes + glyph_classes))
        if m_shapes:
            X, y = make_shapes(m_shapes, num_classes=num_shapes, difficulty=d, seed=_derived_seed(seed, j, 0))
            Xs.append(X), ys.append(y)
        if m - m_shapes:
            X, y = make_glyphs(m - m_shapes, num_classes=glyph_classes, difficulty=d, alphabet=0,
                               seed=_derived_seed(seed, j, 1))
            Xs.append(X), ys.append(y + num_shapes)
    order = np.random.default_rng([seed, 2]).permutation(n)
    return np.concatenate(Xs)[order], np.concatenate(ys)[order]


def _derived_seed(seed: int, *keys: int) -> int:
    """A reproducible non-negative integer seed from ``seed`` and ``keys`` (independent streams)."""
    return int(np.random.default_rng([seed, *keys]).integers(2**31))


class ImageDataset:
    """A ``torch.utils.data.Dataset`` over image arrays, with an optional transform.

    ``dataset[i]`` is ``(transform(image), label)`` with ``image`` a float32 tensor
    of shape (C, H, W) and ``label`` a 0-d int64 tensor.

    Args:
        X: images, (N, C, H, W) (numpy array or tensor).
        y: integer labels, (N,).
        transform: a callable on one (C, H, W) tensor, e.g. :func:`augmentation`'s result.

    PyTorch counterpart: ``torch.utils.data.TensorDataset(X, y)`` plus a transform.
    """

    def __init__(self, X, y, transform=None) -> None:
        import torch

        self.X = torch.as_tensor(np.asarray(X), dtype=torch.float32)
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.int64)
        if self.X.dim() != 4:
            raise ValueError(f"X must have shape (N, C, H, W), got shape {tuple(self.X.shape)}")
        if self.y.shape != (len(self.X),):
            raise ValueError(f"y must have shape ({len(self.X)},), got shape {tuple(self.y.shape)}")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        x = self.X[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[index]


# a torch Dataset in every respect (DataLoader, random_split, ConcatDataset)
def _register_dataset() -> None:
    import torch.utils.data

    globals()["ImageDataset"] = type("ImageDataset", (ImageDataset, torch.utils.data.Dataset),
                                     {"__doc__": ImageDataset.__doc__, "__module__": __name__})


_register_dataset()


class GaussianNoise:
    """Add N(0, std²) noise to an image tensor (a regularizing augmentation).

    Args:
        std: noise standard deviation, >= 0.
        generator: optional ``torch.Generator`` (default: torch's global generator).

    Shape:
        (C, H, W) or (N, C, H, W) -> same.

    PyTorch counterpart: ``torchvision.transforms.v2.GaussianNoise`` (which clips to [0, 1]; this does not).
    """

    def __init__(self, std: float = 0.1, generator=None) -> None:
        self.std = _check_float(std, "std", 0.0, np.inf)
        self.generator = generator

    def __call__(self, x):
        import torch

        return x + self.std * torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


def augmentation(*, flip: bool = True, rotation: float = 0.0, crop_padding: int = 0, noise_std: float = 0.0,
                 size: int | None = None):
    """The lectures' augmentations as one transform for (C, H, W) float tensors.

    In order: random horizontal flip (probability 1/2), random rotation in
    [-rotation, rotation] degrees, random crop of the original size after zero
    padding by ``crop_padding`` pixels (a random shift), additive Gaussian noise.
    They draw from torch's global generator, which ``DataLoader`` workers seed per
    worker (use :func:`dlcourse.torch_ref.seed_worker` and a seeded ``generator``).
    Do not flip digits or text: a flipped digit is not the same digit.

    Args:
        flip: random horizontal flips.
        rotation: maximal rotation in degrees, >= 0 (0: none).
        crop_padding: padding before the random crop, >= 0 (0: none).
        noise_std: standard deviation of the added noise, >= 0 (0: none).
        size: crop size (default: the input's size, needed only when padding).

    Returns:
        A ``torchvision.transforms.v2.Compose`` (the identity when nothing is chosen).

    PyTorch counterpart: ``torchvision.transforms.v2`` ``RandomHorizontalFlip``,
    ``RandomRotation``, ``RandomCrop(padding=...)``, ``GaussianNoise``.
    """
    from torchvision.transforms import v2

    rotation = _check_float(rotation, "rotation", 0.0, 180.0 + 1e-9)
    crop_padding = _check_int(crop_padding, "crop_padding", 0)
    noise_std = _check_float(noise_std, "noise_std", 0.0, np.inf)
    steps = []
    if flip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if rotation > 0:
        steps.append(v2.RandomRotation(degrees=rotation))
    if crop_padding > 0:
        steps.append(_PadCrop(crop_padding, size))
    if noise_std > 0:
        steps.append(GaussianNoise(noise_std))
    return v2.Compose(steps) if steps else v2.Identity()


class _PadCrop:
    """Zero-pad by ``padding`` and crop back to the input size at a random offset."""

    def __init__(self, padding: int, size: int | None) -> None:
        self.padding, self.size = padding, size

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        h, w = x.shape[-2:]
        ch, cw = (self.size, self.size) if self.size else (h, w)
        padded = F.pad(x, (self.padding,) * 4)
        top = int(torch.randint(0, padded.shape[-2] - ch + 1, ()))
        left = int(torch.randint(0, padded.shape[-1] - cw + 1, ()))
        return padded[..., top:top + ch, left:left + cw]

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding})"
