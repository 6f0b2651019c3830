"""Layers as forward/backward function pairs, in float64 numpy.

Every layer is a pair of functions:

* ``<layer>_forward(inputs...) -> (out, cache)`` computes the output and
  returns a ``cache`` holding whatever the backward pass needs;
* ``<layer>_backward(dout, cache)`` takes the upstream gradient
  ``dout = dL/dout`` (shaped like ``out``) and returns the gradient(s) of the
  loss with respect to the forward inputs, by the chain rule.

The activation layers reuse :mod:`dlcourse.numpy_ref.functional` for their
math, so there is one source of truth for every formula.  Gradients match
torch's autograd, including the choice of derivative at kinks (see the
``*_grad`` functions there).

Inputs are never modified; the caches keep references to the inputs (not
copies), so do not modify an input between a forward and its backward.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .functional import _as_float_array

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
]


def _check_dout(dout, shape: tuple[int, ...]) -> np.ndarray:
    """Convert ``dout`` to float64 and check it is shaped like the forward output."""
    dout = _as_float_array(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the shape of the forward output {shape}, got {dout.shape}")
    return dout


# ---------------------------------------------------------------------------
# Affine (fully connected) layer
# ---------------------------------------------------------------------------


def affine_forward(x, w, b):
    """Affine (fully connected, linear) layer.

    Math:
        out = x @ w + b: sample n, output unit j gets
        out[n, j] = sum_i x[n, i] * w[i, j] + b[j].

    Args:
        x: a batch of inputs, one row per sample.
        w: weights.
        b: biases.

    Returns:
        ``(out, cache)`` with ``cache = (x, w, b)``.

    Shape:
        x: (N, D_in); w: (D_in, D_out); b: (D_out,); out: (N, D_out).

    PyTorch counterpart: ``torch.nn.functional.linear(x, w.T, b)``; note that
    ``torch.nn.Linear`` stores its weight transposed, as (D_out, D_in).
    """
    x = _as_float_array(x, "x")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D_in), got {x.shape}")
    if w.ndim != 2 or w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have shape (D_in, D_out) with D_in = {x.shape[1]}, got {w.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape (D_out,) = ({w.shape[1]},), got {b.shape}")
    out = x @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Backward pass of :func:`affine_forward`.

    Math:
        With out = x @ w + b and upstream gradient dout = dL/dout:
        dx = dout @ w.T,  dw = x.T @ dout,  db = sum of dout over the batch.

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`affine_forward`.

    Returns:
        ``(dx, dw, db)``, shaped like ``x``, ``w`` and ``b``.

    Shape:
        dout: (N, D_out); dx: (N, D_in); dw: (D_in, D_out); db: (D_out,).

    PyTorch counterpart: the gradients autograd gives for
    ``torch.nn.functional.linear``.
    """
    x, w, _ = cache
    dout = _check_dout(dout, (x.shape[0], w.shape[1]))
    dx = dout @ w.T
    dw = x.T @ dout
    db = np.sum(dout, axis=0)
    return dx, dw, db


# ---------------------------------------------------------------------------
# Activation layers: out = f(x) elementwise, so dx = dout * f'(x)
# ---------------------------------------------------------------------------


def relu_forward(x):
    """ReLU layer: out = max(0, x) elementwise.

    Math:
        out = relu(x); see :func:`dlcourse.numpy_ref.functional.relu`.

    Args:
        x: input of any shape.

    Returns:
        ``(out, cache)`` with ``cache = x``.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.relu(x)``.
    """
    x = _as_float_array(x, "x")
    return F.relu(x), x


def relu_backward(dout, cache):
    """Backward pass of :func:`relu_forward`.

    Math:
        dx = dout * 1[x > 0]: the gradient passes where the input was
        positive and is blocked elsewhere (including at x = 0, like torch).

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`relu_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for ``torch.relu``.
    """
    x = cache
    return _check_dout(dout, x.shape) * F.relu_grad(x)


def sigmoid_forward(x):
    """Sigmoid layer: out = 1 / (1 + exp(-x)) elementwise.

    Math:
        out = sigmoid(x); see :func:`dlcourse.numpy_ref.functional.sigmoid`.

    Args:
        x: input of any shape.

    Returns:
        ``(out, cache)`` with ``cache = x``.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.sigmoid(x)``.
    """
    x = _as_float_array(x, "x")
    return F.sigmoid(x), x


def sigmoid_backward(dout, cache):
    """Backward pass of :func:`sigmoid_forward`.

    Math:
        dx = dout * s * (1 - s) with s = sigmoid(x).

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`sigmoid_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for ``torch.sigmoid``.
    """
    x = cache
    return _check_dout(dout, x.shape) * F.sigmoid_grad(x)


def tanh_forward(x):
    """Tanh layer: out = tanh(x) elementwise.

    Math:
        out = tanh(x); see :func:`dlcourse.numpy_ref.functional.tanh`.

    Args:
        x: input of any shape.

    Returns:
        ``(out, cache)`` with ``cache = x``.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.tanh(x)``.
    """
    x = _as_float_array(x, "x")
    return F.tanh(x), x


def tanh_backward(dout, cache):
    """Backward pass of :func:`tanh_forward`.

    Math:
        dx = dout * (1 - tanh(x)**2).

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`tanh_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for ``torch.tanh``.
    """
    x = cache
    return _check_dout(dout, x.shape) * F.tanh_grad(x)


def leaky_relu_forward(x, negative_slope: float = 0.01):
    """Leaky ReLU layer: out = x if x > 0 else negative_slope * x.

    Math:
        out = leaky_relu(x, negative_slope); see
        :func:`dlcourse.numpy_ref.functional.leaky_relu`.

    Args:
        x: input of any shape.
        negative_slope: slope for x <= 0.

    Returns:
        ``(out, cache)`` with ``cache = (x, negative_slope)``.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.nn.functional.leaky_relu(x, negative_slope)``.
    """
    x = _as_float_array(x, "x")
    out = F.leaky_relu(x, negative_slope)  # also validates negative_slope
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    """Backward pass of :func:`leaky_relu_forward`.

    Math:
        dx = dout * (1 if x > 0 else negative_slope); at x = 0 the slope is
        negative_slope, like torch.

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`leaky_relu_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for
    ``torch.nn.functional.leaky_relu``.
    """
    x, negative_slope = cache
    return _check_dout(dout, x.shape) * F.leaky_relu_grad(x, negative_slope)


def elu_forward(x, alpha: float = 1.0):
    """ELU layer: out = x if x > 0 else alpha * (exp(x) - 1).

    Math:
        out = elu(x, alpha); see :func:`dlcourse.numpy_ref.functional.elu`.

    Args:
        x: input of any shape.
        alpha: the ELU's alpha (negative saturation value is -alpha).

    Returns:
        ``(out, cache)`` with ``cache = (x, alpha)``.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.nn.functional.elu(x, alpha)``.
    """
    x = _as_float_array(x, "x")
    out = F.elu(x, alpha)  # also validates alpha
    return out, (x, alpha)


def elu_backward(dout, cache):
    """Backward pass of :func:`elu_forward`.

    Math:
        dx = dout * (1 if x > 0 else alpha * exp(x)); at x = 0 the slope is
        alpha, like torch.

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`elu_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for
    ``torch.nn.functional.elu``.
    """
    x, alpha = cache
    return _check_dout(dout, x.shape) * F.elu_grad(x, alpha)
