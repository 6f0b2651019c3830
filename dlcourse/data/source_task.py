"""The pretraining task of ``mini_vgg``: the shapes plus the characters of alphabet 0.

numpy only (drawing the glyphs uses torch when called).  Changing anything here
changes the data that the shipped ``mini_vgg`` weights were trained on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dlcourse.data.glyphs import make_glyphs
from dlcourse.data.shapes import SHAPE_CLASSES, make_shapes
from dlcourse.validation import check_integer, check_real_in_range

__all__ = ["SOURCE_GLYPH_CLASSES", "SOURCE_DIFFICULTIES", "make_source_task", "derived_seed"]

SOURCE_GLYPH_CLASSES = 30
SOURCE_DIFFICULTIES = (0.3, 0.5, 0.7)


def make_source_task(
    n: int = 12000,
    *,
    glyph_classes: int = SOURCE_GLYPH_CLASSES,
    difficulties: Sequence[float] = SOURCE_DIFFICULTIES,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The pretraining task of ``mini_vgg``: the 10 shapes plus ``glyph_classes`` invented characters.

    Classes 0..9 are :data:`~dlcourse.data.SHAPE_CLASSES` (:func:`~dlcourse.data.make_shapes`),
    classes 10.. the characters of alphabet 0 (:func:`~dlcourse.data.make_glyphs`), all with
    the same nuisances; the images are split evenly over ``difficulties`` (several levels
    of clutter), the shapes and glyphs in proportion to their numbers of classes, then
    shuffled.  Digits are *not* in it: :func:`~dlcourse.data.load_cluttered_digits` is a
    different task.

    Args:
        n: number of images, >= the number of difficulties.
        glyph_classes: characters of alphabet 0, >= 2.
        difficulties: a non-empty sequence of values in [0, 1].
        seed: seed of everything.

    Returns:
        ``(X, y)``: float32 images in [0, 1], (n, 3, 32, 32), and int64 labels in
        0 .. 9 + glyph_classes.

    Raises:
        ValueError: naming the argument that is out of range.
    """
    n = check_integer(n, "n", minimum=1)
    glyph_classes = check_integer(glyph_classes, "glyph_classes", minimum=2)
    seed = check_integer(seed, "seed", minimum=0)
    difficulties = [check_real_in_range(v, "difficulties", 0.0, 1.0) for v in difficulties]
    if not difficulties or n < len(difficulties):
        raise ValueError(f"difficulties must be non-empty with at most n={n} values, got {difficulties!r}")
    num_shapes = len(SHAPE_CLASSES)
    Xs, ys = [], []
    for j, d in enumerate(difficulties):
        m = n // len(difficulties) + (j < n % len(difficulties))
        m_shapes = round(m * num_shapes / (num_shapes + glyph_classes))
        if m_shapes:
            X, y = make_shapes(m_shapes, num_classes=num_shapes, difficulty=d, seed=derived_seed(seed, j, 0))
            Xs.append(X), ys.append(y)
        if m - m_shapes:
            X, y = make_glyphs(m - m_shapes, num_classes=glyph_classes, difficulty=d, alphabet=0,
                               seed=derived_seed(seed, j, 1))
            Xs.append(X), ys.append(y + num_shapes)
    order = np.random.default_rng([seed, 2]).permutation(n)
    return np.concatenate(Xs)[order], np.concatenate(ys)[order]


def derived_seed(seed: int, *keys: int) -> int:
    """A reproducible non-negative integer seed from ``seed`` and ``keys`` (independent streams)."""
    return int(np.random.default_rng([seed, *keys]).integers(2**31))
