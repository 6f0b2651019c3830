"""RMSprop: the class, its pure update core, and the lectures' form."""

from __future__ import annotations

import numpy as np

from dlcourse.validation import Array, check_nonnegative, check_unit_interval

from ._base import Optimizer, _check_bool, _lerp, _textbook_arrays

__all__ = ["RMSprop", "rmsprop_update"]


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with momentum.

    Math:
        g <- g + weight_decay * theta; v <- alpha v + (1 - alpha) g**2;
        centered: a <- a + (1 - alpha)(g - a), den = sqrt(v - a**2) + eps;
        else den = sqrt(v) + eps;
        momentum > 0: b <- momentum b + g / den, theta <- theta - lr b;
        else theta <- theta - lr g / den.

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.
        alpha: smoothing constant of the squared-gradient average.
        eps: added to the denominator (after the square root, like torch).
        weight_decay: L2 penalty coefficient.
        momentum: momentum factor.
        centered: normalize by an estimate of the gradient's variance.

    State:
        ``"step"``, ``"square_avg"``, ``"momentum_buffer"`` (momentum > 0),
        ``"grad_avg"`` (centered).

    Shape:
        any parameter shapes.

    PyTorch counterpart: ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay))

    def _validate(self, group):
        for key in ("lr", "momentum", "alpha", "eps", "weight_decay"):
            check_nonnegative(group[key], key)
        _check_bool(group["centered"], "centered")

    def _update_group(self, group, params, grads):
        states = []
        for p in params:  # state created on a parameter's first step
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0.0
                state["square_avg"] = np.zeros_like(p.data)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = np.zeros_like(p.data)
                if group["centered"]:
                    state["grad_avg"] = np.zeros_like(p.data)
            states.append(state)
        steps = [s["step"] for s in states]
        _single_tensor_rmsprop([p.data for p in params], grads, [s["square_avg"] for s in states],
                               [s["grad_avg"] for s in states] if group["centered"] else [],
                               [s["momentum_buffer"] for s in states] if group["momentum"] > 0 else [],
                               steps, lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                               weight_decay=group["weight_decay"], momentum=group["momentum"],
                               centered=group["centered"], maximize=False)
        for s, step in zip(states, steps):
            s["step"] = step


def _single_tensor_rmsprop(params: list[Array], grads: list[Array], square_avgs: list[Array], grad_avgs: list[Array],
                           momentum_buffer_list: list[Array], state_steps: list[float], *, lr: float, alpha: float,
                           eps: float, weight_decay: float, momentum: float, centered: bool,
                           maximize: bool = False) -> None:
    """The RMSprop update of each parameter, in place: the one copy of RMSprop's arithmetic.

    Args:
        params: float64 arrays, updated in place.
        grads: their gradients (read, never written).
        square_avgs: running averages of g**2, updated in place.
        grad_avgs: running averages of g (used when centered, else may be empty).
        momentum_buffer_list: momentum buffers (used when momentum > 0, else may be empty).
        state_steps: step counts (floats); each entry is replaced by its successor.
        lr, alpha, eps, weight_decay, momentum, centered: as :class:`RMSprop`.
        maximize: ascend instead of descend (torch's flag; the numpy classes never set it).

    Math: see :class:`RMSprop`. Shape: the i-th entries of every list share a shape.

    PyTorch counterpart: ``torch.optim.rmsprop._single_tensor_rmsprop``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        state_steps[i] += 1.0
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = square_avgs[i]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (grad * grad)
        if centered:
            grad_avg = grad_avgs[i]
            _lerp(grad_avg, grad, 1.0 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += eps
        if momentum > 0:
            buf = momentum_buffer_list[i]
            buf *= momentum
            buf += grad / avg
            param -= lr * buf
        else:
            param -= lr * (grad / avg)


def rmsprop_update(param, grad, grad_squared, *, lr, decay_rate=0.99, eps=1e-7):
    """RMSProp in the form of lecture L07.

    Math:
        r <- rho r + (1 - rho) g**2;  theta <- theta - lr g / (sqrt(r) + eps).
        Computed by :func:`_single_tensor_rmsprop` (the core of :class:`RMSprop`)
        with alpha = rho, no momentum, not centered, no weight decay; only the
        default eps differs (1e-7 here, torch's 1e-8).  eps is added to sqrt(r),
        as in torch; Goodfellow et al. (2016, Algorithm 8.5) put it inside the root.

    Args:
        param: current parameters.
        grad: gradient.
        grad_squared: running average of squared gradients r (zeros at the start).
        lr: learning rate.
        decay_rate: rho, in [0, 1).
        eps: small constant added to sqrt(r) (delta in L07).

    Returns:
        ``(new_param, new_grad_squared)``; the inputs are not modified.

    Shape:
        param, grad, grad_squared: the same shape.

    PyTorch counterpart: ``torch.optim.RMSprop(params, lr, alpha=decay_rate, eps=eps)``.
    """
    param, grad, grad_squared = _textbook_arrays(param, grad, grad_squared=grad_squared)
    lr = check_nonnegative(lr, "lr")
    decay_rate = check_unit_interval(decay_rate, "decay_rate")
    eps = check_nonnegative(eps, "eps")
    _single_tensor_rmsprop([param], [grad], [grad_squared], [], [], [0.0], lr=lr, alpha=decay_rate, eps=eps,
                           weight_decay=0.0, momentum=0.0, centered=False)
    return param, grad_squared
