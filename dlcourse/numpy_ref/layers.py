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

Inputs are never modified, with one documented exception: batch norm's
``running_mean`` and ``running_var`` are updated in place in training mode,
like the buffers of ``torch.nn.BatchNorm1d``.  The caches keep references to the inputs (not
copies), so do not modify an input between a forward and its backward.
"""

from __future__ import annotations

import numpy as np

from . import functional as F
from .functional import _as_float_array, _as_real_scalar

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


# ---------------------------------------------------------------------------
# Batch normalization
# ---------------------------------------------------------------------------


def _check_running(arr, name: str, d: int) -> np.ndarray:
    """Check a running-statistics buffer: a writeable float64 array of shape (D,)."""
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float64:
        raise ValueError(
            f"{name} must be a float64 numpy array (it is updated in place), got "
            f"{type(arr).__name__}{'' if not isinstance(arr, np.ndarray) else ' of dtype ' + str(arr.dtype)}"
        )
    if arr.shape != (d,):
        raise ValueError(f"{name} must have shape (D,) = ({d},), got {arr.shape}")
    if not arr.flags.writeable:
        raise ValueError(f"{name} must be writeable (it is updated in place)")
    return arr


def batchnorm_forward(x, gamma, beta, running_mean, running_var, *, training, momentum=0.1, eps=1e-5):
    """Batch normalization over a batch of feature vectors.

    Math:
        Training: mu = mean_n x, var = mean_n (x - mu)**2 (biased),
        x_hat = (x - mu) / sqrt(var + eps), out = gamma * x_hat + beta, and the
        running statistics are updated *in place*:
        running_mean <- (1 - momentum) * running_mean + momentum * mu,
        running_var  <- (1 - momentum) * running_var + momentum * var * N / (N - 1)
        (the *unbiased* batch variance, as torch does; the normalization itself
        uses the biased one).  Evaluation: x_hat = (x - running_mean) /
        sqrt(running_var + eps), the running statistics are left unchanged.

    A feature that is constant over the batch has var = 0; eps > 0 keeps
    x_hat = 0 (finite) there, so its output is simply beta.

    Args:
        x: a batch of inputs, one row per sample.
        gamma: scale, one per feature.
        beta: shift, one per feature.
        running_mean: float64 running mean, updated in place when training.
        running_var: float64 running variance, updated in place when training.
        training: True for batch statistics (and running-statistics updates),
            False to normalize with the running statistics.
        momentum: weight of the *new* batch in the running averages, in [0, 1]
            (torch's convention; the lectures' EWA decay is 1 - momentum).
        eps: added to the variance before the square root, > 0.

    Returns:
        ``(out, cache)``; pass ``cache`` to :func:`batchnorm_backward` or
        :func:`batchnorm_backward_staged`.

    Raises:
        ValueError: naming the argument for bad shapes or values; naming ``x``
            when training on a batch of a single sample (the unbiased variance
            is undefined; torch raises too).

    Shape:
        x: (N, D); gamma, beta, running_mean, running_var: (D,); out: (N, D).

    PyTorch counterpart: ``torch.nn.BatchNorm1d(D, eps, momentum)`` in
    ``train()`` / ``eval()`` mode, i.e. ``torch.nn.functional.batch_norm(x,
    running_mean, running_var, gamma, beta, training, momentum, eps)``.
    """
    x = _as_float_array(x, "x")
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (N, D) with D >= 1, got {x.shape}")
    n, d = x.shape
    gamma = _as_float_array(gamma, "gamma")
    beta = _as_float_array(beta, "beta")
    if gamma.shape != (d,):
        raise ValueError(f"gamma must have shape (D,) = ({d},), got {gamma.shape}")
    if beta.shape != (d,):
        raise ValueError(f"beta must have shape (D,) = ({d},), got {beta.shape}")
    _check_running(running_mean, "running_mean", d)
    _check_running(running_var, "running_var", d)
    if not isinstance(training, (bool, np.bool_)):
        raise ValueError(f"training must be True or False, got {training!r}")
    momentum = _as_real_scalar(momentum, "momentum")
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
    eps = _as_real_scalar(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be positive, got {eps}")

    if training:
        if n < 2:
            raise ValueError(f"x must hold at least 2 samples per feature when training, got shape {x.shape}")
        mu = x.mean(axis=0)
        xmu = x - mu
        var = np.mean(xmu * xmu, axis=0)  # biased: used to normalize
        # in place, like torch's buffers: new = (1 - momentum) * old + momentum * batch
        running_mean *= 1.0 - momentum
        running_mean += momentum * mu
        running_var *= 1.0 - momentum
        running_var += momentum * var * (n / (n - 1))  # unbiased
    else:
        xmu = x - running_mean
        var = running_var.copy()
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xmu * inv_std
    out = gamma * x_hat + beta
    cache = {"training": bool(training), "x_hat": x_hat, "xmu": xmu, "var": var,
             "inv_std": inv_std, "gamma": gamma, "eps": eps}
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of :func:`batchnorm_forward`, simplified closed form.

    This is the fast version (one expression, no intermediate graph nodes);
    :func:`batchnorm_backward_staged` walks the computational graph node by
    node and gives the same result up to rounding.

    Math:
        With g = dout * gamma (= dL/dx_hat), in training mode
        dx = inv_std / N * (N * g - sum_n g - x_hat * sum_n (g * x_hat)),
        because mu and var depend on every sample.  In evaluation mode the
        statistics are constants: dx = g * inv_std.  In both modes
        dgamma = sum_n dout * x_hat and dbeta = sum_n dout.

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)``, shaped like ``x``, ``gamma`` and ``beta``.

    Shape:
        dout: (N, D); dx: (N, D); dgamma, dbeta: (D,).

    PyTorch counterpart: the gradients autograd gives for
    ``torch.nn.functional.batch_norm``.
    """
    x_hat, inv_std, gamma = cache["x_hat"], cache["inv_std"], cache["gamma"]
    dout = _check_dout(dout, x_hat.shape)
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    g = dout * gamma
    if not cache["training"]:
        return g * inv_std, dgamma, dbeta
    n = x_hat.shape[0]
    dx = (inv_std / n) * (n * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0))
    return dx, dgamma, dbeta


