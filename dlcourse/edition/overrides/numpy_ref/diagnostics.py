"""Per-layer diagnostics of a fully connected network, in float64 (student edition).

This is the student edition's version of the module: :func:`mlp_trace` runs
the network in torch on float64 tensors and takes every gradient from torch's
autograd (``retain_grad()`` on the intermediate tensors), instead of the
hand-written layers of the assignments.  Its API and its numbers are those of
the instructor's version, up to floating-point rounding (about 1e-12
relative).  torch is imported on first use, not when this module is imported.

When a deep network does not train, look inside it: how are the activations of
every layer distributed, and how large are the gradients that reach each
layer on the way back?  Saturated tanh units (values piled up at +-1),
collapsed activations (all near 0), gradients shrinking or growing layer by
layer, and dead ReLU units all show up at initialization, before any training
(lecture L04, after Glorot & Bengio 2010).

* :func:`mlp_trace` runs one forward and backward pass through a plain MLP
  given as lists of weights and biases and keeps every intermediate array
  (an :class:`MLPTrace`);
* :func:`layer_stats` summarizes a list of per-layer arrays (mean, std, mean
  absolute value, fraction of exact zeros);
* :func:`dead_units` finds the ReLU units that never fire on a batch.

Plot the results with :func:`dlcourse.plots.plot_layer_histograms` and
:func:`dlcourse.plots.plot_layer_stats`.

The weights use the ``x @ w`` layout ``(fan_in, fan_out)`` (the transpose of
``torch.nn.Linear.weight``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.numpy_ref._checks import check_class_labels
from dlcourse.numpy_ref.traces import MLPTrace, check_mlp_params, dead_units, layer_stats
from dlcourse.validation import Array, as_float_array

__all__ = ["MLPTrace", "mlp_trace", "layer_stats", "dead_units"]

#: the activations :func:`mlp_trace` accepts -> the torch function it applies (those of
#: :class:`~dlcourse.numpy_ref.models.FullyConnectedNet`, plus "identity")
_ACTIVATIONS: dict[str, str] = {
    "relu": "torch.relu",
    "leaky_relu": "torch.nn.functional.leaky_relu(negative_slope=0.01)",
    "elu": "torch.nn.functional.elu(alpha=1.0)",
    "tanh": "torch.tanh",
    "sigmoid": "torch.sigmoid",
    "identity": "a copy (torch.Tensor.clone)",
}


def _torch_activation(name: str) -> Callable[[Any], Any]:
    """The torch function of the activation ``name`` (imports torch)."""
    import torch
    import torch.nn.functional as F

    return {
        "relu": torch.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, 0.01),
        "elu": lambda t: F.elu(t, 1.0),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        "identity": torch.clone,  # a tensor of its own, so that h_k and a_k keep separate gradients
    }[name]


def mlp_trace(X: Array, weights: Sequence[Array], biases: Sequence[Array] | None = None, *, activation: str = "tanh",
              labels: npt.NDArray[np.integer] | None = None, dout: Array | None = None) -> MLPTrace:
    """One forward and backward pass through an MLP, keeping every layer's values.

    Two modes, chosen by which of ``labels`` / ``dout`` is given:

    * ``labels``: the last weight matrix is a linear output layer (no
      activation) giving class scores, and the loss is the mean
      cross-entropy (``torch.nn.functional.cross_entropy``) — a classifier
      as in Glorot & Bengio's experiments.  The hidden layers are all the
      others.
    * ``dout``: every layer is hidden (affine + activation) and ``dout`` is
      the upstream gradient ``dL/dh_K`` at the last layer's output (use a
      random one: an all-ones ``dout`` hides mistakes).

    The pass runs in torch (float64); the gradients are autograd's, kept on
    every intermediate tensor with ``retain_grad()``.

    Math:
        forward: h_0 = X, a_k = h_{k-1} W_k + b_k, h_k = f(a_k);
        backward: g = dL/dh_K; for k = K..1: dL/da_k = g * f'(a_k),
        dL/dW_k = h_{k-1}^T dL/da_k, dL/db_k = sum_n dL/da_k, g = dL/da_k W_k^T.

    Args:
        X: input batch.
        weights: list of weight matrices, layout ``(fan_in, fan_out)``.
        biases: list of bias vectors, or None for zero biases.
        activation: "relu", "leaky_relu" (slope 0.01), "elu" (alpha 1),
            "tanh", "sigmoid" or "identity"; the same for every hidden layer.
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
    ``nn.Sequential`` of ``nn.Linear`` and activation modules — which is
    what this function does, on a functional network.
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    if (labels is None) == (dout is None):
        raise ValueError("give exactly one of labels (classifier with cross-entropy) and dout (upstream gradient)")
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D), got {X.shape}")
    ws, bs = check_mlp_params(weights, biases, X.shape[1])
    n_hidden = len(ws) - 1 if labels is not None else len(ws)
    # the shape checks of labels / dout, before any torch work
    last_dim = ws[n_hidden - 1].shape[1] if n_hidden else X.shape[1]
    if labels is not None:
        labels = check_class_labels(labels, (X.shape[0], ws[-1].shape[1]))
    else:
        dout = as_float_array(dout, "dout")
        if dout.shape != (X.shape[0], last_dim):
            raise ValueError(f"dout must have the shape of the last layer's output {(X.shape[0], last_dim)}, "
                             f"got {dout.shape}")

    import torch
    import torch.nn.functional as F

    f = _torch_activation(activation)
    w_t = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in ws]
    b_t = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in bs]
    pre_t, post_t = [], []
    h = torch.tensor(X, dtype=torch.float64)
    for k in range(n_hidden):
        a = h @ w_t[k] + b_t[k]
        h = f(a)
        a.retain_grad()
        h.retain_grad()
        pre_t.append(a)
        post_t.append(h)
    if labels is not None:
        output = h @ w_t[-1] + b_t[-1]
        loss_t = F.cross_entropy(output, torch.tensor(labels, dtype=torch.int64))
        loss_t.backward()
        loss = float(loss_t.item())
    else:
        output = h
        h.backward(torch.tensor(dout, dtype=torch.float64))
        loss = None

    def values(tensors: list[Any]) -> list[Array]:
        return [t.detach().numpy() for t in tensors]

    def grads(tensors: list[Any]) -> list[Array]:
        return [t.grad.numpy() for t in tensors]

    return MLPTrace(values(pre_t), values(post_t), grads(post_t), grads(pre_t), grads(w_t), grads(b_t),
                    output.detach().numpy(), loss)
