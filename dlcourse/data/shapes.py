"""Procedurally drawn coloured shapes: a classification set of any size, generated offline.

numpy only.  The images are bit-identical for the same arguments: ``mini_vgg``'s shipped
weights were trained on them (through :func:`~dlcourse.data.make_source_task`).
"""

from __future__ import annotations

import numpy as np

from dlcourse.data.image_splits import ImageSplits, generated_splits
from dlcourse.data.scene import add_clutter_and_noise, scene_colours
from dlcourse.validation import check_integer, check_real_in_range

__all__ = ["SHAPE_CLASSES", "shape_mask", "make_shapes", "make_shapes_splits"]

SHAPE_CLASSES = ("disk", "ring", "square", "frame", "triangle", "plus", "star", "crescent", "two_dots", "ell")


def shape_mask(k: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test of shape ``k`` (an index into :data:`SHAPE_CLASSES`) at local coordinates (u, v).

    The shape fills about [-1, 1]², ``u`` pointing right and ``v`` up.

    Raises:
        ValueError: naming the shape class when ``k`` is not in 0..9.
    """
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

    Raises:
        ValueError: naming the argument that is out of range.

    Shape:
        X: (n, 3, size, size); y: (n,).

    PyTorch counterpart: none (wrap with :class:`~dlcourse.data.ImageDataset`).
    """
    n = check_integer(n, "n", minimum=1)
    num_classes = check_integer(num_classes, "num_classes", minimum=2)
    if num_classes > len(SHAPE_CLASSES):
        raise ValueError(f"num_classes must be <= {len(SHAPE_CLASSES)}, got {num_classes}")
    size = check_integer(size, "size", minimum=16)
    difficulty = check_real_in_range(difficulty, "difficulty", 0.0, 1.0)
    seed = check_integer(seed, "seed", minimum=0)
    rng = np.random.default_rng(seed)
    d = difficulty

    y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    hi = 2 * size  # supersampled grid
    grid = (np.arange(hi) + 0.5) / hi * 2.0 - 1.0  # pixel centres in [-1, 1]
    gy, gx = np.meshgrid(-grid, grid, indexing="ij")  # v up, u right

    centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d
    scale = 0.62 * np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # half-size relative to the image
    angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
    fg, bg = scene_colours(rng, n, d)

    X = np.empty((n, 3, size, size), dtype=np.float32)
    cos, sin = np.cos(angle), np.sin(angle)
    for i in range(n):
        du, dv = gx - centre[i, 0], gy - centre[i, 1]
        u = (cos[i] * du + sin[i] * dv) / scale[i]
        v = (-sin[i] * du + cos[i] * dv) / scale[i]
        mask = shape_mask(int(y[i]), u, v).astype(np.float32)
        alpha = mask.reshape(size, 2, size, 2).mean(axis=(1, 3))
        X[i] = bg[i][:, None, None] * (1 - alpha) + fg[i][:, None, None] * alpha
    return add_clutter_and_noise(X, rng, d), y  # distractor line segments, pixel noise


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

    Args:
        n_train, n_val, n_test: images per split, >= 1 each (drawn as one set of their sum, cut in order).
        num_classes, size, difficulty, seed: as in :func:`make_shapes`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`~dlcourse.data.ImageSplits` whose classes are ``SHAPE_CLASSES[:num_classes]``.
    """
    return generated_splits(make_shapes, n_train, n_val, n_test, normalize, SHAPE_CLASSES[:num_classes],
                            num_classes=num_classes, size=size, difficulty=difficulty, seed=seed)
