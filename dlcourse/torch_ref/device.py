"""Device selection and seeding for device-agnostic PyTorch code."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything"]


def get_device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU.

    Write ``device = get_device()`` once and move models and batches with ``.to(device)``;
    never hard-code ``"cuda"``.
    """
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int, *, deterministic: bool = False) -> None:
    """Seed Python's, numpy's and torch's generators (all devices).

    Args:
        seed: the seed, a non-negative integer.
        deterministic: also ask cuDNN and torch for deterministic algorithms (slower on GPU).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.use_deterministic_algorithms(True)
