"""Argument checks that only the numpy layers and the model share (the rest is :mod:`dlcourse.validation`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcourse.validation import Array, as_float_array, as_real_scalar

__all__ = ["check_dout", "check_training", "check_keep_prob"]


def check_dout(dout: Any, shape: tuple[int, ...]) -> Array:
    """Convert ``dout`` to float64 and check it is shaped like the forward output."""
    dout = as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of the forward output {shape}, got {dout.shape}")
    return dout


def check_training(training: Any) -> bool:
    """Return ``training`` as a bool if it is True or False (numpy's bools included), else raise ValueError."""
    if not isinstance(training, (bool, np.bool_)):
        raise ValueError(f"training must be True or False, got {training!r}")
    return bool(training)


def check_keep_prob(keep_prob: Any) -> float:
    """Return ``keep_prob`` as a float if it lies in (0, 1] (a dropout keep probability), else raise ValueError."""
    keep_prob = as_real_scalar(keep_prob, "keep_prob")
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must lie in (0, 1], got {keep_prob}")
    return keep_prob
