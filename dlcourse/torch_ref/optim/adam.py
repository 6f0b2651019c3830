"""Adam and AdamW: the classes and their two pure update functions."""

from __future__ import annotations

import torch

from dlcourse.validation import check_nonnegative, check_unit_interval

from ._base import _Base, _check_foreach, _group_tensors_by_device_and_dtype, _increment_steps, _new_step, \
    _signed_decayed_grads

__all__ = ["Adam", "AdamW"]


class Adam(_Base):
    """Adam: momentum and RMSprop with bias correction.

    Math:
        t ← t + 1;  g = ±grad (+ weight_decay * θ, or θ ← θ(1 - lr·wd) if decoupled);
        m ← β1 m + (1 - β1) g;  v ← β2 v + (1 - β2) g²;  (amsgrad: v̂ = max(v̂, v));
        θ ← θ - lr/(1 - β1^t) * m / (sqrt(v)/sqrt(1 - β2^t) + eps).

    Args:
        params: parameters or parameter groups.
        lr: learning rate, >= 0.
        betas: (β1, β2), each in [0, 1).
        eps: added to the denominator, >= 0.
        weight_decay: L2 penalty (or decoupled decay), >= 0.
        amsgrad: use the running maximum of v (AMSGrad).
        foreach: ``True``: :func:`_multi_tensor_adam`; ``False``: :func:`_single_tensor_adam`;
            ``None`` (default): multi-tensor exactly when every parameter is on CUDA.
        maximize: ascend instead of descend.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding
            an L2 term to the gradient.

    State:
        ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).

    Shape:
        buffers: like each parameter.

    PyTorch counterpart: ``torch.optim.Adam``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        check_nonnegative(lr, "learning rate")
        check_nonnegative(eps, "epsilon")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (must be a pair (beta1, beta2))")
        check_unit_interval(betas[0], "betas[0] (beta1)")
        check_unit_interval(betas[1], "betas[1] (beta2)")
        check_nonnegative(weight_decay, "weight_decay")
        _check_foreach(foreach)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        foreach=foreach, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("decoupled_weight_decay", False)

    def _update_group(self, group, params, grads, foreach):
        states = []
        for p in params:  # state created on a parameter's first step
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _new_step()
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            states.append(state)
        beta1, beta2 = group["betas"]
        func = _multi_tensor_adam if foreach else _single_tensor_adam
        func(params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
             [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [], [s["step"] for s in states],
             amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
             weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
             decoupled_weight_decay=group.get("decoupled_weight_decay", False))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2).

    Math:
        θ ← θ (1 - lr * weight_decay), then the Adam update (the decay is not part of
        the gradient, so it is not rescaled by the adaptive denominator).

    Args:
        As :class:`Adam`, without ``decoupled_weight_decay`` (always on).

    Shape:
        buffers: like each parameter.

    PyTorch counterpart: ``torch.optim.AdamW``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach, maximize=maximize, decoupled_weight_decay=True)


def _single_tensor_adam(params: list[torch.Tensor], grads: list[torch.Tensor], exp_avgs: list[torch.Tensor],
                        exp_avg_sqs: list[torch.Tensor], max_exp_avg_sqs: list[torch.Tensor],
                        state_steps: list[torch.Tensor], *, amsgrad: bool, beta1: float, beta2: float, lr: float,
                        weight_decay: float, eps: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """Adam on each parameter in turn (the readable reference).

    Args:
        params: parameters, updated in place.
        grads: their gradients (read, never written).
        exp_avgs: first moments m, updated in place.
        exp_avg_sqs: second moments v, updated in place.
        max_exp_avg_sqs: running maxima of v (amsgrad; may be empty otherwise).
        state_steps: step counters t (0-d tensors), incremented in place.
        amsgrad, beta1, beta2, lr, weight_decay, eps, maximize, decoupled_weight_decay: as :class:`Adam`.

    Math: see :class:`Adam`. Shape: the i-th entries of every list share a shape.

    PyTorch counterpart: ``torch.optim.adam._single_tensor_adam``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg, exp_avg_sq, step_t = exp_avgs[i], exp_avg_sqs[i], state_steps[i]
        step_t += 1
        if weight_decay != 0:
            if decoupled_weight_decay:
                param.mul_(1 - lr * weight_decay)
            else:
                grad = grad.add(param, alpha=weight_decay)
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = step_t.item()
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2**0.5
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            denom = (max_exp_avg_sqs[i].sqrt() / bias_correction2_sqrt).add_(eps)
        else:
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
        param.addcdiv_(exp_avg, denom, value=-step_size)


def _multi_tensor_adam(params: list[torch.Tensor], grads: list[torch.Tensor], exp_avgs: list[torch.Tensor],
                       exp_avg_sqs: list[torch.Tensor], max_exp_avg_sqs: list[torch.Tensor],
                       state_steps: list[torch.Tensor], *, amsgrad: bool, beta1: float, beta2: float, lr: float,
                       weight_decay: float, eps: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """The same update as :func:`_single_tensor_adam`, one ``torch._foreach_*`` op per line.

    Parameters are grouped by device and dtype. Each parameter keeps its own step count t (it
    may have had no gradient in some steps), so the bias corrections are lists of per-parameter
    scalars. Arguments, math and shapes as :func:`_single_tensor_adam`.

    PyTorch counterpart: ``torch.optim.adam._multi_tensor_adam``.
    """
    if not params:
        return
    for (device_params, device_grads, device_exp_avgs, device_exp_avg_sqs, device_max_exp_avg_sqs,
         device_steps), _ in _group_tensors_by_device_and_dtype(
            [params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps]):
        _increment_steps(device_steps)
        if weight_decay != 0 and decoupled_weight_decay:
            torch._foreach_mul_(device_params, 1 - lr * weight_decay)
            device_grads = _signed_decayed_grads(device_params, device_grads, maximize, 0)
        else:
            device_grads = _signed_decayed_grads(device_params, device_grads, maximize, weight_decay)
        torch._foreach_lerp_(device_exp_avgs, device_grads, 1 - beta1)
        torch._foreach_mul_(device_exp_avg_sqs, beta2)
        torch._foreach_addcmul_(device_exp_avg_sqs, device_grads, device_grads, value=1 - beta2)
        ts = [step.item() for step in device_steps]
        minus_step_sizes = [-(lr / (1 - beta1**t)) for t in ts]
        bias_corrections2_sqrt = [(1 - beta2**t) ** 0.5 for t in ts]
        if amsgrad:
            torch._foreach_maximum_(device_max_exp_avg_sqs, device_exp_avg_sqs)
            denom = torch._foreach_sqrt(device_max_exp_avg_sqs)
        else:
            denom = torch._foreach_sqrt(device_exp_avg_sqs)
        torch._foreach_div_(denom, bias_corrections2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(device_params, device_exp_avgs, denom, minus_step_sizes)
