"""A ``torch.utils.data.Dataset`` over image arrays (the torch side of the image sets; imports torch)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.utils.data

__all__ = ["ImageDataset"]


class ImageDataset(torch.utils.data.Dataset):
    """A ``torch.utils.data.Dataset`` over image arrays, with an optional transform.

    ``dataset[i]`` is ``(transform(image), label)`` with ``image`` a float32 tensor
    of shape (C, H, W) and ``label`` a 0-d int64 tensor.  A torch ``Dataset`` in every
    respect (``DataLoader``, ``random_split``, ``ConcatDataset``).

    Args:
        X: images, (N, C, H, W) (numpy array or tensor).
        y: integer labels, (N,).
        transform: a callable on one (C, H, W) tensor, e.g. :func:`~dlcourse.data.augmentation`'s result.

    Raises:
        ValueError: naming ``X`` or ``y`` when their shapes are wrong.

    PyTorch counterpart: ``torch.utils.data.TensorDataset(X, y)`` plus a transform.
    """

    def __init__(self, X, y, transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
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
