"""Image data split into train/validation/test, with per-channel normalization by training statistics.

The container (:class:`ImageSplits`) and the normalization shared by every image set
of the package (digits as images, shapes, glyphs, cluttered digits).  numpy only:
:meth:`ImageSplits.datasets` loads torch when it is called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dlcourse.validation import check_integer

__all__ = ["ImageSplits", "channel_stats", "normalize_images", "image_splits_from_parts", "generated_splits"]


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
        from dlcourse.data.torch_dataset import ImageDataset

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

    Raises:
        ValueError: naming ``X`` when it does not have 4 dimensions.

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

    Raises:
        ValueError: naming ``mean`` and ``std`` when their shapes do not match ``X``'s channels.

    PyTorch counterpart: ``torchvision.transforms.Normalize(mean, std)`` on each image.
    """
    X = np.asarray(X, dtype=np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    if X.ndim != 4 or mean.shape != (X.shape[1],) or std.shape != (X.shape[1],):
        raise ValueError(f"mean and std must have shape ({X.shape[1] if X.ndim == 4 else 'C'},) for X of shape {X.shape}")
    return (X - mean[:, None, None]) / std[:, None, None]


def image_splits_from_parts(parts: Sequence[tuple[np.ndarray, np.ndarray]], normalize: bool,
                            classes: Sequence[str]) -> ImageSplits:
    """An :class:`ImageSplits` from ``[(X_train, y_train), (X_val, y_val), (X_test, y_test)]``.

    With ``normalize`` every split is normalized with the training split's :func:`channel_stats`.
    """
    (X_train, y_train), (X_val, y_val), (X_test, y_test) = parts
    mean = std = None
    if normalize:
        mean, std = channel_stats(X_train)
        X_train, X_val, X_test = (normalize_images(p, mean, std) for p in (X_train, X_val, X_test))
    return ImageSplits(X_train.astype(np.float32), y_train, X_val.astype(np.float32), y_val,
                       X_test.astype(np.float32), y_test, mean, std, tuple(classes))


def generated_splits(make: Callable[..., tuple[np.ndarray, np.ndarray]], n_train: int, n_val: int, n_test: int,
                     normalize: bool, classes: Sequence[str], **kwargs) -> ImageSplits:
    """``make(n_train + n_val + n_test, **kwargs)`` cut into train/val/test, in that order.

    Raises:
        ValueError: naming ``n_train``, ``n_val`` or ``n_test`` when it is not an integer >= 1.
    """
    n_train, n_val, n_test = (check_integer(v, name, minimum=1) for v, name in
                              [(n_train, "n_train"), (n_val, "n_val"), (n_test, "n_test")])
    X, y = make(n_train + n_val + n_test, **kwargs)
    a, b = n_train, n_train + n_val
    parts = [(X[:a], y[:a]), (X[a:b], y[a:b]), (X[b:], y[b:])]
    return image_splits_from_parts(parts, normalize, classes)
