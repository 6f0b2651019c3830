"""A fully connected network and its training loop, in float64 numpy.

:class:`FullyConnectedNet` chains the layers of :mod:`dlcourse.numpy_ref.layers`:

    {affine - [batch norm] - activation - [dropout]} x (L - 1) - affine - softmax

and :func:`train` (defined in :mod:`dlcourse.numpy_ref.training`, re-exported here) fits it with minibatches, an optimizer from
:mod:`dlcourse.numpy_ref.optim`, an optional learning-rate schedule
(:class:`dlcourse.numpy_ref.lr_scheduler.Scheduler`), gradient accumulation,
early stopping with best-weights restore, a :class:`History`, and a tqdm
progress bar.

PyTorch counterpart: an ``nn.Sequential`` of ``Linear``, ``BatchNorm1d``,
activation and ``Dropout(p=1 - keep_prob)`` modules trained with
``F.cross_entropy`` (plus the L2 term), see :mod:`dlcourse.torch_ref`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.history import History
from dlcourse.validation import Array, as_float_array

from . import init as _init
from . import layers as L
from .losses import cross_entropy
from .network import MLPBase
from .training import accuracy, train

__all__ = ["FullyConnectedNet", "History", "train", "accuracy"]

#: activation name -> its (forward, backward) layer pair
_ACTIVATIONS: dict[str, tuple[Callable[..., Any], Callable[..., Array]]] = {
    "relu": (L.relu_forward, L.relu_backward),
    "leaky_relu": (L.leaky_relu_forward, L.leaky_relu_backward),
    "elu": (L.elu_forward, L.elu_backward),
    "tanh": (L.tanh_forward, L.tanh_backward),
    "sigmoid": (L.sigmoid_forward, L.sigmoid_backward),
}

_INITS: dict[str, Callable[..., Array]] = {
    "he": _init.he_normal,
    "he_normal": _init.he_normal,
    "he_uniform": _init.he_uniform,
    "xavier": _init.xavier_normal,
    "xavier_normal": _init.xavier_normal,
    "xavier_uniform": _init.xavier_uniform,
    "fan_in_uniform": _init.fan_in_uniform,
}


class FullyConnectedNet(MLPBase):
    """A fully connected classifier of any depth, forward and backward by the numpy layers.

    The arguments, attributes, modes and weights are :class:`~dlcourse.numpy_ref.network.MLPBase`'s
    (read its documentation); this class adds the passes through :mod:`dlcourse.numpy_ref.layers`.

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
        if isinstance(init, str):
            return _INITS[init](fan_in, fan_out, rng=rng)
        return _init.normal(fan_in, fan_out, std=float(init), rng=rng)

    # -- forward / backward ------------------------------------------------

    def _forward(self, X: Array) -> tuple[Array, list[tuple[Any, ...]], L.AffineCache]:
        X = as_float_array(X, "X")
        if X.ndim != 2 or X.shape[1] != self.input_dim:
            raise ValueError(f"X must have shape (N, {self.input_dim}), got {X.shape}")
        act_forward = _ACTIVATIONS[self.activation][0]
        caches = []
        h = X
        for l in range(1, self.num_layers):
            h, c_aff = L.affine_forward(h, self.params[f"W{l}"].data, self.params[f"b{l}"].data)
            c_bn = c_drop = None
            if self.batchnorm:
                h, c_bn = L.batchnorm_forward(
                    h, self.params[f"gamma{l}"].data, self.params[f"beta{l}"].data,
                    self.buffers[f"running_mean{l}"], self.buffers[f"running_var{l}"], training=self.training,
                )
            h, c_act = act_forward(h)
            if self.keep_prob < 1.0:
                h, c_drop = L.dropout_forward(h, self.keep_prob, training=self.training, rng=self.dropout_rng)
            caches.append((c_aff, c_bn, c_act, c_drop))
        scores, c_last = L.affine_forward(h, self.params[f"W{self.num_layers}"].data,
                                          self.params[f"b{self.num_layers}"].data)
        return scores, caches, c_last

    def loss(self, X: Array, y: npt.NDArray[np.integer] | None = None) -> Array | float:
        """Scores, or the loss with every parameter's gradient.

        In the current mode (see :meth:`train` / :meth:`eval`): in training
        mode batch norm uses batch statistics and updates its running ones,
        and dropout is active — also when ``y`` is None.

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
        """
        scores, caches, c_last = self._forward(X)
        if y is None:
            return scores
        data_loss, dscores = cross_entropy(scores, y)  # validates y
        wd = self.weight_decay
        reg = 0.0
        if wd:
            reg = 0.5 * wd * sum(float(np.sum(self.params[f"W{l}"].data ** 2)) for l in range(1, self.num_layers + 1))
        n = self.num_layers
        act_backward = _ACTIVATIONS[self.activation][1]
        dh, dW, db = L.affine_backward(dscores, c_last)
        self._set_grad(n, dW, db)
        for l in range(n - 1, 0, -1):
            c_aff, c_bn, c_act, c_drop = caches[l - 1]
            if c_drop is not None:
                dh = L.dropout_backward(dh, c_drop)
            dh = act_backward(dh, c_act)
            if c_bn is not None:
                dh, dgamma, dbeta = L.batchnorm_backward(dh, c_bn)
                self.params[f"gamma{l}"].grad = dgamma
                self.params[f"beta{l}"].grad = dbeta
            if l > 1:
                dh, dW, db = L.affine_backward(dh, c_aff)
            else:  # no need for dX
                dW, db = c_aff.x.T @ dh, dh.sum(axis=0)
            self._set_grad(l, dW, db)
        return data_loss + reg

    def _set_grad(self, l: int, dW: Array, db: Array) -> None:
        W = self.params[f"W{l}"]
        W.grad = dW + self.weight_decay * W.data if self.weight_decay else dW
        self.params[f"b{l}"].grad = db

    def data_loss(self, scores: Array, y: npt.NDArray[np.integer]) -> float:
        """The mean cross-entropy of class ``scores`` for labels ``y``: the data term of :meth:`loss`, no L2.

        Shape:
            scores: (N, C); y: (N,) integers in [0, C).

        PyTorch counterpart: ``F.cross_entropy(scores, y).item()``.
        """
        return cross_entropy(scores, y)[0]
