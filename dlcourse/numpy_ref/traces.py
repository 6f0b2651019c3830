"""What one pass through a fully connected network leaves behind, and per-layer statistics of it.

* :class:`MLPTrace`: the per-layer arrays of one forward and backward pass
  (:func:`dlcourse.numpy_ref.diagnostics.mlp_trace` makes one);
* :func:`layer_stats` summarizes a list of per-layer arrays (mean, std, mean
  absolute value, fraction of exact zeros);
* :func:`dead_units` finds the ReLU units that never fire on a batch;
* :func:`check_mlp_params` checks an MLP given as lists of weights and biases.

All are re-exported by :mod:`dlcourse.numpy_ref.diagnostics`, where notebooks import them from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.validation import Array, as_float_array

__all__ = ["MLPTrace", "layer_stats", "dead_units", "check_mlp_params"]


@dataclass(frozen=True)
class MLPTrace:
    """Everything one forward/backward pass of :func:`mlp_trace` computed.

    Layer k = 1..K below is a *hidden* layer (affine followed by the
    activation); the lists are in forward order, index 0 is layer 1.

    Attributes:
        pre_activations: ``a_k = h_{k-1} @ W_k + b_k`` (with ``h_0 = X``).
        activations: ``h_k = f(a_k)``.
        grad_activations: ``dL/dh_k``, the gradient arriving at layer k's output.
        grad_pre_activations: ``dL/da_k = dL/dh_k * f'(a_k)``; the weight
            gradient is ``h_{k-1}.T @ dL/da_k``.
        grad_weights: ``dL/dW`` for *every* weight matrix passed in (also the
            output layer's when ``labels`` were given).
        grad_biases: ``dL/db`` likewise.
        output: the class scores (``labels`` given) or ``h_K`` (``dout`` given).
        loss: the mean cross-entropy (``labels`` given), else None.

    Shape:
        pre_activations[k], activations[k], grad_*activations[k]: (N, D_k);
        grad_weights[k]: shape of weights[k]; grad_biases[k]: (D_k,).
    """

    pre_activations: list[Array]
    activations: list[Array]
    grad_activations: list[Array]
    grad_pre_activations: list[Array]
    grad_weights: list[Array]
    grad_biases: list[Array]
    output: Array
    loss: float | None

    @property
    def num_hidden(self) -> int:
        """Number of hidden layers K (the length of the per-layer lists)."""
        return len(self.activations)


def check_mlp_params(weights: Any, biases: Any, input_dim: int) -> tuple[list[Array], list[Array]]:
    """The weights (fan_in, fan_out) and biases of an MLP on inputs of ``input_dim`` features, as float64
    arrays (zero biases for ``biases=None``); ValueError naming ``weights[k]`` or ``biases[k]`` otherwise."""
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or len(weights) == 0:
        raise ValueError("weights must be a non-empty list of 2-D arrays of shape (fan_in, fan_out)")
    ws = []
    fan_in = input_dim
    for k, w in enumerate(weights):
        w = as_float_array(w, f"weights[{k}]")
        if w.ndim != 2 or w.shape[0] != fan_in:
            raise ValueError(f"weights[{k}] must have shape ({fan_in}, fan_out), got {w.shape}")
        ws.append(w)
        fan_in = w.shape[1]
    if biases is None:
        return ws, [np.zeros(w.shape[1]) for w in ws]
    if isinstance(biases, np.ndarray) or not isinstance(biases, Sequence) or len(biases) != len(ws):
        raise ValueError(f"biases must be None or a list of {len(ws)} arrays, one per weight matrix")
    bs = []
    for k, (w, b) in enumerate(zip(ws, biases)):
        b = as_float_array(b, f"biases[{k}]")
        if b.shape != (w.shape[1],):
            raise ValueError(f"biases[{k}] must have shape ({w.shape[1]},), got {b.shape}")
        bs.append(b)
    return ws, bs


def _as_layer_list(values: Any, name: str) -> list[Array]:
    if isinstance(values, np.ndarray) or not isinstance(values, Sequence) or len(values) == 0:
        raise ValueError(f"{name} must be a non-empty list of arrays, one per layer")
    arrays = []
    for k, v in enumerate(values):
        arr = as_float_array(v, f"{name}[{k}]")
        if arr.size == 0:
            raise ValueError(f"{name}[{k}] is empty")
        arrays.append(arr)
    return arrays


def layer_stats(values: Sequence[Array]) -> dict[str, Array]:
    """Summary statistics of each layer's values (activations or gradients).

    Math:
        for layer k with values v (all elements): mean(v), std(v) (population,
        ddof=0), mean(|v|), and the fraction of elements exactly equal to 0
        (inactive ReLU outputs, or gradients blocked by them).

    Args:
        values: list of arrays, one per layer (any shapes; e.g.
            ``trace.activations``).

    Returns:
        dict with keys "mean", "std", "abs_mean", "fraction_zero", each a
        float64 array with one entry per layer, ready for
        :func:`dlcourse.plots.plot_layer_stats`.

    Raises:
        ValueError: naming ``values`` if it is not a non-empty list of
            non-empty numeric arrays.

    Shape:
        values[k]: any; every output: (len(values),).

    PyTorch counterpart: ``torch.std_mean(t, correction=0)`` per layer.
    """
    arrays = _as_layer_list(values, "values")
    return {
        "mean": np.array([a.mean() for a in arrays]),
        "std": np.array([a.std() for a in arrays]),
        "abs_mean": np.array([np.abs(a).mean() for a in arrays]),
        "fraction_zero": np.array([np.mean(a == 0.0) for a in arrays]),
    }


def dead_units(values: Sequence[Array]) -> list[npt.NDArray[np.bool_]]:
    """Which units never fire on the batch: value <= 0 for every sample.

    Pass ReLU outputs or pre-activations (either gives the same answer for
    ReLU): a unit whose pre-activation is <= 0 on every input outputs 0 and
    passes back a zero gradient for all of them, so its incoming weights get
    no update from this batch.  A unit dead on the whole training set stays
    dead (with plain gradient descent and no weight decay).

    Args:
        values: list of arrays of shape (N, D_k), one per layer.

    Returns:
        list of boolean arrays of shape (D_k,), True for a dead unit;
        ``mask.sum()`` counts them, ``mask.mean()`` is the fraction.

    Raises:
        ValueError: naming ``values`` if it is not a non-empty list of 2-D
            numeric arrays.

    Shape:
        values[k]: (N, D_k); out[k]: (D_k,).

    PyTorch counterpart: ``(h <= 0).all(dim=0)`` per layer.
    """
    arrays = _as_layer_list(values, "values")
    masks = []
    for k, a in enumerate(arrays):
        if a.ndim != 2:
            raise ValueError(f"values[{k}] must have shape (N, D), got {a.shape}")
        masks.append(np.all(a <= 0.0, axis=0))
    return masks
