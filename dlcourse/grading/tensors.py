"""Tensors for tests and probes: float64 copies of arrays, and plain float64 arrays of results.

Importable wherever grading code runs (the grading kernel, the trusted grader, the probe runner's
setup code): it needs numpy only, and imports torch when a tensor is first made, so importing it
loads neither torch nor the course's reference packages.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

__all__ = ["float64_array", "float64_tensor"]


def float64_tensor(a: Any, *, requires_grad: bool = False):
    """A float64 ``torch`` tensor (a copy, on the CPU) of an array, a number or nested lists.

    Convert it afterwards for another precision (``float64_tensor(x).float()``) or device.
    """
    import torch

    return torch.tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def float64_array(t: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor (any device, detached) or of an array-like; never a view."""
    torch = sys.modules.get("torch")  # no tensor exists before torch is imported
    if torch is not None and torch.is_tensor(t):
        return t.detach().cpu().double().numpy().copy()
    return np.array(t, dtype=np.float64)
