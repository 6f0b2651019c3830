"""Activation functions and their derivatives, in float64 numpy.

Every function here is elementwise — any input shape, including 0-d scalars,
and an output of the same shape — except :func:`softmax` and
:func:`log_softmax`, which normalise along one axis (same shape too).
Each activation ``<name>`` has a companion ``<name>_grad`` that returns the
derivative ``dy/dx`` elementwise, so that a backward pass is simply
``dx = dout * <name>_grad(x)``.

All functions are numerically stable: inputs of magnitude 1000 and more give
finite results without overflow warnings.  Where torch has a counterpart the
values match torch in float64, including the derivative chosen at a kink
(for example ``relu_grad(0) == 0``, like ``torch.relu``'s autograd).

Inputs are never modified; outputs are new float64 arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlcourse.validation import Array, as_float_array, as_real_scalar, check_axis

__all__ = [
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "elu",
    "elu_grad",
    "softmax",
    "log_softmax",
]


def _array_and_scalar(x: Any, value: Any, name: str) -> tuple[Array, float]:
    """``x`` as a float64 array and the activation's parameter ``value`` as a finite float named ``name``."""
    return as_float_array(x, "x"), as_real_scalar(value, name)


def _shift_by_max(x: Any, axis: Any, function: str) -> tuple[Array, int]:
    """``x - max(x, axis)`` (every exponent <= 0) and the checked axis, for softmax and log_softmax."""
    x = as_float_array(x, "x")
    if x.ndim == 0:
        raise ValueError(f"x must have at least one dimension for {function}")
    axis = check_axis(axis, x.ndim)
    return x - np.max(x, axis=axis, keepdims=True), axis


# ---------------------------------------------------------------------------
# Sigmoid
# ---------------------------------------------------------------------------


def sigmoid(x: Array) -> Array:
    """Logistic sigmoid, stable for large inputs of either sign.

    Math:
        sigmoid(x) = 1 / (1 + exp(-x)).  The naive formula overflows in
        ``exp(-x)`` for x << 0, so we use z = exp(-|x|) (always <= 1):
        sigmoid(x) = 1 / (1 + z) for x >= 0 and z / (1 + z) for x < 0.

    Args:
        x: array-like of real numbers.

    Returns:
        float64 array with values in [0, 1].

    PyTorch counterpart: ``torch.sigmoid(x)``.
    """
    x = as_float_array(x, "x")
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x: Array) -> Array:
    """Derivative of :func:`sigmoid`.

    Math:
        d sigmoid(x) / dx = s * (1 - s) with s = sigmoid(x); its maximum is
        0.25 at x = 0 (the root of the vanishing-gradient problem).

    Args:
        x: array-like of real numbers (the *input* of the sigmoid).

    Returns:
        float64 array of derivatives in [0, 0.25].

    PyTorch counterpart: the gradient ``torch.sigmoid`` gives under autograd.
    """
    s = sigmoid(x)
    return s * (1.0 - s)


# ---------------------------------------------------------------------------
# Tanh
# ---------------------------------------------------------------------------


def tanh(x: Array) -> Array:
    """Hyperbolic tangent.

    Math:
        tanh(x) = (exp(x) - exp(-x)) / (exp(x) + exp(-x)) = 2 sigmoid(2x) - 1.
        ``np.tanh`` is already stable for large |x|.

    Args:
        x: array-like of real numbers.

    Returns:
        float64 array with values in [-1, 1].

    PyTorch counterpart: ``torch.tanh(x)``.
    """
    return np.tanh(as_float_array(x, "x"))


def tanh_grad(x: Array) -> Array:
    """Derivative of :func:`tanh`.

    Math:
        d tanh(x) / dx = 1 - tanh(x)**2, with values in (0, 1].

    Args:
        x: array-like of real numbers (the *input* of tanh).

    Returns:
        float64 array of derivatives.

    PyTorch counterpart: the gradient ``torch.tanh`` gives under autograd.
    """
    t = tanh(x)
    return 1.0 - t * t


# ---------------------------------------------------------------------------
# ReLU and leaky ReLU
# ---------------------------------------------------------------------------


def relu(x: Array) -> Array:
    """Rectified linear unit.

    Math:
        relu(x) = max(0, x).

    Args:
        x: array-like of real numbers.

    Returns:
        float64 array.

    PyTorch counterpart: ``torch.relu(x)``.
    """
    return np.maximum(as_float_array(x, "x"), 0.0)


