"""The 8x8 digits as images for conv nets: upsampled, with colour channels.

Imports numpy only; :func:`load_digits_images` uses torch's interpolation when it is
called, so importing this module does not load torch.
"""

from __future__ import annotations

import numpy as np

from dlcourse.data.digits import DIGITS_NUM_CLASSES, load_digits
from dlcourse.data.image_splits import ImageSplits, image_splits_from_parts
from dlcourse.validation import check_integer

__all__ = ["load_digits_images"]


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

    The splits are those of :func:`~dlcourse.data.load_digits` (same fractions and seed
    give the same samples).  Pixels 0..16 are scaled to [0, 1], upsampled bilinearly to
    ``size`` x ``size`` (``torch.nn.functional.interpolate``, align_corners=False)
    and repeated over ``channels`` identical channels, so that networks built for
    RGB inputs (VGG) take them.  With ``normalize`` each channel is standardized
    with the training set's mean and std (:func:`~dlcourse.data.channel_stats`).

    Args:
        size: image height and width, >= 8.
        channels: 1 or 3.
        val_fraction, test_fraction, seed: as in :func:`~dlcourse.data.load_digits`.
        normalize: standardize per channel with training statistics.

    Returns:
        An :class:`~dlcourse.data.ImageSplits` with classes "0".."9".

    Raises:
        ValueError: naming the argument when ``size`` or ``channels`` is invalid, or as
            :func:`~dlcourse.data.load_digits`.

    Shape:
        X_*: (N, channels, size, size) float32; y_*: (N,) int64.

    PyTorch counterpart: none (wrap with :class:`~dlcourse.data.ImageDataset`).
    """
    size = check_integer(size, "size", minimum=8)
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
    return image_splits_from_parts(parts, normalize, [str(d) for d in range(DIGITS_NUM_CLASSES)])
