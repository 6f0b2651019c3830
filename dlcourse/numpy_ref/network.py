"""What every version of the course's fully connected network shares: arguments, parameters, modes, weights.

:class:`FullyConnectedNet` (:mod:`dlcourse.numpy_ref.models`) subclasses :class:`MLPBase` and adds the
forward and backward passes; so does the student edition's version, whose gradients come from torch
autograd. A subclass names the activations and initializations it offers (``ACTIVATIONS``, ``INITS``)
and implements :meth:`MLPBase._initial_weights`, :meth:`MLPBase.loss` and :meth:`MLPBase.data_loss`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt

from dlcourse.validation import Array, as_float_array, check_integer, check_nonnegative, check_positive

from ._checks import check_keep_prob
from .optim import Parameter

__all__ = ["MLPBase"]


class MLPBase:
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

    #: the activation names a subclass offers; the initialization names (a positive float is a std)
    ACTIVATIONS: Collection[str] = ()
    INITS: Collection[str] = ()

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
        if activation not in self.ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(self.ACTIVATIONS)}, got {activation!r}")
        self.activation = activation
        if isinstance(init, str):
            if init not in self.INITS:
                raise ValueError(f"init must be one of {sorted(self.INITS)} or a positive std, got {init!r}")
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
            self.params[f"W{l}"] = Parameter(self._initial_weights(init, fan_in, fan_out, init_rng))
            self.params[f"b{l}"] = Parameter(np.zeros(fan_out))
            if self.batchnorm and l < self.num_layers:
                self.params[f"gamma{l}"] = Parameter(np.ones(fan_out))
                self.params[f"beta{l}"] = Parameter(np.zeros(fan_out))
                self.buffers[f"running_mean{l}"] = np.zeros(fan_out)
                self.buffers[f"running_var{l}"] = np.ones(fan_out)
        self.training = True

    def _initial_weights(self, init: str | float, fan_in: int, fan_out: int, rng: np.random.Generator) -> Array:
        """The weight matrix (fan_in, fan_out) of one layer, drawn from ``rng`` (one call per layer, in order)."""
        raise NotImplementedError

    def loss(self, X: Array, y: npt.NDArray[np.integer] | None = None) -> Array | float:
        """Scores (``y`` None), or the loss after setting every parameter's gradient (see subclasses)."""
        raise NotImplementedError

    def data_loss(self, scores: Array, y: npt.NDArray[np.integer]) -> float:
        """The mean cross-entropy of class ``scores`` for labels ``y``: the data term of :meth:`loss`, no L2."""
        raise NotImplementedError

    # -- modes -------------------------------------------------------------

    def train(self, mode: bool = True) -> "MLPBase":
        """Training mode: batch statistics (updating the running ones) and dropout."""
        self.training = bool(mode)
        return self

    def eval(self) -> "MLPBase":
        """Evaluation mode: running statistics, no dropout."""
        return self.train(False)

    def parameters(self) -> list[Parameter]:
        """The parameters in a fixed order (to pass to an optimizer)."""
        return list(self.params.values())

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
        return (f"{type(self).__name__}({self.input_dim}, {self.hidden_dims}, {self.num_classes}, "
                f"activation={self.activation!r}, init={self.init!r}, batchnorm={self.batchnorm}, "
                f"keep_prob={self.keep_prob}, weight_decay={self.weight_decay})")
