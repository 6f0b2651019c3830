"""Device selection and seeding for device-agnostic PyTorch code."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["get_device", "seed_everything", "seed_worker", "worker_init_fn", "make_generator"]


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
        deterministic: also ask cuDNN and torch for deterministic algorithms (slower on GPU):
            ``cudnn.deterministic = True``, ``cudnn.benchmark = False``,
            ``torch.use_deterministic_algorithms(True)`` and the cuBLAS workspace setting.
            Left as they are when False.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.

    PyTorch counterpart: ``torch.manual_seed`` (torch only, every device).
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


def seed_worker(worker_id: int) -> None:
    """A ``DataLoader`` ``worker_init_fn`` that seeds numpy and ``random`` in each worker.

    Torch seeds each worker's torch generator with ``base_seed + worker_id``, where
    ``base_seed`` is drawn from the loader's ``generator``; numpy and Python's ``random``
    are *not* reseeded, so augmentations that use them repeat across workers (or vary
    from run to run).  This function derives their seeds from the worker's torch seed.

    Use it together with a seeded generator, which also fixes the shuffling order::

        DataLoader(ds, shuffle=True, num_workers=2,
                   worker_init_fn=seed_worker, generator=make_generator(0))

    Args:
        worker_id: the worker's index (passed by the ``DataLoader``; unused).

    PyTorch counterpart: the recipe in PyTorch's "Reproducibility" notes.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)


worker_init_fn = seed_worker  # the name DataLoader's argument uses


def make_generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A ``torch.Generator`` seeded with ``seed``, for ``DataLoader(generator=...)``,
    ``torch.randn(..., generator=...)`` and ``random_split``.

    Raises:
        ValueError: if ``seed`` is not a non-negative integer.
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g
