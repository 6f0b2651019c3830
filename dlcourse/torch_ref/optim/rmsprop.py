"""RMSprop: the class and its two pure update functions."""

from __future__ import annotations

import torch

from dlcourse.validation import check_nonnegative

from ._base import _Base, _check_foreach, _group_tensors_by_device_and_dtype, _increment_steps, _new_step, \
    _signed_decayed_grads

__all__ = ["RMSprop"]


class RMSprop(_Base):
    """RMSprop: divide by a running root-mean-square of the gradients.

    Math:
        g = ±grad + weight_decay * θ;  v ← α v + (1 - α) g²;  centered: m ← α m + (1 - α) g,
        d = sqrt(v - m²) + eps, else d = sqrt(v) + eps;  with momentum μ > 0:
        b ← μ b + g / d, θ ← θ - lr * b;  otherwise θ ← θ - lr * g / d.

    Args:
        params: parameters or parameter groups.
        lr: learning rate, >= 0.
        alpha: smoothing constant α, >= 0.
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty coefficient, >= 0.
        momentum: momentum factor μ, >= 0.
        centered: normalise by an estimate of the gradient's variance.
        foreach: ``True``: :func:`_multi_tensor_rmsprop`; ``False``: :func:`_single_tensor_rmsprop`;
            ``None`` (default): multi-tensor exactly when every parameter is on CUDA.
        maximize: ascend instead of descend.

    State:
        ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).

    Shape:
        buffers: like each parameter.

    PyTorch counterpart: ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(eps, "epsilon")
        check_nonnegative(momentum, "momentum")
        check_nonnegative(weight_decay, "weight_decay")
        check_nonnegative(alpha, "alpha")
        _check_foreach(foreach)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update_group(self, group, params, grads, foreach):
        states = []
        for p in params:  # state created on a parameter's first step
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _new_step()
                state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["momentum"] > 0:
                    state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["centered"]:
                    state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(state)
        func = _multi_tensor_rmsprop if foreach else _single_tensor_rmsprop
        func(params, grads, [s["square_avg"] for s in states],
             [s["grad_avg"] for s in states] if group["centered"] else [],
             [s["momentum_buffer"] for s in states] if group["momentum"] > 0 else [],
             [s["step"] for s in states], lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
             weight_decay=group["weight_decay"], momentum=group["momentum"], centered=group["centered"],
             maximize=group["maximize"])


def _single_tensor_rmsprop(params: list[torch.Tensor], grads: list[torch.Tensor], square_avgs: list[torch.Tensor],
                           grad_avgs: list[torch.Tensor], momentum_buffer_list: list[torch.Tensor],
                           state_steps: list[torch.Tensor], *, lr: float, alpha: float, eps: float,
                           weight_decay: float, momentum: float, centered: bool, maximize: bool) -> None:
    """RMSprop on each parameter in turn (the readable reference).

    Args:
        params: parameters, updated in place.
        grads: their gradients (read, never written).
        square_avgs: running averages of g², updated in place.
        grad_avgs: running averages of g (used when centered, else may be empty).
        momentum_buffer_list: momentum buffers (used when momentum > 0, else may be empty).
        state_steps: step counters (0-d tensors), incremented in place.
        lr, alpha, eps, weight_decay, momentum, centered, maximize: as :class:`RMSprop`.

    Math: see :class:`RMSprop`. Shape: the i-th entries of every list share a shape.

    PyTorch counterpart: ``torch.optim.rmsprop._single_tensor_rmsprop``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        state_steps[i] += 1
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        square_avg = square_avgs[i]
        square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        if centered:
            grad_avg = grad_avgs[i]
            grad_avg.lerp_(grad, 1 - alpha)
            avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
        else:
            avg = square_avg.sqrt()
        avg = avg.add_(eps)
        if momentum > 0:
            buf = momentum_buffer_list[i]
            buf.mul_(momentum).addcdiv_(grad, avg)
            param.add_(buf, alpha=-lr)
        else:
            param.addcdiv_(grad, avg, value=-lr)


def _multi_tensor_rmsprop(params: list[torch.Tensor], grads: list[torch.Tensor], square_avgs: list[torch.Tensor],
                          grad_avgs: list[torch.Tensor], momentum_buffer_list: list[torch.Tensor],
                          state_steps: list[torch.Tensor], *, lr: float, alpha: float, eps: float,
                          weight_decay: float, momentum: float, centered: bool, maximize: bool) -> None:
    """The same update as :func:`_single_tensor_rmsprop`, one ``torch._foreach_*`` op per line.

    Parameters are grouped by device and dtype. Arguments, math and shapes as
    :func:`_single_tensor_rmsprop`.

    PyTorch counterpart: ``torch.optim.rmsprop._multi_tensor_rmsprop``.
    """
    if not params:
        return
    for (device_params, device_grads, device_square_avgs, device_grad_avgs, device_bufs,
         device_steps), _ in _group_tensors_by_device_and_dtype(
            [params, grads, square_avgs, grad_avgs, momentum_buffer_list, state_steps]):
        device_grads = _signed_decayed_grads(device_params, device_grads, maximize, weight_decay)
        _increment_steps(device_steps)
        torch._foreach_mul_(device_square_avgs, alpha)
        torch._foreach_addcmul_(device_square_avgs, device_grads, device_grads, value=1 - alpha)
        if centered:
            torch._foreach_lerp_(device_grad_avgs, device_grads, 1 - alpha)
            avg = torch._foreach_addcmul(device_square_avgs, device_grad_avgs, device_grad_avgs, value=-1)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(device_square_avgs)
        torch._foreach_add_(avg, eps)
        if momentum > 0:
            torch._foreach_mul_(device_bufs, momentum)
            torch._foreach_addcdiv_(device_bufs, device_grads, avg)
            torch._foreach_add_(device_params, device_bufs, alpha=-lr)
        else:
            torch._foreach_addcdiv_(device_params, device_grads, avg, value=-lr)