def batchnorm_backward_staged(dout, cache):
    """Backward pass of :func:`batchnorm_forward`, node by node through the graph.

    The forward pass as a computational graph (training mode):
    mu = mean(x); xmu = x - mu; sq = xmu**2; var = mean(sq);
    std = sqrt(var + eps); inv = 1 / std; x_hat = xmu * inv;
    out = gamma * x_hat + beta.  Each node's local derivative is applied in
    reverse order; note that xmu feeds two nodes (sq and x_hat), so its
    gradient is the sum of two contributions, and x feeds xmu and mu.
    Slower than :func:`batchnorm_backward` but easier to derive; the two agree
    to rounding error.

    Math:
        dx_hat = dout * gamma; dinv = sum_n dx_hat * xmu;
        dstd = -dinv / std**2; dvar = dstd / (2 std); dsq = dvar / N;
        dxmu = dx_hat * inv + 2 xmu dsq; dmu = -sum_n dxmu;
        dx = dxmu + dmu / N.  (Evaluation mode: dx = dx_hat * inv.)

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)``, shaped like ``x``, ``gamma`` and ``beta``.

    Shape:
        dout: (N, D); dx: (N, D); dgamma, dbeta: (D,).

    PyTorch counterpart: the gradients autograd gives for
    ``torch.nn.functional.batch_norm``.
    """
    x_hat, xmu, var, inv, gamma, eps = (cache[k] for k in ("x_hat", "xmu", "var", "inv_std", "gamma", "eps"))
    dout = _check_dout(dout, x_hat.shape)
    n = x_hat.shape[0]
    # out = gamma * x_hat + beta
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    if not cache["training"]:
        return dx_hat * inv, dgamma, dbeta
    # x_hat = xmu * inv
    dxmu = dx_hat * inv
    dinv = np.sum(dx_hat * xmu, axis=0)
    # inv = 1 / std
    std = np.sqrt(var + eps)
    dstd = -dinv / std**2
    # std = sqrt(var + eps)
    dvar = dstd / (2.0 * std)
    # var = mean(sq)
    dsq = np.ones_like(xmu) * dvar / n
    # sq = xmu ** 2  (second path into xmu)
    dxmu = dxmu + 2.0 * xmu * dsq
    # xmu = x - mu
    dx = dxmu.copy()
    dmu = -np.sum(dxmu, axis=0)
    # mu = mean(x)
    dx += np.ones_like(xmu) * dmu / n
    return dx, dgamma, dbeta


# ---------------------------------------------------------------------------
# Inverted dropout
# ---------------------------------------------------------------------------


def dropout_forward(x, keep_prob, *, training, rng):
    """Inverted dropout with keep probability ``keep_prob``.

    Math:
        Training: mask = (u < keep_prob) / keep_prob with u ~ U[0, 1)
        elementwise, out = x * mask; every unit is kept with probability
        keep_prob and the survivors are scaled by 1 / keep_prob, so that
        E[out] = x and nothing needs rescaling at test time.  Evaluation (or
        keep_prob = 1): out = x (a copy), and ``rng`` is not used.

    Args:
        x: input of any shape.
        keep_prob: probability of *keeping* a unit, in (0, 1] (the lectures'
            p; torch's ``Dropout(p)`` uses the drop probability p = 1 - keep_prob).
        training: True to drop units, False for the identity.
        rng: the ``np.random.Generator`` that draws the mask (one
            ``rng.random(x.shape)`` call per training forward with
            keep_prob < 1); may be None in evaluation mode.

    Returns:
        ``(out, cache)`` with ``cache = mask`` (``None`` when nothing was dropped).

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.nn.functional.dropout(x, p=1 - keep_prob,
    training=training)`` (same scaling; a different random stream).
    """
    x = _as_float_array(x, "x")
    keep_prob = _as_real_scalar(keep_prob, "keep_prob")
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must lie in (0, 1], got {keep_prob}")
    if not isinstance(training, (bool, np.bool_)):
        raise ValueError(f"training must be True or False, got {training!r}")
    if not training or keep_prob == 1.0:
        return x.copy(), (None, x.shape)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    mask = (rng.random(x.shape) < keep_prob) / keep_prob
    return x * mask, (mask, x.shape)


def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`.

    Math:
        dx = dout * mask (the same mask, scale included); in evaluation mode
        dx = dout.

    Args:
        dout: upstream gradient dL/dout.
        cache: the ``cache`` returned by :func:`dropout_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for
    ``torch.nn.functional.dropout``.
    """
    mask, shape = cache
    dout = _check_dout(dout, shape)
    return dout.copy() if mask is None else dout * mask
