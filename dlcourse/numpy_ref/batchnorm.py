"""Batch normalization as a forward/backward pair, in float64 numpy (part of :mod:`dlcourse.numpy_ref.layers`).

:func:`batchnorm_forward` returns ``(out, cache)`` with a :class:`BatchNormCache`;
:func:`batchnorm_backward` (closed form) and :func:`batchnorm_backward_staged` (node by
node through the computational graph) take ``(dout, cache)`` and agree to rounding.
``running_mean`` and ``running_var`` are updated in place in training mode, like the
buffers of ``torch.nn.BatchNorm1d``; no other input is modified.  The cache keeps
references to arrays computed from the inputs, and ``gamma`` itself.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from dlcourse.validation import Array, as_float_array, as_real_scalar, check_positive

from ._checks import check_dout, check_training

__all__ = ["BatchNormCache", "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_staged"]


class BatchNormCache(NamedTuple):
    """What :func:`batchnorm_forward` keeps for the backward pass (shapes for x of shape (N, D)).

    Attributes:
        training: whether the forward pass used batch statistics (else the running ones).
        x_hat: the normalized input (x - mean) / sqrt(var + eps), (N, D).
        xmu: the centred input x - mean, (N, D).
        var: the variance used to normalize, (D,): the biased batch variance when
            training, a copy of ``running_var`` otherwise.
        inv_std: 1 / sqrt(var + eps), (D,).
        gamma: the scale, (D,).
        eps: the constant added to the variance.
    """

    training: bool
    x_hat: Array
    xmu: Array
    var: Array
    inv_std: Array
    gamma: Array
    eps: float


def _check_running(arr: Any, name: str, d: int) -> Array:
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


def batchnorm_forward(x: Array, gamma: Array, beta: Array, running_mean: Array, running_var: Array, *,
                      training: bool, momentum: float = 0.1, eps: float = 1e-5) -> tuple[Array, BatchNormCache]:
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
        ``(out, cache)`` with a :class:`BatchNormCache`; pass ``cache`` to
        :func:`batchnorm_backward` or :func:`batchnorm_backward_staged`.

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
    x = as_float_array(x, "x")
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (N, D) with D >= 1, got {x.shape}")
    n, d = x.shape
    gamma = as_float_array(gamma, "gamma")
    beta = as_float_array(beta, "beta")
    if gamma.shape != (d,):
        raise ValueError(f"gamma must have shape (D,) = ({d},), got {gamma.shape}")
    if beta.shape != (d,):
        raise ValueError(f"beta must have shape (D,) = ({d},), got {beta.shape}")
    _check_running(running_mean, "running_mean", d)
    _check_running(running_var, "running_var", d)
    training = check_training(training)
    momentum = as_real_scalar(momentum, "momentum")
    if not 0.0 <= momentum <= 1.0:  # 1 is allowed (torch too): the running statistics become the batch's
        raise ValueError(f"momentum must lie in [0, 1], got {momentum}")
    eps = check_positive(eps, "eps")

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
    return out, BatchNormCache(training, x_hat, xmu, var, inv_std, gamma, eps)


def _scale_shift_backward(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
    """Backward through the last node, out = gamma * x_hat + beta: ``(dx_hat, dgamma, dbeta)`` (dout checked)."""
    dout = check_dout(dout, cache.x_hat.shape)
    return dout * cache.gamma, np.sum(dout * cache.x_hat, axis=0), np.sum(dout, axis=0)


def batchnorm_backward(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
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
        cache: the :class:`BatchNormCache` returned by :func:`batchnorm_forward`.

    Returns:
        ``(dx, dgamma, dbeta)``, shaped like ``x``, ``gamma`` and ``beta``.

    Shape:
        dout: (N, D); dx: (N, D); dgamma, dbeta: (D,).

    PyTorch counterpart: the gradients autograd gives for
    ``torch.nn.functional.batch_norm``.
    """
    g, dgamma, dbeta = _scale_shift_backward(dout, cache)
    x_hat, inv_std = cache.x_hat, cache.inv_std
    if not cache.training:
        return g * inv_std, dgamma, dbeta
    n = x_hat.shape[0]
    dx = (inv_std / n) * (n * g - g.sum(axis=0) - x_hat * np.sum(g * x_hat, axis=0))
    return dx, dgamma, dbeta


def batchnorm_backward_staged(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
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

    Arguments, result, shapes and PyTorch counterpart: those of
    :func:`batchnorm_backward`.
    """
    # out = gamma * x_hat + beta
    dx_hat, dgamma, dbeta = _scale_shift_backward(dout, cache)
    xmu, var, inv, eps = cache.xmu, cache.var, cache.inv_std, cache.eps
    n = xmu.shape[0]
    if not cache.training:
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
