"""The lectures' data augmentations for (C, H, W) float tensors (imports torch and torchvision)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from dlcourse.validation import check_integer, check_nonnegative, check_real_in_range

__all__ = ["GaussianNoise", "RandomPadCrop", "augmentation"]


class GaussianNoise:
    """Add N(0, std²) noise to an image tensor (a regularizing augmentation).

    Args:
        std: noise standard deviation, >= 0.
        generator: optional ``torch.Generator`` (default: torch's global generator).

    Raises:
        ValueError: naming ``std`` when it is negative or not a finite number.

    Shape:
        (C, H, W) or (N, C, H, W) -> same.

    PyTorch counterpart: ``torchvision.transforms.v2.GaussianNoise`` (which clips to [0, 1]; this does not).
    """

    def __init__(self, std: float = 0.1, generator: torch.Generator | None = None) -> None:
        self.std = check_nonnegative(std, "std")
        self.generator = generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.std * torch.randn(x.shape, generator=self.generator, dtype=x.dtype, device=x.device)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std})"


class RandomPadCrop:
    """Zero-pad by ``padding`` pixels and crop back to ``size`` (default: the input's size) at a random offset.

    The offset is drawn from torch's global generator.

    PyTorch counterpart: ``torchvision.transforms.v2.RandomCrop(size, padding=padding)``.
    """

    def __init__(self, padding: int, size: int | None) -> None:
        self.padding, self.size = padding, size

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        ch, cw = (self.size, self.size) if self.size else (h, w)
        padded = F.pad(x, (self.padding,) * 4)
        top = int(torch.randint(0, padded.shape[-2] - ch + 1, ()))
        left = int(torch.randint(0, padded.shape[-1] - cw + 1, ()))
        return padded[..., top:top + ch, left:left + cw]

    def __repr__(self) -> str:
        return f"RandomCrop(padding={self.padding})"


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
        rotation: maximal rotation in degrees, in [0, 180] (0: none).
        crop_padding: padding before the random crop, >= 0 (0: none).
        noise_std: standard deviation of the added noise, >= 0 (0: none).
        size: crop size (default: the input's size, needed only when padding).

    Returns:
        A ``torchvision.transforms.v2.Compose`` (the identity when nothing is chosen).

    Raises:
        ValueError: naming the argument that is out of range.

    PyTorch counterpart: ``torchvision.transforms.v2`` ``RandomHorizontalFlip``,
    ``RandomRotation``, ``RandomCrop(padding=...)``, ``GaussianNoise``.
    """
    rotation = check_real_in_range(rotation, "rotation", 0.0, 180.0)
    crop_padding = check_integer(crop_padding, "crop_padding", minimum=0)
    noise_std = check_nonnegative(noise_std, "noise_std")
    steps = []
    if flip:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if rotation > 0:
        steps.append(v2.RandomRotation(degrees=rotation))
    if crop_padding > 0:
        steps.append(RandomPadCrop(crop_padding, size))
    if noise_std > 0:
        steps.append(GaussianNoise(noise_std))
    return v2.Compose(steps) if steps else v2.Identity()
