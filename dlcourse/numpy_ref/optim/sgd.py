"""SGD with momentum: the class, its pure update core, and the lectures' EWA momentum form."""

from __future__ import annotations

import numpy as np

from dlcourse.validation import Array, check_nonnegative, check_unit_interval

from ._base import Optimizer, _check_bool, _textbook_arrays

__all__ = ["SGD", "momentum_ewa_update"]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    Math:
        torch's form; g the gradient, b the momentum buffer:
        g <- g + weight_decay * theta;
        b <- g on the first step, else momentum * b + (1 - dampening) * g;
        d = g + momentum * b if nesterov else b (d = g without momentum);
        theta <- theta - lr * d.

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.  DESIGN.md fixes the default at 1e-3, which is
            also ``torch.optim.SGD``'s default in torch 2.14.
        momentum: momentum factor (0 = plain SGD).
        dampening: dampening of the momentum.  ``dampening = momentum = beta``
            is *not* the EWA momentum of L07: the buffer starts at g_1, not
            (1 - beta) g_1, and stays larger by beta**t g_1 at step t; the
            EWA form is ``dampening=0`` with lr scaled by (1 - beta) (see
            :func:`momentum_ewa_update`).
        weight_decay: L2 penalty coefficient (added to the gradient).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).

    State:
        ``"momentum_buffer"`` (only when momentum != 0, like torch).

    Shape:
        any parameter shapes.

    PyTorch counterpart: ``torch.optim.SGD``.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _validate(self, group):
        for key in ("lr", "momentum", "dampening", "weight_decay"):
            check_nonnegative(group[key], key)
        _check_bool(group["nesterov"], "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")

    def _update_group(self, group, params, grads):
        momentum = group["momentum"]
        bufs = [self.state.setdefault(p, {}).get("momentum_buffer") for p in params] if momentum != 0 else []
        _single_tensor_sgd([p.data for p in params], grads, bufs, weight_decay=group["weight_decay"],
                           momentum=momentum, lr=group["lr"], dampening=group["dampening"],
                           nesterov=group["nesterov"], maximize=False)
        for p, buf in zip(params, bufs):  # buffers created on a parameter's first step
            self.state[p]["momentum_buffer"] = buf


def _single_tensor_sgd(params: list[Array], grads: list[Array], momentum_buffer_list: list[Array | None], *,
                       weight_decay: float, momentum: float, lr: float, dampening: float, nesterov: bool,
                       maximize: bool = False) -> None:
    """The SGD update of each parameter, in place: the one copy of SGD's arithmetic.

    Args:
        params: float64 arrays, updated in place.
        grads: their gradients (read, never written).
        momentum_buffer_list: one buffer per parameter, ``None`` before its first step (a new
            buffer, a copy of the gradient, is then put in the list); updated in place; ignored
            and may be empty when momentum is 0.
        weight_decay, momentum, lr, dampening, nesterov: as :class:`SGD`.
        maximize: ascend instead of descend (torch's flag; the numpy classes never set it).

    Math: see :class:`SGD`. Shape: ``params[i]``, ``grads[i]`` and ``momentum_buffer_list[i]`` share a shape.

    PyTorch counterpart: ``torch.optim.sgd._single_tensor_sgd``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = momentum_buffer_list[i]
            if buf is None:
                # np.array, not grad.copy(): for a 0-d parameter grad + wd * param is a numpy scalar,
                # whose in-place updates would not reach the stored buffer
                buf = momentum_buffer_list[i] = np.array(grad, dtype=np.float64)
            else:
                buf *= momentum
                buf += (1.0 - dampening) * grad
            grad = grad + momentum * buf if nesterov else buf
        param -= lr * grad


def momentum_ewa_update(param, grad, velocity, *, lr, beta=0.9):
    """SGD with momentum as an exponentially weighted average (the form of lecture L07).

    Math:
        v <- beta v + (1 - beta) g;  theta <- theta - lr v.
        Unrolled from v_0 = 0, v_t = (1 - beta) sum_{k=1..t} beta**(t-k) g_k,
        total weight 1 - beta**t.  A fresh ``torch.optim.SGD(momentum=beta)``
        (dampening 0) keeps b_t = sum_{k=1..t} beta**(t-k) g_k instead: it
        creates its buffer on the first step as b_1 = g_1, the same as
        beta * 0 + g_1.  So v_t = (1 - beta) b_t at *every* step t >= 1, the
        first included (v_1 = (1 - beta) g_1 bit for bit; later steps agree to
        float64 rounding), and the EWA form with learning rate lr is torch's
        SGD with learning rate lr * (1 - beta): the same trajectory (given
        v_0 = 0 and a fresh torch optimizer).
        Computed by :func:`_single_tensor_sgd` (the core of :class:`SGD`) with
        momentum = dampening = beta on the existing buffer v, which is exactly
        the update above.  This is not ``SGD(momentum=beta, dampening=beta)``
        from a fresh start: that optimizer sets its first buffer to g_1 instead
        of computing (1 - beta) g_1 from v_0 = 0, so its buffer exceeds v_t by
        beta**t g_1 at every step t (the difference decays but never vanishes).

    Args:
        param: current parameters theta.
        grad: gradient g at theta.
        velocity: previous v (zeros at the start).
        lr: learning rate (epsilon in L07).
        beta: decay of the average (beta in L07), in [0, 1); beta = 0 is plain SGD.

    Returns:
        ``(new_param, new_velocity)``; the inputs are not modified.

    Shape:
        param, grad, velocity: the same shape.

    PyTorch counterpart: ``torch.optim.SGD(params, lr=lr * (1 - beta), momentum=beta)``.
    """
    param, grad, velocity = _textbook_arrays(param, grad, velocity=velocity)
    lr = check_nonnegative(lr, "lr")
    beta = check_unit_interval(beta, "beta")
    bufs = [velocity]
    _single_tensor_sgd([param], [grad], bufs, weight_decay=0.0, momentum=beta, lr=lr, dampening=beta,
                       nesterov=False)
    # beta = 0: torch's SGD keeps no buffer (plain SGD step); the average is then the gradient itself
    return param, bufs[0] if beta != 0 else np.array(grad, dtype=np.float64)
