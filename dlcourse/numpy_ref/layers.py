"""Layers as forward/backward function pairs, in float64 numpy.

Every layer is a pair of functions:

* ``<layer>_forward(inputs...) -> (out, cache)`` computes the output and
  returns a ``cache`` holding whatever the backward pass needs: a
  ``NamedTuple`` per layer (:class:`AffineCache`, :class:`ReLUCache`, ...,
  :class:`~dlcourse.numpy_ref.batchnorm.BatchNormCache`,
  :class:`~dlcourse.numpy_ref.dropout.DropoutCache`), read by field name, and
  still a tuple that unpacks in field order;
* ``<layer>_backward(dout, cache)`` takes the upstream gradient
  ``dout = dL/dout`` (shaped like ``out``) and returns the gradient(s) of the
  loss with respect to the forward inputs, by the chain rule.

This module holds the affine and activation layers and re-exports batch norm
(:mod:`dlcourse.numpy_ref.batchnorm`) and inverted dropout
(:mod:`dlcourse.numpy_ref.dropout`), so every layer imports from here.

The activation layers reuse :mod:`dlcourse.numpy_ref.functional` for their
math, so there is one source of truth for every formula.  Gradients match
torch's autograd, including the choice of derivative at kinks (see the
``*_grad`` functions there).

Inputs are never modified, with one documented exception: batch norm's
``running_mean`` and ``running_var`` are updated in place in training mode,
like the buffers of ``torch.nn.BatchNorm1d``.  The caches keep references to the inputs (not
copies), so do not modify an input between a forward and its backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import numpy as np

from dlcourse.validation import Array, as_float_array

from . import functional as F
from ._checks import check_dout
from .batchnorm import BatchNormCache, batchnorm_backward, batchnorm_backward_staged, batchnorm_forward
from .dropout import DropoutCache, dropout_backward, dropout_forward

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "sigmoid_forward",
    "sigmoid_backward",
    "tanh_forward",
    "tanh_backward",
    "leaky_relu_forward",
    "leaky_relu_backward",
    "elu_forward",
    "elu_backward",
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_backward_staged",
    "dropout_forward",
    "dropout_backward",
    "AffineCache",
    "ReLUCache",
    "SigmoidCache",
    "TanhCache",
    "LeakyReLUCache",
    "ELUCache",
    "BatchNormCache",
    "DropoutCache",
]


# ---------------------------------------------------------------------------
# Affine (fully connected) layer
# ---------------------------------------------------------------------------


class AffineCache(NamedTuple):
    """What :func:`affine_forward` keeps: its inputs x (N, D_in), w (D_in, D_out) and b (D_out,)."""

    x: Array
    w: Array
    b: Array


def affine_forward(x: Array, w: Array, b: Array) -> tuple[Array, AffineCache]:
    """Affine (fully connected, linear) layer.

    Math:
        out = x @ w + b: sample n, output unit j gets
        out[n, j] = sum_i x[n, i] * w[i, j] + b[j].

    Args:
        x: a batch of inputs, one row per sample.
        w: weights.
        b: biases.

    Returns:
        ``(out, cache)`` with ``cache = AffineCache(x, w, b)``.

    Shape:
        x: (N, D_in); w: (D_in, D_out); b: (D_out,); out: (N, D_out).

    PyTorch counterpart: ``torch.nn.functional.linear(x, w.T, b)``; note that
    ``torch.nn.Linear`` stores its weight transposed, as (D_out, D_in).
    """
    x = as_float_array(x, "x")
    w = as_float_array(w, "w")
    b = as_float_array(b, "b")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D_in), got {x.shape}")
    if w.ndim != 2 or w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have shape (D_in, D_out) with D_in = {x.shape[1]}, got {w.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape (D_out,) = ({w.shape[1]},), got {b.shape}")
    out = x @ w + b
    return out, AffineCache(x, w, b)


def affine_backward(dout: Array, cache: AffineCache) -> tuple[Array, Array, Array]:
    """Backward pass of :func:`affine_forward`.

    Math:
        With out = x @ w + b and upstream gradient dout = dL/dout:
        dx = dout @ w.T,  dw = x.T @ dout,  db = sum of dout over the batch.

    Args:
        dout: upstream gradient dL/dout.
        cache: the :class:`AffineCache` returned by :func:`affine_forward`.

    Returns:
        ``(dx, dw, db)``, shaped like ``x``, ``w`` and ``b``.

    Shape:
        dout: (N, D_out); dx: (N, D_in); dw: (D_in, D_out); db: (D_out,).

    PyTorch counterpart: the gradients autograd gives for
    ``torch.nn.functional.linear``.
    """
    x, w = cache.x, cache.w
    dout = check_dout(dout, (x.shape[0], w.shape[1]))
    return dout @ w.T, x.T @ dout, np.sum(dout, axis=0)


# ---------------------------------------------------------------------------
# Activation layers: out = f(x) elementwise, so dx = dout * f'(x).
# Every forward takes x of any shape and returns (out, cache) with out shaped
# like x; every backward returns dx shaped like x.  The formulas and torch's
# choice of derivative at the kinks are documented once, in
# dlcourse.numpy_ref.functional (f = functional.<name>, f' = <name>_grad).
# ---------------------------------------------------------------------------


_Cache = TypeVar("_Cache", bound=tuple)


def _forward(f: Callable[..., Array], cache_type: Callable[..., _Cache], x: Any,
             *params: float) -> tuple[Array, _Cache]:
    """out = f(x, *params) and the cache ``cache_type(x, *params)``: every activation forward."""
    x = as_float_array(x, "x")
    return f(x, *params), cache_type(x, *params)


def _backward(f_grad: Callable[..., Array], dout: Any, cache: Any) -> Array:
    """dx = dout * f'(x, ...): every activation backward.

    The cache's fields are passed to ``f_grad`` by name (x, and negative_slope or alpha).
    """
    return check_dout(dout, cache.x.shape) * f_grad(**cache._asdict())


class ReLUCache(NamedTuple):
    """What :func:`relu_forward` keeps: its input x."""

    x: Array


class SigmoidCache(NamedTuple):
    """What :func:`sigmoid_forward` keeps: its input x."""

    x: Array


class TanhCache(NamedTuple):
    """What :func:`tanh_forward` keeps: its input x."""

    x: Array


class LeakyReLUCache(NamedTuple):
    """What :func:`leaky_relu_forward` keeps: its input x and the slope used for x <= 0."""

    x: Array
    negative_slope: float


class ELUCache(NamedTuple):
    """What :func:`elu_forward` keeps: its input x and the ELU's alpha."""

    x: Array
    alpha: float


