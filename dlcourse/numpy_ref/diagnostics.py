"""Per-layer diagnostics of a fully connected network, in float64 numpy.

When a deep network does not train, look inside it: how are the activations of
every layer distributed, and how large are the gradients that reach each
layer on the way back?  Saturated tanh units (values piled up at +-1),
collapsed activations (all near 0), gradients shrinking or growing layer by
layer, and dead ReLU units all show up at initialization, before any training
(lecture L04, after Glorot & Bengio 2010).

* :func:`mlp_trace` runs one forward and backward pass through a plain MLP
  given as lists of weights and biases and keeps every intermediate array
  (an :class:`MLPTrace`);
* (from :mod:`dlcourse.numpy_ref.traces`, re-exported here) :func:`layer_stats` summarizes a list of per-layer arrays (mean, std, mean
  absolute value, fraction of exact zeros);
* :func:`dead_units` finds the ReLU units that never fire on a batch.

Plot the results with :func:`dlcourse.plots.plot_layer_histograms` and
:func:`dlcourse.plots.plot_layer_stats`.

The layers and their backward passes are those of
:mod:`dlcourse.numpy_ref.layers`; the weights use its ``x @ w`` layout
``(fan_in, fan_out)``, as produced by :mod:`dlcourse.numpy_ref.init`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import layers as L
from dlcourse.validation import Array, as_float_array

from .losses import cross_entropy
from .models import _ACTIVATIONS as _MODEL_ACTIVATIONS
from .traces import MLPTrace, check_mlp_params, dead_units, layer_stats

__all__ = ["ACTIVATIONS", "MLPTrace", "mlp_trace", "layer_stats", "dead_units"]


def _identity_forward(x: Any) -> tuple[Array, tuple[int, ...]]:
    x = as_float_array(x, "x")
    return x.copy(), x.shape


def _identity_backward(dout: Any, cache: tuple[int, ...]) -> Array:
    return as_float_array(dout, "dout").copy()


#: name -> (forward, backward) pairs: those of :class:`~dlcourse.numpy_ref.models.FullyConnectedNet`, plus "identity".
ACTIVATIONS = {**_MODEL_ACTIVATIONS, "identity": (_identity_forward, _identity_backward)}


def mlp_trace(X: Array, weights: Sequence[Array], biases: Sequence[Array] | None = None, *, activation: str = "tanh",
              labels: npt.NDArray[np.integer] | None = None, dout: Array | None = None) -> MLPTrace:
    """One forward and backward pass through an MLP, keeping every layer's values.

    Two modes, chosen by which of ``labels`` / ``dout`` is given:

    * ``labels``: the last weight matrix is a linear output layer (no
      activation) giving class scores, and the loss is the mean
      cross-entropy of :func:`dlcourse.numpy_ref.losses.cross_entropy` —
      a classifier as in Glorot & Bengio's experiments.  The hidden layers
      are all the others.
    * ``dout``: every layer is hidden (affine + activation) and ``dout`` is
      the upstream gradient ``dL/dh_K`` at the last layer's output (use a
      random one: an all-ones ``dout`` hides mistakes).

    Math:
        forward: h_0 = X, a_k = h_{k-1} W_k + b_k, h_k = f(a_k);
        backward: g = dL/dh_K; for k = K..1: dL/da_k = g * f'(a_k),
        dL/dW_k = h_{k-1}^T dL/da_k, dL/db_k = sum_n dL/da_k, g = dL/da_k W_k^T.

    Args:
        X: input batch.
        weights: list of weight matrices, layout ``(fan_in, fan_out)``.
        biases: list of bias vectors, or None for zero biases.
        activation: one of :data:`ACTIVATIONS` ("relu", "leaky_relu", "elu",
            "tanh", "sigmoid", "identity"); the same for every hidden layer.
        labels: integer class labels (classifier mode).
        dout: upstream gradient at the last layer's output (no-loss mode).

    Returns:
        An :class:`MLPTrace`.

    Raises:
        ValueError: naming ``X``, ``weights``, ``biases``, ``activation``,
            ``labels`` or ``dout`` for bad shapes or values, or when not
            exactly one of ``labels`` and ``dout`` is given.

    Shape:
        X: (N, D_0); weights[k]: (D_k, D_{k+1}); biases[k]: (D_{k+1},);
        labels: (N,) integers in [0, C); dout: (N, D_K).

    PyTorch counterpart: forward hooks (``register_forward_hook``) and
    ``Tensor.retain_grad()`` on the intermediate tensors of an
    ``nn.Sequential`` of ``nn.Linear`` and activation modules.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    if (labels is None) == (dout is None):
        raise ValueError("give exactly one of labels (classifier with cross-entropy) and dout (upstream gradient)")
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D), got {X.shape}")
    ws, bs = check_mlp_params(weights, biases, X.shape[1])
    n_hidden = len(ws) - 1 if labels is not None else len(ws)
    act_forward, act_backward = ACTIVATIONS[activation]

    pre, post, act_caches, aff_caches = [], [], [], []
    h = X
    for k in range(n_hidden):
        a, c_aff = L.affine_forward(h, ws[k], bs[k])
        h, c_act = act_forward(a)
        pre.append(a)
        post.append(h)
        aff_caches.append(c_aff)
        act_caches.append(c_act)

    grad_w: list[Array] = [np.empty(0)] * len(ws)
    grad_b: list[Array] = [np.empty(0)] * len(ws)
    if labels is not None:
        output, c_out = L.affine_forward(h, ws[-1], bs[-1])
        loss, dscores = cross_entropy(output, labels)  # checks labels' shape and range
        g, grad_w[-1], grad_b[-1] = L.affine_backward(dscores, c_out)
    else:
        output, loss = h, None
        g = as_float_array(dout, "dout")
        if g.shape != h.shape:
            raise ValueError(f"dout must have the shape of the last layer's output {h.shape}, got {g.shape}")

    grad_post: list[Array] = [np.empty(0)] * n_hidden
    grad_pre: list[Array] = [np.empty(0)] * n_hidden
    for k in range(n_hidden - 1, -1, -1):
        grad_post[k] = g
        grad_pre[k] = act_backward(g, act_caches[k])
        g, grad_w[k], grad_b[k] = L.affine_backward(grad_pre[k], aff_caches[k])
    return MLPTrace(pre, post, grad_post, grad_pre, grad_w, grad_b, output, None if loss is None else float(loss))
