"""Loss functions with their gradients, in float64 numpy.

Each function returns a pair ``(loss, grad)``:

* ``loss`` is a Python float, averaged ("mean reduction", torch's default);
* ``grad`` is d loss / d (first argument), an array shaped like that argument.

The elementwise losses (all but :func:`cross_entropy`) take two arrays of the
same shape, any non-empty shape.

Because of the mean, every gradient carries a factor 1/N, where N is the
number of averaged terms (all elements for the elementwise losses, the batch
size for :func:`cross_entropy`).  The values match the torch function named in
each docstring, in float64, including torch's clamping in
:func:`binary_cross_entropy`.

Inputs are never modified.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.validation import Array, as_float_array

from ._checks import check_class_labels
from .functional import log_softmax, sigmoid, softmax

__all__ = [
    "mse_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "soft_margin_loss",
    "cross_entropy",
]

# torch.nn.functional.binary_cross_entropy clamps each log term to >= -100 so
# that a probability of exactly 0 or 1 gives a finite loss ...
_BCE_LOG_CLAMP = -100.0
# ... and floors the denominator p * (1 - p) of its gradient at 1e-12.  torch
# stores that constant as a C++ float, so its exact value is float32(1e-12)
# = 9.99999996e-13; we use the same number so that the gradients agree exactly.
_BCE_GRAD_EPS = float(np.float32(1e-12))


def _check_pair(first: Any, second: Any, first_name: str, second_name: str) -> tuple[Array, Array]:
    """Convert both arguments to float64 and check they have the same, non-empty shape."""
    first = as_float_array(first, first_name)
    second = as_float_array(second, second_name)
    if second.shape != first.shape:
        raise ValueError(
            f"{second_name} must have the same shape as {first_name}: "
            f"got {second_name}.shape={second.shape}, {first_name}.shape={first.shape}"
        )
    if first.size == 0:
        raise ValueError(f"{first_name} must not be empty (the mean of zero terms is undefined)")
    return first, second


def _check_values_in(arr: Array, allowed: tuple[float, ...], name: str) -> None:
    """Raise ValueError naming ``name`` unless every element of ``arr`` is in ``allowed``."""
    ok = np.isin(arr, allowed)
    if not ok.all():
        bad = arr[~ok].flat[0]
        raise ValueError(f"{name} must only contain the values {allowed}, found {float(bad)!r}")


# ---------------------------------------------------------------------------
# Squared error
# ---------------------------------------------------------------------------


def mse_loss(pred: Array, target: Array) -> tuple[float, Array]:
    """Mean squared error.

    Math:
        L = (1/N) * sum_i (pred_i - target_i)**2 over all N elements;
        dL/dpred = 2 * (pred - target) / N.

    Args:
        pred: predictions.
        target: desired values, same shape as ``pred``.

    Returns:
        ``(loss, dpred)``.

    PyTorch counterpart: ``torch.nn.functional.mse_loss(pred, target)``.
    """
    pred, target = _check_pair(pred, target, "pred", "target")
    diff = pred - target
    n = diff.size
    return float(np.sum(diff * diff) / n), 2.0 * diff / n


# ---------------------------------------------------------------------------
# Binary classification: targets in {0, 1}
# ---------------------------------------------------------------------------


def binary_cross_entropy(prob: Array, target: Array) -> tuple[float, Array]:
    """Binary cross-entropy on probabilities ("logistic loss, 0/1 labels").

    Math:
        L = -(1/N) * sum_i [ t_i * log(p_i) + (1 - t_i) * log(1 - p_i) ]
        with p = ``prob`` (e.g. a sigmoid output) and t = ``target``.
        dL/dp = (p - t) / (p * (1 - p)) / N.

        Like torch, each log term is clamped to >= -100 and the denominator
        p * (1 - p) is floored at 1e-12 (float32's 1e-12, as in torch), so that p exactly 0 or 1 gives a
        finite loss (at most 100 per element) and a finite gradient.  When
        you have the scores before the sigmoid, prefer
        :func:`binary_cross_entropy_with_logits`: it needs no clamping.

    Args:
        prob: predicted probabilities of class 1, in [0, 1].
        target: labels, each exactly 0 or 1, same shape as ``prob``.

    Returns:
        ``(loss, dprob)``.

    Raises:
        ValueError: if ``prob`` leaves [0, 1], ``target`` is not 0/1, or the
            shapes differ.

    PyTorch counterpart: ``torch.nn.functional.binary_cross_entropy(prob, target)``.
    """
    prob, target = _check_pair(prob, target, "prob", "target")
    if not np.all((prob >= 0.0) & (prob <= 1.0)):
        raise ValueError("prob must contain probabilities in [0, 1]")
    _check_values_in(target, (0.0, 1.0), "target")

    with np.errstate(divide="ignore"):  # log(0) = -inf, clamped just below
        log_p = np.maximum(np.log(prob), _BCE_LOG_CLAMP)
        log_1mp = np.maximum(np.log1p(-prob), _BCE_LOG_CLAMP)
    n = prob.size
    loss = -np.sum(target * log_p + (1.0 - target) * log_1mp) / n
    grad = (prob - target) / np.maximum(prob * (1.0 - prob), _BCE_GRAD_EPS) / n
    return float(loss), grad


def binary_cross_entropy_with_logits(logits: Array, target: Array) -> tuple[float, Array]:
    """Binary cross-entropy on raw scores: sigmoid and BCE fused, stable.

    Math:
        With p = sigmoid(x), x = ``logits`` and t = ``target``:
        L = (1/N) * sum_i [ max(x_i, 0) - x_i * t_i + log(1 + exp(-|x_i|)) ],
        which equals the BCE of p but never overflows; dL/dx = (p - t) / N.

    Args:
        logits: real-valued scores (the input of the sigmoid).
        target: labels, each exactly 0 or 1, same shape as ``logits``.

    Returns:
        ``(loss, dlogits)``.

    PyTorch counterpart: ``torch.nn.functional.binary_cross_entropy_with_logits(logits, target)``.
    """
    logits, target = _check_pair(logits, target, "logits", "target")
    _check_values_in(target, (0.0, 1.0), "target")
    n = logits.size
    per_element = np.maximum(logits, 0.0) - logits * target + np.log1p(np.exp(-np.abs(logits)))
    return float(np.sum(per_element) / n), (sigmoid(logits) - target) / n


# ---------------------------------------------------------------------------
# Binary classification: targets in {-1, +1}
# ---------------------------------------------------------------------------


def soft_margin_loss(score: Array, target: Array) -> tuple[float, Array]:
    """Soft-margin loss ("logistic loss, ±1 labels").

    Math:
        L = (1/N) * sum_i log(1 + exp(-y_i * s_i)) with s = ``score`` and
        y = ``target``; dL/ds = -y * sigmoid(-y * s) / N.
        log(1 + exp(z)) is evaluated as max(z, 0) + log(1 + exp(-|z|)), so
        even |s| = 1000 gives a finite loss (torch's own formula overflows to
        inf for y * s < -710).

    Args:
        score: real-valued scores.
        target: labels, each exactly -1 or +1, same shape as ``score``.

    Returns:
        ``(loss, dscore)``.

    PyTorch counterpart: ``torch.nn.functional.soft_margin_loss(score, target)``.
    """
    score, target = _check_pair(score, target, "score", "target")
    _check_values_in(target, (-1.0, 1.0), "target")
    n = score.size
    z = -target * score
    per_element = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    return float(np.sum(per_element) / n), -target * sigmoid(z) / n


# ---------------------------------------------------------------------------
# Multi-class: softmax + negative log-likelihood
# ---------------------------------------------------------------------------


def cross_entropy(logits: Array, labels: npt.NDArray[np.integer]) -> tuple[float, Array]:
    """Softmax cross-entropy for integer class labels.

    Math:
        With o = softmax(logits) row-wise and y the one-hot encoding of
        ``labels``: L = -(1/N) * sum_n log o[n, labels[n]], and the famous
        gradient dL/dlogits = (o - y) / N.

    Args:
        logits: unnormalised class scores, one row per sample.
        labels: integer class indices in [0, C).

    Returns:
        ``(loss, dlogits)``.

    Raises:
        ValueError: if ``logits`` is not 2-d, ``labels`` is not an integer
            vector of length N, or a label is out of range.

    Shape:
        logits: (N, C); labels: (N,); dlogits: (N, C).

    PyTorch counterpart: ``torch.nn.functional.cross_entropy(logits, labels)``.
    """
    logits = as_float_array(logits, "logits")
    labels = check_class_labels(labels, logits.shape)
    n = logits.shape[0]

    rows = np.arange(n)
    loss = -np.mean(log_softmax(logits, axis=1)[rows, labels])
    grad = softmax(logits, axis=1)
    grad[rows, labels] -= 1.0  # o - y, with y one-hot
    return float(loss), grad / n
