"""The handwritten digits drawn into cluttered colour scenes: the target task of the transfer lecture.

Imports numpy only; :func:`load_cluttered_digits` uses torch's ``grid_sample`` when it is
called, so importing this module does not load torch.
"""

from __future__ import annotations

import numpy as np

from dlcourse.data.digits import DIGITS_NUM_CLASSES, load_digits
from dlcourse.data.image_splits import ImageSplits, image_splits_from_parts
from dlcourse.data.scene import add_clutter_and_noise, scene_colours
from dlcourse.validation import check_integer, check_real_in_range

__all__ = ["load_cluttered_digits"]


def load_cluttered_digits(
    *,
    size: int = 32,
    difficulty: float = 0.5,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    seed: int = 0,
    normalize: bool = True,
) -> ImageSplits:
    """The handwritten digits drawn into colour scenes with the nuisances of :func:`~dlcourse.data.make_shapes`.

    The splits are those of :func:`~dlcourse.data.load_digits` (same fractions and seed,
    same samples).  Each 8x8 digit (pixels 0..16 read as ink coverage 0..1) is drawn
    once, by bilinear sampling (``torch.nn.functional.grid_sample``), into a ``size`` x
    ``size`` image: its 8x8 box spans 0.62·exp(±0.3·difficulty) of the image, shifted by
    up to ±0.2·difficulty·size and rotated by up to ±35°·difficulty, in a random colour
    on a random background (contrast floor 0.6 - 0.4·difficulty), then overdrawn with up
    to 3 line segments and pixel noise (std 0.02 + 0.13·difficulty).  The drawing is
    seeded by ``seed`` too, so every call gives the same images.

    Unlike :func:`~dlcourse.data.load_digits_images` (the plain digits, which even a
    small network learns from a handful of examples) the digits here are a hard target:
    the network must also learn to ignore colour, position, size and clutter.

    Args:
        size: image height and width, >= 16.
        difficulty: in [0, 1] (0: centred, upright, high contrast, almost no noise).
        val_fraction, test_fraction, seed: as in :func:`~dlcourse.data.load_digits`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`~dlcourse.data.ImageSplits` with classes "0".."9".

    Raises:
        ValueError: naming the argument that is out of range.

    Shape:
        X_*: (N, 3, size, size) float32; y_*: (N,) int64.

    PyTorch counterpart: none (wrap with :class:`~dlcourse.data.ImageDataset`).
    """
    size = check_integer(size, "size", minimum=16)
    difficulty = check_real_in_range(difficulty, "difficulty", 0.0, 1.0)
    raw = load_digits(val_fraction=val_fraction, test_fraction=test_fraction, seed=seed,
                      standardize=False, flatten=False)
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng([seed, 1])
    d = difficulty

    def draw(digits: np.ndarray) -> np.ndarray:
        n = len(digits)
        box = 0.62 * np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # fraction of the image the 8x8 box spans
        centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d  # (x, y) in [-1, 1] image coordinates
        angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
        fg, bg = scene_colours(rng, n, d)
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
        return add_clutter_and_noise(X, rng, d)

    parts = [(draw(raw.X_train), raw.y_train), (draw(raw.X_val), raw.y_val), (draw(raw.X_test), raw.y_test)]
    return image_splits_from_parts(parts, normalize, [str(c) for c in range(DIGITS_NUM_CLASSES)])
