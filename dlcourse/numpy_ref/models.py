"""A fully connected network and its training loop, in float64 numpy.

:class:`FullyConnectedNet` chains the layers of :mod:`dlcourse.numpy_ref.layers`:

    {affine - [batch norm] - activation - [dropout]} x (L - 1) - affine - softmax

and :func:`train` fits it with minibatches, an optimizer from
:mod:`dlcourse.numpy_ref.optim`, an optional learning-rate schedule
(:class:`dlcourse.numpy_ref.lr_scheduler.Scheduler`), gradient accumulation,
early stopping with best-weights restore, a :class:`History`, and a tqdm
progress bar.

PyTorch counterpart: an ``nn.Sequential`` of ``Linear``, ``BatchNorm1d``,
activation and ``Dropout(p=1 - keep_prob)`` modules trained with
``F.cross_entropy`` (plus the L2 term), see :mod:`dlcourse.torch_ref`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.history import History
from dlcourse.validation import (Array, as_float_array, check_integer, check_nonnegative, check_positive,
                                 check_rng)

from . import init as _init
from . import layers as L
from ._checks import check_keep_prob
from .losses import cross_entropy
from .optim import Parameter

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


class FullyConnectedNet:
    """A fully connected classifier of any depth.

    Architecture: for each hidden size, affine -> [batch norm] -> activation
    -> [inverted dropout]; then a final affine layer giving class scores.

    Math:
        loss = cross_entropy(scores, y) + 0.5 * weight_decay * sum_l ||W_l||**2,
        the L2 penalty over the weight matrices only (no biases, no batch
        norm gamma/beta).  Its gradient adds weight_decay * W_l to dW_l.  (In
        torch, the same penalty is ``SGD(weight_decay=...)`` on the weights
        only.)

    Args:
        input_dim: number of input features D.
        hidden_dims: sizes of the hidden layers (may be empty: softmax
            regression).
        num_classes: number of classes C.
        activation: "relu", "leaky_relu", "elu", "tanh" or "sigmoid".
        init: "he" (= "he_normal"), "he_uniform", "xavier" (=
            "xavier_normal"), "xavier_uniform", "fan_in_uniform", or a
            positive float: the std of a plain normal initialization.
            Biases and beta start at 0, gamma at 1.
        batchnorm: batch norm after every hidden affine layer.
        keep_prob: dropout keep probability after every hidden activation
            (1.0 = no dropout).
        weight_decay: L2 coefficient (see Math), >= 0.
        seed: seeds the weights and, separately, the dropout masks.

    Attributes:
        params: dict name -> :class:`Parameter`: ``W1, b1, gamma1, beta1, ...,
            W{L}, b{L}`` (gamma/beta only with batch norm).
        buffers: dict of batch-norm running statistics ``running_mean{l}``,
            ``running_var{l}`` (like torch's buffers; not trained).
        training: True in training mode (batch statistics, dropout on).
        dropout_rng: the ``np.random.Generator`` of the dropout masks.

    Shape:
        X: (N, D); scores: (N, C); y: (N,) integers in [0, C).

    PyTorch counterpart: ``nn.Sequential(nn.Linear, [nn.BatchNorm1d],
    activation, [nn.Dropout(1 - keep_prob)], ..., nn.Linear)`` with
    ``F.cross_entropy``.
    """

    def __init__(self, input_dim: int, hidden_dims: Sequence[int], num_classes: int, *, activation: str = "relu",
                 init: str | float = "he", batchnorm: bool = False, keep_prob: float = 1.0,
                 weight_decay: float = 0.0, seed: int = 0) -> None:
        self.input_dim = check_integer(input_dim, "input_dim", minimum=1)
        try:
            hidden = [check_integer(h, "hidden_dims", minimum=1) for h in hidden_dims]
        except TypeError:
            raise ValueError(f"hidden_dims must be a sequence of positive integers, got {hidden_dims!r}") from None
        self.hidden_dims = hidden
        self.num_classes = check_integer(num_classes, "num_classes", minimum=1)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        if isinstance(init, str):
            if init not in _INITS:
                raise ValueError(f"init must be one of {sorted(_INITS)} or a positive std, got {init!r}")
        else:
            check_positive(init, "init")  # a std
        self.init = init
        self.batchnorm = bool(batchnorm)
        self.keep_prob = check_keep_prob(keep_prob)
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        seed = check_integer(seed, "seed", minimum=0)
        init_seq, dropout_seq = np.random.SeedSequence(seed).spawn(2)
        init_rng = np.random.default_rng(init_seq)
        self.dropout_rng = np.random.default_rng(dropout_seq)

        self.num_layers = len(hidden) + 1
        dims = [self.input_dim, *hidden, self.num_classes]
        self.params: dict[str, Parameter] = {}
        self.buffers: dict[str, Array] = {}
        for l in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[l - 1], dims[l]
            if isinstance(init, str):
                w = _INITS[init](fan_in, fan_out, rng=init_rng)
            else:
                w = _init.normal(fan_in, fan_out, std=float(init), rng=init_rng)
            self.params[f"W{l}"] = Parameter(w)
            self.params[f"b{l}"] = Parameter(np.zeros(fan_out))
            if self.batchnorm and l < self.num_layers:
                self.params[f"gamma{l}"] = Parameter(np.ones(fan_out))
                self.params[f"beta{l}"] = Parameter(np.zeros(fan_out))
                self.buffers[f"running_mean{l}"] = np.zeros(fan_out)
                self.buffers[f"running_var{l}"] = np.ones(fan_out)
        self.training = True

    # -- modes -------------------------------------------------------------

    def train(self, mode: bool = True) -> "FullyConnectedNet":
        """Training mode: batch statistics (updating the running ones) and dropout."""
        self.training = bool(mode)
        return self

    def eval(self) -> "FullyConnectedNet":
        """Evaluation mode: running statistics, no dropout."""
        return self.train(False)

    def parameters(self) -> list[Parameter]:
        """The parameters in a fixed order (to pass to an optimizer)."""
        return list(self.params.values())

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

    def predict(self, X: Array, batch_size: int | None = None) -> npt.NDArray[np.int64]:
        """Predicted classes in evaluation mode (the mode is restored afterwards).

        Shape:
            X: (N, D); out: (N,) int64.
        """
        was_training = self.training
        self.eval()
        try:
            return np.argmax(self.loss(X), axis=1)
        finally:
            self.train(was_training)

    # -- weights -----------------------------------------------------------

    def state_dict(self) -> dict[str, Array]:
        """Copies of every parameter and running statistic, by name."""
        out = {name: p.data.copy() for name, p in self.params.items()}
        out.update({name: b.copy() for name, b in self.buffers.items()})
        return out

    def load_state_dict(self, state: dict[str, Array]) -> None:
        """Copy values from :meth:`state_dict` into the existing arrays (in place)."""
        expected = set(self.params) | set(self.buffers)
        if set(state) != expected:
            raise ValueError(f"state must have the keys {sorted(expected)}, got {sorted(state)}")
        for name, value in state.items():
            target = self.params[name].data if name in self.params else self.buffers[name]
            value = as_float_array(value, name)
            if value.shape != target.shape:
                raise ValueError(f"state[{name!r}] must have shape {target.shape}, got {value.shape}")
            target[...] = value

    def __repr__(self) -> str:
        return (f"FullyConnectedNet({self.input_dim}, {self.hidden_dims}, {self.num_classes}, "
                f"activation={self.activation!r}, init={self.init!r}, batchnorm={self.batchnorm}, "
                f"keep_prob={self.keep_prob}, weight_decay={self.weight_decay})")


def accuracy(model: FullyConnectedNet, X: Array, y: npt.NDArray[np.integer]) -> float:
    """Fraction of correctly classified samples, in evaluation mode."""
    return float(np.mean(model.predict(X) == np.asarray(y)))


def _unpack_data(data: Any) -> tuple[Array, npt.NDArray[np.integer], Array | None, Any]:
    if isinstance(data, dict):
        get = data.get
    elif isinstance(data, (tuple, list)):
        if len(data) not in (2, 4):
            raise ValueError(f"data must be (X_train, y_train) or (X_train, y_train, X_val, y_val), "
                             f"got {len(data)} items")
        items = dict(zip(("X_train", "y_train", "X_val", "y_val"), data))
        get = items.get
    else:
        def get(name):
            return getattr(data, name, None)
    X_train, y_train, X_val, y_val = (get(k) for k in ("X_train", "y_train", "X_val", "y_val"))
    if X_train is None or y_train is None:
        raise ValueError("data must provide X_train and y_train")
    X_train = as_float_array(X_train, "data.X_train")
    y_train = np.asarray(y_train)
    if X_train.ndim != 2 or y_train.shape != (X_train.shape[0],):
        raise ValueError(f"data: X_train must be (N, D) and y_train (N,), got {X_train.shape} and {y_train.shape}")
    if (X_val is None) != (y_val is None):
        raise ValueError("data must provide both X_val and y_val, or neither")
    return X_train, y_train, X_val, y_val


def train(model: FullyConnectedNet, data: Any, *, optimizer: Any, epochs: int, batch_size: int,
          schedule: Any = None, schedule_interval: str = "epoch", accumulation_steps: int = 1,
          patience: int | None = None, rng: np.random.Generator, progress: bool = True) -> History:
    """Train ``model`` with minibatch gradient descent.

    Each epoch shuffles the training set with ``rng`` and splits it into
    minibatches of ``batch_size`` (the last one may be smaller).  With
    ``accumulation_steps = k``, the gradients of k consecutive minibatches are
    combined before one ``optimizer.step()``, each weighted by its share of
    the samples (n_i / sum n_j); so the step uses exactly the gradient of the
    mean loss over those samples (the full-batch gradient when they cover the
    data) also when the last minibatch is smaller, and the L2 term counts
    once.  (With batch norm the batch statistics are still per minibatch, as
    in torch.)

    Args:
        model: the network (its ``params`` must be the optimizer's parameters).
        data: an object with attributes ``X_train, y_train`` and optionally
            ``X_val, y_val`` (e.g. :func:`dlcourse.data.load_digits`'s
            result), a dict with those keys, or a tuple ``(X_train, y_train[,
            X_val, y_val])``.
        optimizer: an optimizer from :mod:`dlcourse.numpy_ref.optim`.
        epochs: maximum number of epochs.
        batch_size: samples per minibatch.
        schedule: optional object with ``step()`` (e.g. a
            :class:`~dlcourse.numpy_ref.lr_scheduler.Scheduler` on ``optimizer``).
        schedule_interval: "epoch" (step the schedule after every epoch) or
            "step" (after every optimizer step, e.g. for cyclical schedules).
        accumulation_steps: minibatches per optimizer step, >= 1.
        patience: early stopping: stop after this many epochs without a lower
            validation loss, then restore the best epoch's weights (parameters
            and running statistics).  None = no early stopping (and no restore).
            Needs validation data.
        rng: the generator that shuffles the data.
        progress: show a tqdm progress bar over the epochs.

    Returns:
        A :class:`History` (:class:`dlcourse.history.History`, the class
        :func:`dlcourse.torch_ref.fit` returns too): ``train_loss``, ``train_acc``,
        ``val_loss``, ``val_acc`` and ``lr`` per epoch, ``best_epoch`` (lowest
        val_loss), ``stopped_epoch`` and ``restored_best``.

    Raises:
        ValueError: naming the argument for bad values or data shapes.

    PyTorch counterpart: :func:`dlcourse.torch_ref.fit`.
    """
    X_train, y_train, X_val, y_val = _unpack_data(data)
    epochs = check_integer(epochs, "epochs", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    accumulation_steps = check_integer(accumulation_steps, "accumulation_steps", minimum=1)
    if patience is not None:
        patience = check_integer(patience, "patience", minimum=1)
        if X_val is None:
            raise ValueError("patience needs validation data (X_val, y_val) in data")
    check_rng(rng)
    if schedule_interval not in ("epoch", "step"):
        raise ValueError(f"schedule_interval must be 'epoch' or 'step', got {schedule_interval!r}")
    if schedule is not None and not callable(getattr(schedule, "step", None)):
        raise ValueError("schedule must have a step() method (e.g. a lr_scheduler.Scheduler)")
    if not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must be an optimizer with param_groups and step(), got {type(optimizer).__name__}")

    from tqdm.auto import tqdm

    n = X_train.shape[0]
    params = list(model.params.items())
    history = History()
    best_loss, best_state, wait = math.inf, None, 0
    model.train()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        order = rng.permutation(n)
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        total_loss = 0.0
        for g in range(0, len(batches), accumulation_steps):
            group = batches[g:g + accumulation_steps]
            if len(group) == 1:
                idx = group[0]
                total_loss += model.loss(X_train[idx], y_train[idx]) * len(idx)
            else:
                group_n = sum(len(idx) for idx in group)
                acc = {}
                for idx in group:
                    total_loss += model.loss(X_train[idx], y_train[idx]) * len(idx)
                    weight = len(idx) / group_n
                    for name, p in params:
                        if name in acc:
                            acc[name] += weight * p.grad
                        else:
                            acc[name] = weight * p.grad
                for name, p in params:
                    p.grad = acc[name]
            optimizer.step()
            if schedule is not None and schedule_interval == "step":
                schedule.step()
        history.train_loss.append(total_loss / n)

        model.eval()
        history.train_acc.append(float(np.mean(np.argmax(model.loss(X_train), axis=1) == y_train)))
        if X_val is not None:
            val_loss, _ = cross_entropy(model.loss(X_val), y_val)
            history.val_loss.append(val_loss)
            history.val_acc.append(float(np.mean(np.argmax(model.loss(X_val), axis=1) == np.asarray(y_val))))
        model.train()
        if schedule is not None and schedule_interval == "epoch":
            schedule.step()
        postfix = {"loss": f"{history.train_loss[-1]:.4f}", "train_acc": f"{history.train_acc[-1]:.3f}"}
        if X_val is not None:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
            if history.val_loss[-1] < best_loss:
                best_loss, history.best_epoch, wait = history.val_loss[-1], epoch, 0
                if patience is not None:
                    best_state = model.state_dict()
            else:
                wait += 1
        bar.set_postfix(postfix)
        if patience is not None and wait >= patience:
            history.stopped_epoch = epoch
            break
    bar.close()
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
        history.restored_best = True
    return history
