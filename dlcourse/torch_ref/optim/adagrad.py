"""Adagrad: the class and its two pure update functions."""

from __future__ import annotations

import torch

from dlcourse.validation import check_nonnegative

from ._base import _Base, _check_foreach, _group_tensors_by_device_and_dtype, _increment_steps, _new_step, \
    _signed_decayed_grads

__all__ = ["Adagrad"]


class Adagrad(_Base):
    """Adagrad: per-coordinate steps shrink with the accumulated squared gradients.

    Math:
        t ← t + 1;  g = ±grad + weight_decay * θ;  clr = lr / (1 + (t - 1) * lr_decay);
        s ← s + g²;  θ ← θ - clr * g / (sqrt(s) + eps).

    Args:
        params: parameters or parameter groups.
        lr: learning rate, >= 0.
        lr_decay: learning-rate decay, >= 0.
        weight_decay: L2 penalty coefficient, >= 0.
        initial_accumulator_value: initial value of ``sum``, >= 0.
        eps: added to the denominator, >= 0.
        foreach: ``True``: :func:`_multi_tensor_adagrad`; ``False``: :func:`_single_tensor_adagrad`;
            ``None`` (default): multi-tensor exactly when every parameter is on CUDA.
        maximize: ascend instead of descend.

    State:
        ``step`` (0-d float32 CPU tensor) and ``sum`` (like the parameter), created
        at construction as torch does.

    Shape:
        ``sum``: like each parameter.

    PyTorch counterpart: ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(lr_decay, "lr_decay")
        check_nonnegative(weight_decay, "weight_decay")
        check_nonnegative(initial_accumulator_value, "initial_accumulator_value")
        check_nonnegative(eps, "epsilon")
        _check_foreach(foreach)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _new_step()
                # as torch: the constructor's value, even for a group that names its own
                state["sum"] = torch.full_like(p, initial_accumulator_value, memory_format=torch.preserve_format)

    def _update_group(self, group, params, grads, foreach):
        states = [self.state[p] for p in params]
        func = _multi_tensor_adagrad if foreach else _single_tensor_adagrad
        func(params, grads, [s["sum"] for s in states], [s["step"] for s in states], lr=group["lr"],
             weight_decay=group["weight_decay"], lr_decay=group["lr_decay"], eps=group["eps"],
             maximize=group["maximize"])


def _single_tensor_adagrad(params: list[torch.Tensor], grads: list[torch.Tensor], state_sums: list[torch.Tensor],
                           state_steps: list[torch.Tensor], *, lr: float, weight_decay: float, lr_decay: float,
                           eps: float, maximize: bool) -> None:
    """Adagrad on each parameter in turn (the readable reference).

    Args:
        params: parameters, updated in place.
        grads: their gradients (read, never written).
        state_sums: the sums of squared gradients s, updated in place.
        state_steps: step counters t (0-d tensors), incremented in place.
        lr, weight_decay, lr_decay, eps, maximize: as :class:`Adagrad`.

    Math: see :class:`Adagrad`. Shape: ``params[i]``, ``grads[i]`` and ``state_sums[i]`` share a shape.

    PyTorch counterpart: ``torch.optim.adagrad._single_tensor_adagrad``.
    """
    for param, grad, state_sum, step_t in zip(params, grads, state_sums, state_steps):
        step_t += 1
        step = step_t.item()
        grad = grad if not maximize else -grad
        if weight_decay != 0:
            grad = grad.add(param, alpha=weight_decay)
        clr = lr / (1 + (step - 1) * lr_decay)
        state_sum.addcmul_(grad, grad, value=1)
        std = state_sum.sqrt().add_(eps)
        param.addcdiv_(grad, std, value=-clr)


def _multi_tensor_adagrad(params: list[torch.Tensor], grads: list[torch.Tensor], state_sums: list[torch.Tensor],
                          state_steps: list[torch.Tensor], *, lr: float, weight_decay: float, lr_decay: float,
                          eps: float, maximize: bool) -> None:
    """The same update as :func:`_single_tensor_adagrad`, one ``torch._foreach_*`` op per line.

    Parameters are grouped by device and dtype. Each parameter keeps its own step count, so the
    learning rates ``clr`` are a list of per-parameter scalars. Arguments, math and shapes as
    :func:`_single_tensor_adagrad`.

    PyTorch counterpart: ``torch.optim.adagrad._multi_tensor_adagrad``.
    """
    if not params:
        return
    for (device_params, device_grads, device_sums, device_steps), _ in _group_tensors_by_device_and_dtype(
            [params, grads, state_sums, state_steps]):
        _increment_steps(device_steps)
        device_grads = _signed_decayed_grads(device_params, device_grads, maximize, weight_decay)
        minus_clr = [-lr / (1 + (step.item() - 1) * lr_decay) for step in device_steps]
        torch._foreach_addcmul_(device_sums, device_grads, device_grads, value=1)
        std = torch._foreach_sqrt(device_sums)
        torch._foreach_add_(std, eps)
        torch._foreach_addcdiv_(device_params, device_grads, std, minus_clr)
