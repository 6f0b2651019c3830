"""SGD with optional (Nesterov) momentum: the class and its two pure update functions."""

from __future__ import annotations

import torch

from dlcourse.validation import check_nonnegative

from ._base import _Base, _check_foreach, _group_tensors_by_device_and_dtype, _signed_decayed_grads

__all__ = ["SGD"]


class SGD(_Base):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    Math:
        g = ±grad + weight_decay * θ;  b = g (first step) or b = momentum * b + (1 - dampening) * g;
        update u = g + momentum * b (Nesterov) or b (momentum) or g;  θ ← θ - lr * u.

    Args:
        params: parameters or parameter groups (dicts).
        lr: learning rate, >= 0.
        momentum: momentum factor, >= 0.
        dampening: dampening of the momentum, >= 0.
        weight_decay: L2 penalty coefficient, >= 0.
        nesterov: Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend instead of descend.
        foreach: ``True`` runs :func:`_multi_tensor_sgd` (``torch._foreach_*`` ops over all
            parameters of a group), ``False`` :func:`_single_tensor_sgd` (a loop over them),
            ``None`` (default) the multi-tensor path exactly when every parameter is on CUDA.

    State:
        ``momentum_buffer`` (like the parameter), only when momentum != 0.

    Shape:
        buffers: like each parameter.

    PyTorch counterpart: ``torch.optim.SGD``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(momentum, "momentum")
        check_nonnegative(dampening, "dampening")
        check_nonnegative(weight_decay, "weight_decay")
        _check_foreach(foreach)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach)
        super().__init__(params, defaults)

    def _update_group(self, group, params, grads, foreach):
        momentum_buffer_list = [self.state[p].get("momentum_buffer") for p in params] if group["momentum"] != 0 else []
        func = _multi_tensor_sgd if foreach else _single_tensor_sgd
        func(params, grads, momentum_buffer_list, weight_decay=group["weight_decay"], momentum=group["momentum"],
             lr=group["lr"], dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"])
        if group["momentum"] != 0:  # the functions create buffers on a parameter's first step
            for p, buf in zip(params, momentum_buffer_list):
                self.state[p]["momentum_buffer"] = buf


def _single_tensor_sgd(params: list[torch.Tensor], grads: list[torch.Tensor],
                       momentum_buffer_list: list[torch.Tensor | None], *, weight_decay: float, momentum: float,
                       lr: float, dampening: float, nesterov: bool, maximize: bool) -> None:
    """SGD on each parameter in turn, a few tensor ops each (the readable reference).

    Args:
        params: parameters, updated in place.
        grads: their gradients (read, never written).
        momentum_buffer_list: one buffer per parameter, ``None`` before its first step (then a
            new buffer is put in the list); ignored and may be empty when momentum is 0.
        weight_decay, momentum, lr, dampening, nesterov, maximize: as :class:`SGD`.

    Math: see :class:`SGD`. Shape: ``params[i]``, ``grads[i]`` and ``momentum_buffer_list[i]`` share a shape.

    PyTorch counterpart: ``torch.optim.sgd._single_tensor_sgd``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        if momentum != 0:
            buf = momentum_buffer_list[i]
            if buf is None:
                buf = momentum_buffer_list[i] = grad.detach().clone()
            else:
                buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            grad = grad.add(buf, alpha=momentum) if nesterov else buf
        param.add_(grad, alpha=-lr)


def _multi_tensor_sgd(params: list[torch.Tensor], grads: list[torch.Tensor],
                      momentum_buffer_list: list[torch.Tensor | None], *, weight_decay: float, momentum: float,
                      lr: float, dampening: float, nesterov: bool, maximize: bool) -> None:
    """The same update as :func:`_single_tensor_sgd`, one ``torch._foreach_*`` op per line.

    Parameters are grouped by device and dtype; each op runs once per group. Arguments,
    math and shapes as :func:`_single_tensor_sgd`; new buffers are put in ``momentum_buffer_list``.
    The gradients are never written (unlike torch's Nesterov path, which adds into them).

    PyTorch counterpart: ``torch.optim.sgd._multi_tensor_sgd``.
    """
    if not params:
        return
    for (device_params, device_grads, device_bufs), indices in _group_tensors_by_device_and_dtype(
            [params, grads, momentum_buffer_list]):
        device_grads = _signed_decayed_grads(device_params, device_grads, maximize, weight_decay)
        update = device_grads
        if momentum != 0:
            old = [k for k, buf in enumerate(device_bufs) if buf is not None]
            if old:  # b ← momentum * b + (1 - dampening) * g for parameters that have a buffer
                old_bufs = [device_bufs[k] for k in old]
                torch._foreach_mul_(old_bufs, momentum)
                torch._foreach_add_(old_bufs, [device_grads[k] for k in old], alpha=1 - dampening)
            for k, buf in enumerate(device_bufs):  # b = g on a parameter's first step
                if buf is None:
                    device_bufs[k] = momentum_buffer_list[indices[k]] = device_grads[k].detach().clone()
            update = torch._foreach_add(device_grads, device_bufs, alpha=momentum) if nesterov else device_bufs
        torch._foreach_add_(device_params, update, alpha=-lr)
