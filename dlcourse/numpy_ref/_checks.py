"""Argument checks that only the numpy layers and the model share (the rest is :mod:`dlcourse.validation`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcourse.validation import Array, as_float_array, as_real_scalar

__all__ = ["check_dout", "check_training", "check_keep_prob", "check_class_labels"]


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


def check_class_labels(labels: Any, logits_shape: tuple[int, ...]) -> np.ndarray:
    """Check class scores of shape (N, C) and integer labels (N,) in [0, C); return the labels as an array.

    Raises:
        ValueError: naming ``logits`` or ``labels``.
    """
    if len(logits_shape) != 2 or logits_shape[0] == 0 or logits_shape[1] == 0:
        raise ValueError(f"logits must have shape (N, C) with N, C >= 1, got {tuple(logits_shape)}")
    n, num_classes = logits_shape
    labels = np.asarray(labels)
    if labels.dtype == bool or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    if labels.shape != (n,):
        raise ValueError(f"labels must have shape (N,) = ({n},), got {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(
            f"labels must lie in [0, {num_classes}) for {num_classes} classes, "
            f"got values from {labels.min()} to {labels.max()}"
        )
    return labels
