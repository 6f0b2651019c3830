"""A fully connected network and its training loop, in float64 (student edition).

This is the student edition's version of the module: the forward pass is
written with torch operations on float64 tensors and the backward pass is
computed by torch's autograd, so it contains none of the hand-written layers
of the assignments.  Its API and its numbers are those of the instructor's
version: for the same seed the same initial weights (drawn from the same numpy
generator with the same calls), the same dropout masks, the same batch-norm
running statistics, and the same loss, gradients and training history up to
floating-point rounding (about 1e-12 relative).  torch is imported on first
use, not when this module is imported.

:class:`FullyConnectedNet` is

    {affine - [batch norm] - activation - [dropout]} x (L - 1) - affine - softmax

and :func:`train` fits it with minibatches, an optimizer from
:mod:`dlcourse.numpy_ref.optim` (or any object with ``param_groups`` and
``step()`` that updates the :class:`~dlcourse.numpy_ref.optim.Parameter`
objects in place), an optional learning-rate schedule, gradient accumulation,
early stopping with best-weights restore, a :class:`History`, and a tqdm
progress bar.

Parameters live in numpy (:class:`~dlcourse.numpy_ref.optim.Parameter`, with
``.data`` and ``.grad`` float64 arrays); every call of
:meth:`FullyConnectedNet.loss` copies them into fresh float64 tensors, runs the
network in torch, and writes the gradients back as numpy arrays.

PyTorch counterpart: an ``nn.Sequential`` of ``Linear``, ``BatchNorm1d``,
activation and ``Dropout(p=1 - keep_prob)`` modules trained with
``F.cross_entropy`` (plus the L2 term), see :mod:`dlcourse.torch_ref`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.history import History
from dlcourse.numpy_ref._checks import check_class_labels
from dlcourse.numpy_ref.network import MLPBase
from dlcourse.numpy_ref.training import accuracy, train
from dlcourse.validation import Array, as_float_array

__all__ = ["FullyConnectedNet", "History", "train", "accuracy"]

#: activation name -> the torch function applied after every hidden layer (float64, elementwise)
_ACTIVATIONS: dict[str, str] = {
    "relu": "torch.relu",
    "leaky_relu": "torch.nn.functional.leaky_relu(negative_slope=0.01)",
    "elu": "torch.nn.functional.elu(alpha=1.0)",
    "tanh": "torch.tanh",
    "sigmoid": "torch.sigmoid",
}

#: init name -> (distribution, scale(fan_in, fan_out)): the std of N(0, std**2) or the bound a of U[-a, a].
#: The formulas are those of torch.nn.init (gain 1, negative slope 0):
#: he = kaiming_normal_ (fan_in), he_uniform = kaiming_uniform_ (fan_in), xavier = xavier_normal_,
#: xavier_uniform = xavier_uniform_, fan_in_uniform = nn.Linear's default bound 1/sqrt(fan_in).
_INITS: dict[str, tuple[str, Callable[[int, int], float]]] = {
    "he": ("normal", lambda fan_in, fan_out: math.sqrt(2.0) / math.sqrt(fan_in)),
    "he_normal": ("normal", lambda fan_in, fan_out: math.sqrt(2.0) / math.sqrt(fan_in)),
    "he_uniform": ("uniform", lambda fan_in, fan_out: math.sqrt(2.0) * math.sqrt(3.0 / fan_in)),
    "xavier": ("normal", lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    "xavier_normal": ("normal", lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    "xavier_uniform": ("uniform", lambda fan_in, fan_out: math.sqrt(6.0 / (fan_in + fan_out))),
    "fan_in_uniform": ("uniform", lambda fan_in, fan_out: 1.0 / math.sqrt(fan_in)),
}

#: batch norm's constants (torch.nn.BatchNorm1d's defaults)
_BN_MOMENTUM = 0.1
_BN_EPS = 1e-5


def _initial_weights(init: str | float, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
    """A (fan_in, fan_out) weight matrix drawn from ``rng`` with one ``rng.normal`` or ``rng.uniform`` call.

    Math:
        ``init`` a float: W ~ N(0, init**2).  Otherwise see ``_INITS``: e.g. He
        normal, W ~ N(0, 2 / fan_in); Xavier uniform, W ~ U[-a, a] with
        a = sqrt(6 / (fan_in + fan_out)).

    Shape:
        out: (fan_in, fan_out), the ``x @ W`` layout (``nn.Linear.weight.T``).

    PyTorch counterpart: ``torch.nn.init.kaiming_normal_``,
    ``kaiming_uniform_``, ``xavier_normal_``, ``xavier_uniform_`` or
    ``normal_`` on ``nn.Linear(fan_in, fan_out).weight`` (a different random
    stream).
    """
    shape = (fan_in, fan_out)
    if not isinstance(init, str):
        return rng.normal(0.0, float(init), size=shape)
    distribution, scale = _INITS[init]
    value = scale(fan_in, fan_out)
    if distribution == "normal":
        return rng.normal(0.0, value, size=shape)
    return rng.uniform(-value, value, size=shape)


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
    }[name]


def _mean_cross_entropy(scores: Any, labels: npt.NDArray[np.integer]) -> Any:
    """The mean softmax cross-entropy of float64 ``scores`` (a tensor) for checked integer ``labels``, a 0-d tensor.

    PyTorch counterpart: this is ``torch.nn.functional.cross_entropy``.
    """
    import torch
    import torch.nn.functional as F

    return F.cross_entropy(scores, torch.tensor(labels, dtype=torch.int64))


class FullyConnectedNet(MLPBase):
    """A fully connected classifier of any depth, differentiated by torch autograd (student edition).

    The arguments, attributes, modes and weights are :class:`~dlcourse.numpy_ref.network.MLPBase`'s
    (read its documentation); this class adds the forward pass in float64 torch, whose gradients
    autograd computes, with the numbers of the instructor's numpy version.

    Math:
        loss = cross_entropy(scores, y) + 0.5 * weight_decay * sum_l ||W_l||**2,
        the L2 penalty over the weight matrices only; its gradient adds
        weight_decay * W_l to dW_l.

    Shape:
        X: (N, D); scores: (N, C); y: (N,) integers in [0, C).

    PyTorch counterpart: ``nn.Sequential(nn.Linear, [nn.BatchNorm1d],
    activation, [nn.Dropout(1 - keep_prob)], ..., nn.Linear)`` with
    ``F.cross_entropy``.
    """

    ACTIVATIONS = _ACTIVATIONS
    INITS = _INITS

    def _initial_weights(self, init: str | float, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
        return _initial_weights(init, fan_in, fan_out, rng)

    def _batch_norm(self, h: Any, l: int, tensors: dict[str, Any]) -> Any:
        """Batch norm of hidden layer ``l`` on the tensor ``h``, running statistics updated in place when training.

        Shape:
            h: (N, D_l); out: (N, D_l).

        PyTorch counterpart: ``torch.nn.functional.batch_norm`` (what
        ``nn.BatchNorm1d`` calls), momentum 0.1, eps 1e-5.
        """
        import torch
        import torch.nn.functional as F

        if self.training and h.shape[0] < 2:
            raise ValueError(f"x must hold at least 2 samples per feature when training, got shape {tuple(h.shape)}")
        running_mean = self.buffers[f"running_mean{l}"]
        running_var = self.buffers[f"running_var{l}"]
        mean_t, var_t = torch.tensor(running_mean), torch.tensor(running_var)
        out = F.batch_norm(h, mean_t, var_t, tensors[f"gamma{l}"], tensors[f"beta{l}"], training=self.training,
                           momentum=_BN_MOMENTUM, eps=_BN_EPS)
        if self.training:  # torch updated the tensors' copies; write them back into the numpy buffers
            running_mean[...] = mean_t.numpy()
            running_var[...] = var_t.numpy()
        return out

    def _forward(self, X: Array, tensors: dict[str, Any]) -> Any:
        """The class scores as a float64 tensor, computed from the parameter tensors ``tensors``.

        Shape:
            X: (N, D); out: (N, C).
        """
        import torch

        X = as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (N, {self.input_dim}), got {X.shape}")
        activation = _torch_activation(self.activation)
        h = torch.tensor(X, dtype=torch.float64)
        for l in range(1, self.num_layers):
            h = h @ tensors[f"W{l}"] + tensors[f"b{l}"]
            if self.batchnorm:
                h = self._batch_norm(h, l, tensors)
            h = activation(h)
            if self.keep_prob < 1.0 and self.training:  # inverted dropout, the mask drawn with numpy
                mask = (self.dropout_rng.random(tuple(h.shape)) < self.keep_prob) / self.keep_prob
                h = h * torch.from_numpy(mask)
        n = self.num_layers
        return h @ tensors[f"W{n}"] + tensors[f"b{n}"]

    def loss(self, X: Array, y: npt.NDArray[np.integer] | None = None) -> Array | float:
        """Scores, or the loss with every parameter's gradient.

        In the current mode (see :meth:`train` / :meth:`eval`): in training
        mode batch norm uses batch statistics and updates its running ones,
        and dropout is active — also when ``y`` is None.  The gradients come
        from torch's autograd (``loss.backward()``).

        Args:
            X: inputs.
            y: integer labels, or None to get the scores only.

        Returns:
            ``scores`` when y is None; otherwise the float loss (mean
            cross-entropy + 0.5 weight_decay sum ||W||**2), after setting
            ``self.params[name].grad`` for every parameter.

        Raises:
            ValueError: naming ``X`` or ``y`` for bad shapes or labels.

        Shape:
            X: (N, D); y: (N,); scores: (N, C).

        PyTorch counterpart: ``F.cross_entropy(model(X), y)`` plus the L2
        term, then ``loss.backward()``.
        """
        import torch

        need_grad = y is not None
        with torch.set_grad_enabled(need_grad):
            tensors = {name: torch.tensor(p.data, dtype=torch.float64, requires_grad=need_grad)
                       for name, p in self.params.items()}
            scores = self._forward(X, tensors)
            if y is None:
                return scores.detach().numpy()
            labels = check_class_labels(y, tuple(scores.shape))
            total = _mean_cross_entropy(scores, labels)
            if self.weight_decay:
                penalty = sum((tensors[f"W{l}"] ** 2).sum() for l in range(1, self.num_layers + 1))
                total = total + 0.5 * self.weight_decay * penalty
            total.backward()
        for name, p in self.params.items():
            p.grad = tensors[name].grad.numpy()
        return float(total.item())

    def data_loss(self, scores: Array, y: npt.NDArray[np.integer]) -> float:
        """The mean cross-entropy of class ``scores`` for labels ``y``: the data term of :meth:`loss`, no L2.

        Shape:
            scores: (N, C); y: (N,) integers in [0, C).

        PyTorch counterpart: ``F.cross_entropy(scores, y).item()``.
        """
        import torch

        scores = as_float_array(scores, "scores")
        labels = check_class_labels(y, scores.shape)
        return float(_mean_cross_entropy(torch.from_numpy(scores), labels).item())