def relu_grad(x: Array) -> Array:
    """Derivative of :func:`relu`.

    Math:
        1 where x > 0, else 0.  At the kink x = 0 the derivative is taken as
        0, the convention of torch's autograd.

    Args:
        x: array-like of real numbers (the *input* of the ReLU).

    Returns:
        float64 array of 0s and 1s.

    PyTorch counterpart: the gradient ``torch.relu`` gives under autograd.
    """
    x = as_float_array(x, "x")
    return (x > 0).astype(np.float64)


def leaky_relu(x: Array, negative_slope: float = 0.01) -> Array:
    """Leaky ReLU: a small slope instead of zero for negative inputs.

    Math:
        leaky_relu(x) = x if x > 0 else negative_slope * x.

    Args:
        x: array-like of real numbers.
        negative_slope: slope used for x <= 0 (often written alpha; Maas et al., 2013).

    Returns:
        float64 array.

    PyTorch counterpart: ``torch.nn.functional.leaky_relu(x, negative_slope)``.
    """
    x, negative_slope = _array_and_scalar(x, negative_slope, "negative_slope")
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: Array, negative_slope: float = 0.01) -> Array:
    """Derivative of :func:`leaky_relu`.

    Math:
        1 where x > 0, else negative_slope.  At the kink x = 0 the derivative
        is negative_slope, the convention of torch's autograd.

    Args:
        x: array-like of real numbers (the *input* of the leaky ReLU).
        negative_slope: slope used for x <= 0.

    Returns:
        float64 array.

    PyTorch counterpart: the gradient ``torch.nn.functional.leaky_relu`` gives
    under autograd.
    """
    x, negative_slope = _array_and_scalar(x, negative_slope, "negative_slope")
    return np.where(x > 0, 1.0, negative_slope)


# ---------------------------------------------------------------------------
# ELU
# ---------------------------------------------------------------------------


def elu(x: Array, alpha: float = 1.0) -> Array:
    """Exponential linear unit.

    Math:
        elu(x) = x if x > 0 else alpha * (exp(x) - 1).
        ``expm1`` computes exp(x) - 1 accurately near 0, and the exponential
        is only ever evaluated at min(x, 0), so it cannot overflow.

    Args:
        x: array-like of real numbers.
        alpha: saturation value for x -> -inf is -alpha.

    Returns:
        float64 array.

    PyTorch counterpart: ``torch.nn.functional.elu(x, alpha)``.
    """
    x, alpha = _array_and_scalar(x, alpha, "alpha")
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_grad(x: Array, alpha: float = 1.0) -> Array:
    """Derivative of :func:`elu`.

    Math:
        1 where x > 0, else alpha * exp(x).  At x = 0 the derivative is
        alpha (the left-hand limit), the convention of torch's autograd.

    Args:
        x: array-like of real numbers (the *input* of the ELU).
        alpha: the ELU's alpha.

    Returns:
        float64 array.

    PyTorch counterpart: the gradient ``torch.nn.functional.elu`` gives under
    autograd.
    """
    x, alpha = _array_and_scalar(x, alpha, "alpha")
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


# ---------------------------------------------------------------------------
# Softmax
# ---------------------------------------------------------------------------


def softmax(x: Array, axis: int = -1) -> Array:
    """Softmax along one axis, stable for huge logits.

    Math:
        softmax(x)_i = exp(x_i) / sum_j exp(x_j), the sum running along
        ``axis``.  Subtracting m = max_j x_j first changes nothing
        mathematically (the factor exp(-m) cancels) but keeps every
        exponent <= 0, so nothing overflows.

    Args:
        x: array-like of real numbers (logits), at least 1-d.
        axis: the axis to normalise over; the default is the last one.

    Returns:
        float64 array of probabilities; each slice along ``axis`` sums to 1.

    Shape:
        x: any shape with ndim >= 1, e.g. (N, C) for a batch of scores;
        output: same shape as x.

    PyTorch counterpart: ``torch.softmax(x, dim=axis)``.
    """
    shifted, axis = _shift_by_max(x, axis, "softmax")
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=axis, keepdims=True)


def log_softmax(x: Array, axis: int = -1) -> Array:
    """Logarithm of :func:`softmax`, computed without taking log of a tiny number.

    Math:
        log_softmax(x)_i = x_i - m - log(sum_j exp(x_j - m)) with
        m = max_j x_j along ``axis`` (the "log-sum-exp trick").  Computing
        ``np.log(softmax(x))`` instead would give -inf when a probability
        underflows to 0.

    Args:
        x: array-like of real numbers (logits), at least 1-d.
        axis: the axis to normalise over; the default is the last one.

    Returns:
        float64 array of log-probabilities (all <= 0).

    Shape:
        x: any shape with ndim >= 1; output: same shape as x.

    PyTorch counterpart: ``torch.log_softmax(x, dim=axis)``.
    """
    shifted, axis = _shift_by_max(x, axis, "log_softmax")
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
