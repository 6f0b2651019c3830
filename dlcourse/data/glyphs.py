"""Handwriting-like characters of invented alphabets, drawn with the nuisances of the shapes.

Imports numpy only; drawing the strokes (:func:`stroke_coverage`) uses torch when it is
called, so importing this module does not load torch.  The images are bit-identical for
the same arguments: ``mini_vgg``'s shipped weights were trained on alphabet 0.
"""

from __future__ import annotations

import numpy as np

from dlcourse.data.image_splits import ImageSplits, generated_splits
from dlcourse.data.scene import add_clutter_and_noise, scene_colours
from dlcourse.validation import check_integer, check_real_in_range

__all__ = ["glyph_alphabet", "stroke_coverage", "make_glyphs", "make_glyphs_splits"]


def glyph_alphabet(num_classes: int = 30, *, alphabet: int = 0) -> list[list[np.ndarray]]:
    """The stroke templates of an invented alphabet: one list of pen strokes per character.

    Each character has 2 or 3 strokes; a stroke is a polyline (2 or 3 random vertices in
    [-0.8, 0.8]²) or, with probability 0.35, a circular arc (radius 0.25..0.6, 0.6π..1.6π,
    as 6 segments).  The same ``alphabet`` always gives the same characters, and the first
    characters do not depend on ``num_classes``; a different ``alphabet`` gives new ones.

    Args:
        num_classes: number of characters, >= 2.
        alphabet: seed of the characters, >= 0.

    Returns:
        ``num_classes`` lists of (k, 2) float arrays (polyline vertices, y up).
    """
    num_classes = check_integer(num_classes, "num_classes", minimum=2)
    alphabet = check_integer(alphabet, "alphabet", minimum=0)
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


def stroke_coverage(segments: list[np.ndarray], width: np.ndarray, size: int, batch: int = 256) -> np.ndarray:
    """Anti-aliased coverage of thick line segments, one image per list entry.

    A pixel's coverage is 1/2 + (width/2 - distance to the nearest segment) / pixel
    size, clipped to [0, 1].  Computed with torch (vectorized distances), ``batch``
    images at a time.

    Args:
        segments: ``segments[i]`` is (m, 4): rows (x0, y0, x1, y1) in image
            coordinates [-1, 1]² (y up).
        width: pen width of each image, (n,), in the same coordinates.
        size: image height and width in pixels.
        batch: images per vectorized chunk.

    Returns:
        float32 coverage in [0, 1], (n, size, size).
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
    """Handwriting-like characters of an invented alphabet, with the nuisances of :func:`~dlcourse.data.make_shapes`.

    Class ``c`` is character ``c`` of :func:`glyph_alphabet` (2-3 pen strokes).  Each
    image redraws it with wobbly strokes (each stroke's ends moved by N(0, (0.04 +
    0.08·difficulty)²), the shift blended linearly along the stroke), a random pen
    width (1.6 to 3.2 pixels at size 32, scaled with the character), and the
    nuisances of :func:`~dlcourse.data.make_shapes` at the same ``difficulty``:
    position, scale, rotation, colours and contrast, line segments, pixel noise.

    ``alphabet`` picks the characters: ``mini_vgg`` is pretrained on alphabet 0
    (:func:`~dlcourse.data.make_source_task`), so another alphabet gives *new classes
    from the same kind of data* (the "similar data" of transfer learning).

    Args:
        n: number of images, >= 1 (classes balanced, in random order).
        num_classes: characters used, >= 2.
        size: image height and width, >= 16.
        difficulty: in [0, 1].
        alphabet: seed of the characters, >= 0.
        seed: seed of the drawing (``np.random.default_rng``).

    Returns, Raises, Shape, PyTorch counterpart: as :func:`~dlcourse.data.make_shapes`.
    """
    n = check_integer(n, "n", minimum=1)
    num_classes = check_integer(num_classes, "num_classes", minimum=2)
    size = check_integer(size, "size", minimum=16)
    difficulty = check_real_in_range(difficulty, "difficulty", 0.0, 1.0)
    alphabet = check_integer(alphabet, "alphabet", minimum=0)
    seed = check_integer(seed, "seed", minimum=0)
    characters = glyph_alphabet(num_classes, alphabet=alphabet)
    rng = np.random.default_rng(seed)
    d = difficulty

    y = rng.permutation(np.arange(n) % num_classes).astype(np.int64)
    centre = rng.uniform(-1, 1, (n, 2)) * 0.4 * d
    scale = np.exp(rng.uniform(-1, 1, n) * 0.3 * d)  # relative to the template's size
    angle = np.deg2rad(rng.uniform(-1, 1, n) * 35.0 * d)
    width = rng.uniform(0.10, 0.20, n) * scale
    fg, bg = scene_colours(rng, n, d)
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
    alpha = stroke_coverage(segments, width, size)[:, None]
    X = (bg[:, :, None, None] * (1 - alpha) + fg[:, :, None, None] * alpha).astype(np.float32)
    return add_clutter_and_noise(X, rng, d), y


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

    Args:
        n_train, n_val, n_test: images per split, >= 1 each (drawn as one set of their sum, cut in order).
        num_classes, size, difficulty, alphabet, seed: as in :func:`make_glyphs`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`~dlcourse.data.ImageSplits` with classes "glyph0", "glyph1", ...
    """
    return generated_splits(make_glyphs, n_train, n_val, n_test, normalize,
                            [f"glyph{c}" for c in range(num_classes)], num_classes=num_classes, size=size,
                            difficulty=difficulty, alphabet=alphabet, seed=seed)