def relu_forward(x: Array) -> tuple[Array, ReLUCache]:
    """ReLU layer, out = max(0, x); returns ``(out, ReLUCache(x))``.

    PyTorch counterpart: ``torch.relu(x)``.
    """
    return _forward(F.relu, ReLUCache, x)


def relu_backward(dout: Array, cache: ReLUCache) -> Array:
    """Backward of :func:`relu_forward`: dx = dout * 1[x > 0] (blocked at x = 0, like torch)."""
    return _backward(F.relu_grad, dout, cache)


def sigmoid_forward(x: Array) -> tuple[Array, SigmoidCache]:
    """Sigmoid layer, out = 1 / (1 + exp(-x)); returns ``(out, SigmoidCache(x))``.

    PyTorch counterpart: ``torch.sigmoid(x)``.
    """
    return _forward(F.sigmoid, SigmoidCache, x)


def sigmoid_backward(dout: Array, cache: SigmoidCache) -> Array:
    """Backward of :func:`sigmoid_forward`: dx = dout * s * (1 - s) with s = sigmoid(x)."""
    return _backward(F.sigmoid_grad, dout, cache)


def tanh_forward(x: Array) -> tuple[Array, TanhCache]:
    """Tanh layer, out = tanh(x); returns ``(out, TanhCache(x))``.

    PyTorch counterpart: ``torch.tanh(x)``.
    """
    return _forward(F.tanh, TanhCache, x)


def tanh_backward(dout: Array, cache: TanhCache) -> Array:
    """Backward of :func:`tanh_forward`: dx = dout * (1 - tanh(x)**2)."""
    return _backward(F.tanh_grad, dout, cache)


def leaky_relu_forward(x: Array, negative_slope: float = 0.01) -> tuple[Array, LeakyReLUCache]:
    """Leaky ReLU layer, out = x if x > 0 else negative_slope * x; returns ``(out, LeakyReLUCache(x, negative_slope))``.

    PyTorch counterpart: ``torch.nn.functional.leaky_relu(x, negative_slope)``.
    """
    return _forward(F.leaky_relu, LeakyReLUCache, x, negative_slope)  # F.leaky_relu validates negative_slope


def leaky_relu_backward(dout: Array, cache: LeakyReLUCache) -> Array:
    """Backward of :func:`leaky_relu_forward`: dx = dout * (1 if x > 0 else negative_slope), negative_slope at 0."""
    return _backward(F.leaky_relu_grad, dout, cache)


def elu_forward(x: Array, alpha: float = 1.0) -> tuple[Array, ELUCache]:
    """ELU layer, out = x if x > 0 else alpha * (exp(x) - 1); returns ``(out, ELUCache(x, alpha))``.

    PyTorch counterpart: ``torch.nn.functional.elu(x, alpha)``.
    """
    return _forward(F.elu, ELUCache, x, alpha)  # F.elu validates alpha


def elu_backward(dout: Array, cache: ELUCache) -> Array:
    """Backward of :func:`elu_forward`: dx = dout * (1 if x > 0 else alpha * exp(x)), alpha at 0 (like torch)."""
    return _backward(F.elu_grad, dout, cache)
