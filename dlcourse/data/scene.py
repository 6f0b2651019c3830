"""Drawing helpers shared by the generated image sets: scene colours, clutter and pixel noise.

:func:`~dlcourse.data.shapes.make_shapes`, :func:`~dlcourse.data.glyphs.make_glyphs` and
:func:`~dlcourse.data.cluttered_digits.load_cluttered_digits` draw their objects with the
same nuisances, so that a network pretrained on one set has learned to ignore them in the
others.  Both helpers draw from the ``rng`` passed in, in a fixed order: changing them
changes every generated image (and the data that ``mini_vgg``'s shipped weights were
trained on).
"""

from __future__ import annotations

import numpy as np

__all__ = ["scene_colours", "add_clutter_and_noise"]


def scene_colours(rng: np.random.Generator, n: int, difficulty: float) -> tuple[np.ndarray, np.ndarray]:
    """Random foreground and background colours with a contrast floor of 0.6 - 0.4·difficulty.

    Where the mean brightness of foreground and background differ by less than the floor,
    the foreground is darkened (on a light background) or lightened (on a dark one).

    Args:
        rng: the generator to draw from.
        n: number of scenes.
        difficulty: in [0, 1].

    Returns:
        ``(foreground, background)``: RGB colours in [0, 1], (n, 3) each.
    """
    bg = rng.uniform(0.0, 1.0, (n, 3))
    fg = rng.uniform(0.0, 1.0, (n, 3))
    min_contrast = 0.6 - 0.4 * difficulty
    low = np.abs(fg.mean(1) - bg.mean(1)) < min_contrast
    fg[low] = np.where(bg[low].mean(1, keepdims=True) > 0.5, fg[low] * 0.3 * (1 - min_contrast),
                       1 - (1 - fg[low]) * 0.3 * (1 - min_contrast))
    return fg, bg


def add_clutter_and_noise(X: np.ndarray, rng: np.random.Generator, difficulty: float) -> np.ndarray:
    """Overdraw distracting line segments, add pixel noise and clip to [0, 1], in place.

    Each image gets Binomial(3, difficulty) one-pixel line segments of random colour
    between random points, then Gaussian noise of std 0.02 + 0.13·difficulty.

    Args:
        X: float32 images, (n, 3, size, size), modified in place.
        rng: the generator to draw from.
        difficulty: in [0, 1].

    Returns:
        ``X``.
    """
    n, _, size, _ = X.shape
    n_lines = rng.binomial(3, difficulty, n)
    t = np.linspace(0, 1, 3 * size)
    for i in np.nonzero(n_lines)[0]:
        for _ in range(n_lines[i]):
            p0, p1 = rng.uniform(0, size - 1, 2), rng.uniform(0, size - 1, 2)
            colour = rng.uniform(0, 1, 3)
            rows = np.clip(np.round(p0[0] + t * (p1[0] - p0[0])).astype(int), 0, size - 1)
            cols = np.clip(np.round(p0[1] + t * (p1[1] - p0[1])).astype(int), 0, size - 1)
            X[i][:, rows, cols] = colour[:, None]
    X += rng.normal(0.0, 0.02 + 0.13 * difficulty, X.shape).astype(np.float32)
    np.clip(X, 0.0, 1.0, out=X)
    return X
