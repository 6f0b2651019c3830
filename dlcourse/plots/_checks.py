"""Argument checks shared by the plotting modules (private)."""

from __future__ import annotations

import numpy as np


def check_limits(lim, name: str) -> tuple[float, float]:
    """``lim`` as a finite pair ``(low, high)`` with ``low < high``; a ValueError naming ``name`` otherwise."""
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers, got {lim!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi)) or not lo < hi:
        raise ValueError(f"{name} must be finite with low < high, got ({lo}, {hi})")
    return lo, hi
