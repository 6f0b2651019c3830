"""Adagrad: the class, its pure update core, and the lectures' form."""

from __future__ import annotations

import numpy as np

from dlcourse.validation import Array, check_nonnegative

from ._base import Optimizer, _textbook_arrays

__all__ = ["Adagrad", "adagrad_update"]


class Adagrad(Optimizer):
    """Adagrad: per-coordinate step sizes from the sum of squared gradients.

    Math:
        t <- t + 1; g <- g + weight_decay * theta;
        clr = lr / (1 + (t - 1) * lr_decay); s <- s + g**2;
        theta <- theta - clr * g / (sqrt(s) + eps).

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.
        lr_decay: 1/t-style decay of the learning rate.
        weight_decay: L2 penalty coefficient.
        initial_accumulator_value: starting value of the sum s.
        eps: added to sqrt(s).

    State:
        ``"step"`` (a float) and ``"sum"``, created in the constructor for
        every parameter, like torch.

    Shape:
        any parameter shapes.

    PyTorch counterpart: ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        # As torch: the groups given here start their sums at the constructor's value, even a group that
        # names its own initial_accumulator_value; a group added later starts at its own.
        self._constructor_accumulator = initial_accumulator_value
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value))
        self._constructor_accumulator = None

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        start = group["initial_accumulator_value"] if self._constructor_accumulator is None \
            else self._constructor_accumulator
        for p in group["params"]:
            self.state[p] = {"step": 0.0, "sum": np.full_like(p.data, start)}

    def _validate(self, group):
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_nonnegative(group[key], key)

    def _update_group(self, group, params, grads):
        states = [self.state[p] for p in params]
        steps = [s["step"] for s in states]
        _single_tensor_adagrad([p.data for p in params], grads, [s["sum"] for s in states], steps,
                               lr=group["lr"], weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                               eps=group["eps"], maximize=False)
        for s, step in zip(states, steps):
            s["step"] = step


def _single_tensor_adagrad(params: list[Array], grads: list[Array], state_sums: list[Array],
                           state_steps: list[float], *, lr: float, weight_decay: float, lr_decay: float,
                           eps: float, maximize: bool = False) -> None:
    """The Adagrad update of each parameter, in place: the one copy of Adagrad's arithmetic.

    Args:
        params: float64 arrays, updated in place.
        grads: their gradients (read, never written).
        state_sums: sums of squared gradients s, updated in place.
        state_steps: step counts t (floats); each entry is replaced by t + 1.
        lr, weight_decay, lr_decay, eps: as :class:`Adagrad`.
        maximize: ascend instead of descend (torch's flag; the numpy classes never set it).

    Math: see :class:`Adagrad`. Shape: ``params[i]``, ``grads[i]`` and ``state_sums[i]`` share a shape.

    PyTorch counterpart: ``torch.optim.adagrad._single_tensor_adagrad``.
    """
    for i, param in enumerate(params):
        state_steps[i] += 1.0
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        clr = lr / (1.0 + (state_steps[i] - 1.0) * lr_decay)
        state_sums[i] += grad * grad
        param -= clr * (grad / (np.sqrt(state_sums[i]) + eps))


def adagrad_update(param, grad, grad_squared, *, lr, eps=1e-7):
    """AdaGrad in the form of lecture L07.

    Math:
        r <- r + g**2;  theta <- theta - lr g / (sqrt(r) + eps).
        Computed by :func:`_single_tensor_adagrad` (the core of :class:`Adagrad`)
        without lr_decay and weight decay; only the default eps differs (1e-7,
        the value Goodfellow et al. (2016, Algorithm 8.4) suggest; torch's is 1e-10).

    Args:
        param: current parameters.
        grad: gradient.
        grad_squared: accumulated squared gradients r (zeros at the start).
        lr: learning rate.
        eps: small constant added to sqrt(r) (delta in L07).

    Returns:
        ``(new_param, new_grad_squared)``; the inputs are not modified.

    Shape:
        param, grad, grad_squared: the same shape.

    PyTorch counterpart: ``torch.optim.Adagrad(params, lr, eps=eps)``.
    """
    param, grad, grad_squared = _textbook_arrays(param, grad, grad_squared=grad_squared)
    lr = check_nonnegative(lr, "lr")
    eps = check_nonnegative(eps, "eps")
    _single_tensor_adagrad([param], [grad], [grad_squared], [0.0], lr=lr, weight_decay=0.0, lr_decay=0.0, eps=eps)
    return param, grad_squared
