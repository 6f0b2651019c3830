"""SGD, Adagrad, RMSprop, Adam and AdamW written from tensor operations.

Each optimizer subclasses ``torch.optim.Optimizer`` (so ``param_groups``,
``state``, ``zero_grad``, ``state_dict``/``load_state_dict``, hooks and every
``torch.optim.lr_scheduler`` work) and implements ``step`` itself with in-place
tensor arithmetic, in the same order of operations as torch's single-tensor
("for-loop") implementation, so trajectories agree with ``torch.optim`` to
rounding.  Signatures, defaults and ``state`` keys are torch's, less the
implementation flags (``foreach``, ``fused``, ``capturable``, ``differentiable``).

State buffers (momentum, running averages) are created with ``zeros_like`` on
the parameter's device and dtype; the step counter ``state["step"]`` is a 0-d
float32 CPU tensor, as in torch (reading it never synchronises with a GPU), so
``state_dict``s load across the two implementations.

Two code paths do the same math.  The per-parameter path (``_step_per_parameter``)
is the readable reference: a Python loop over the parameters with a handful of
tensor operations each.  On CUDA that loop costs ~7 kernel launches per parameter
plus Python overhead, so, like torch's default (``foreach=True`` on CUDA), every
optimizer also has a multi-tensor path (``_step_multi_tensor``): the parameters of
a param group are grouped by device and dtype and each operation runs once over a
whole list with ``torch._foreach_*`` ops (one multi-tensor kernel per operation).
Quantities that differ between parameters (bias corrections, which depend on each
parameter's own step count) are passed as lists of per-parameter scalars.  The
path is chosen per param group as torch does: multi-tensor when every parameter
with a gradient is a plain tensor on CUDA, the loop otherwise.  The module-level
switch ``_FORCE_MULTI_TENSOR`` (``None``: automatic; ``True``/``False``: forced)
lets tests run the multi-tensor path on CPU, where ``torch._foreach_*`` also works.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import torch
from torch.optim import Optimizer

__all__ = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"]

#: None: multi-tensor path exactly where torch's default uses foreach (CUDA);
#: True / False: force the multi-tensor / per-parameter path (for tests).
_FORCE_MULTI_TENSOR: bool | None = None
_MULTI_TENSOR_DEVICES = ("cuda",)
_PLAIN_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


def _check_nonneg(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be a number >= 0)")


def _check_unit(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be in [0, 1))")


def _new_step() -> torch.Tensor:
    return torch.tensor(0.0, dtype=torch.float32)


def _group_by_device_and_dtype(params: list[torch.Tensor]) -> list[list[torch.Tensor]]:
    """Split ``params`` into lists that share device and dtype (order kept within each)."""
    buckets: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in params:
        buckets.setdefault((p.device, p.dtype), []).append(p)
    return list(buckets.values())


def _increment_steps(steps: list[torch.Tensor]) -> None:
    """``step += 1`` for every step counter (0-d float32 CPU tensors)."""
    if steps[0].is_cpu:  # one wrapped scalar instead of one per tensor
        torch._foreach_add_(steps, torch.tensor(1.0), alpha=1.0)
    else:
        torch._foreach_add_(steps, 1)


def _signed_decayed_grads(params: list[torch.Tensor], maximize: bool,
                          weight_decay: float) -> list[torch.Tensor]:
    """``±grad + weight_decay * θ`` for a list of parameters, never writing into ``p.grad``."""
    grads = [p.grad for p in params]
    if maximize:
        grads = torch._foreach_neg(grads)
        if weight_decay != 0:
            torch._foreach_add_(grads, params, alpha=weight_decay)  # reuse the fresh copies
    elif weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    return grads


class _Base(Optimizer):
    """Shared plumbing: closure handling, parameters with gradients, choice of code path.

    Subclasses implement ``_step_per_parameter(group, params)`` (the reference loop)
    and ``_step_multi_tensor(group, params)`` (same math with ``torch._foreach_*``).
    """

    def _params_with_grad(self, group) -> list[torch.Tensor]:
        params = []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            params.append(p)
        return params

    @staticmethod
    def _use_multi_tensor(params: list[torch.Tensor]) -> bool:
        """Torch's default: multi-tensor when every parameter is a plain tensor on CUDA."""
        if not params:
            return False
        if _FORCE_MULTI_TENSOR is not None:
            return _FORCE_MULTI_TENSOR
        return all(type(p) in _PLAIN_TENSOR_TYPES and p.device.type in _MULTI_TENSOR_DEVICES
                   for p in params)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure(closure)
        for group in self.param_groups:
            params = self._params_with_grad(group)
            if self._use_multi_tensor(params):
                for same_device_and_dtype in _group_by_device_and_dtype(params):
                    self._step_multi_tensor(group, same_device_and_dtype)
            else:
                self._step_per_parameter(group, params)
        return loss

    def _step_per_parameter(self, group, params: list[torch.Tensor]) -> None:
        """Update ``params`` (all with gradients) one at a time."""
        raise NotImplementedError

    def _step_multi_tensor(self, group, params: list[torch.Tensor]) -> None:
        """Update ``params`` (all with gradients, one device and dtype) with multi-tensor ops."""
        raise NotImplementedError

    def _closure(self, closure: Callable[[], float] | None):
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()


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

    State:
        ``momentum_buffer`` (like the parameter), only when momentum != 0.

    Shape:
        buffers: like each parameter.

    On CUDA the same math runs as multi-tensor ``torch._foreach_*`` ops over all parameters
    (like torch's default ``foreach=True``); elsewhere as the readable per-parameter loop.

    PyTorch counterpart: ``torch.optim.SGD``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        _check_nonneg(lr, "learning rate")
        _check_nonneg(momentum, "momentum")
        _check_nonneg(dampening, "dampening")
        _check_nonneg(weight_decay, "weight_decay")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _step_per_parameter(self, group, params: list[torch.Tensor]) -> None:
        """Reference path: a loop over the parameters, a few tensor ops each."""
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        for p in params:
            grad = p.grad if not maximize else -p.grad
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = grad.detach().clone()
                    state["momentum_buffer"] = buf
                else:
                    buf.mul_(momentum).add_(grad, alpha=1 - dampening)
                grad = grad.add(buf, alpha=momentum) if nesterov else buf
            p.add_(grad, alpha=-lr)

    def _step_multi_tensor(self, group, params: list[torch.Tensor]) -> None:
        """Same math as the loop, one ``torch._foreach_*`` op per line for all ``params``."""
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        weight_decay, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
        grads = _signed_decayed_grads(params, maximize, weight_decay)
        update = grads
        if momentum != 0:
            states = [self.state[p] for p in params]
            old = [i for i, state in enumerate(states) if state.get("momentum_buffer") is not None]
            if old:  # b ← momentum * b + (1 - dampening) * g for parameters that have a buffer
                old_bufs = [states[i]["momentum_buffer"] for i in old]
                torch._foreach_mul_(old_bufs, momentum)
                torch._foreach_add_(old_bufs, [grads[i] for i in old], alpha=1 - dampening)
            for state, grad in zip(states, grads):  # b = g on a parameter's first step
                if state.get("momentum_buffer") is None:
                    state["momentum_buffer"] = grad.detach().clone()
            bufs = [state["momentum_buffer"] for state in states]
            update = torch._foreach_add(grads, bufs, alpha=momentum) if nesterov else bufs
        torch._foreach_add_(params, update, alpha=-lr)


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
        maximize: ascend instead of descend.

    State:
        ``step`` (0-d float32 CPU tensor) and ``sum`` (like the parameter), created
        at construction as torch does.

    On CUDA the same math runs as multi-tensor ``torch._foreach_*`` ops over all parameters
    (like torch's default ``foreach=True``); elsewhere as the readable per-parameter loop.

    PyTorch counterpart: ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        _check_nonneg(lr, "learning rate")
        _check_nonneg(lr_decay, "lr_decay")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(initial_accumulator_value, "initial_accumulator_value")
        _check_nonneg(eps, "epsilon")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _new_step()
                state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                               memory_format=torch.preserve_format)

    def _step_per_parameter(self, group, params: list[torch.Tensor]) -> None:
        """Reference path: a loop over the parameters, a few tensor ops each."""
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        for p in params:
            state = self.state[p]
            state["step"] += 1
            step = state["step"].item()
            grad = p.grad if not maximize else -p.grad
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            clr = lr / (1 + (step - 1) * lr_decay)
            state["sum"].addcmul_(grad, grad, value=1)
            std = state["sum"].sqrt().add_(eps)
            p.addcdiv_(grad, std, value=-clr)

    def _step_multi_tensor(self, group, params: list[torch.Tensor]) -> None:
        """Same math as the loop, one ``torch._foreach_*`` op per line for all ``params``."""
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        weight_decay, maximize = group["weight_decay"], group["maximize"]
        states = [self.state[p] for p in params]
        steps = [state["step"] for state in states]
        sums = [state["sum"] for state in states]
        _increment_steps(steps)
        grads = _signed_decayed_grads(params, maximize, weight_decay)
        minus_clr = [-lr / (1 + (step.item() - 1) * lr_decay) for step in steps]  # one per parameter
        torch._foreach_addcmul_(sums, grads, grads, value=1)
        std = torch._foreach_sqrt(sums)
        torch._foreach_add_(std, eps)
        torch._foreach_addcdiv_(params, grads, std, minus_clr)


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
        maximize: ascend instead of descend.

    State:
        ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).

    On CUDA the same math runs as multi-tensor ``torch._foreach_*`` ops over all parameters
    (like torch's default ``foreach=True``); elsewhere as the readable per-parameter loop.

    PyTorch counterpart: ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon")
        _check_nonneg(momentum, "momentum")
        _check_nonneg(weight_decay, "weight_decay")
        _check_nonneg(alpha, "alpha")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _state(self, p: torch.Tensor, group) -> dict:
        """``self.state[p]``, created on the parameter's first step."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _new_step()
            state["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _step_per_parameter(self, group, params: list[torch.Tensor]) -> None:
        """Reference path: a loop over the parameters, a few tensor ops each."""
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        centered, maximize = group["centered"], group["maximize"]
        for p in params:
            state = self._state(p, group)
            grad = p.grad if not maximize else -p.grad
            state["step"] += 1
            if weight_decay != 0:
                grad = grad.add(p, alpha=weight_decay)
            square_avg = state["square_avg"]
            square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
            if centered:
                grad_avg = state["grad_avg"]
                grad_avg.lerp_(grad, 1 - alpha)
                avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_()
            else:
                avg = square_avg.sqrt()
            avg = avg.add_(eps)
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf.mul_(momentum).addcdiv_(grad, avg)
                p.add_(buf, alpha=-lr)
            else:
                p.addcdiv_(grad, avg, value=-lr)

    def _step_multi_tensor(self, group, params: list[torch.Tensor]) -> None:
        """Same math as the loop, one ``torch._foreach_*`` op per line for all ``params``."""
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        weight_decay, momentum = group["weight_decay"], group["momentum"]
        centered, maximize = group["centered"], group["maximize"]
        states = [self._state(p, group) for p in params]
        square_avgs = [state["square_avg"] for state in states]
        grads = _signed_decayed_grads(params, maximize, weight_decay)
        _increment_steps([state["step"] for state in states])
        torch._foreach_mul_(square_avgs, alpha)
        torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - alpha)
        if centered:
            grad_avgs = [state["grad_avg"] for state in states]
            torch._foreach_lerp_(grad_avgs, grads, 1 - alpha)
            avg = torch._foreach_addcmul(square_avgs, grad_avgs, grad_avgs, value=-1)
            torch._foreach_sqrt_(avg)
        else:
            avg = torch._foreach_sqrt(square_avgs)
        torch._foreach_add_(avg, eps)
        if momentum > 0:
            bufs = [state["momentum_buffer"] for state in states]
            torch._foreach_mul_(bufs, momentum)
            torch._foreach_addcdiv_(bufs, grads, avg)
            torch._foreach_add_(params, bufs, alpha=-lr)
        else:
            torch._foreach_addcdiv_(params, grads, avg, value=-lr)


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
        maximize: ascend instead of descend.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of adding
            an L2 term to the gradient.

    State:
        ``step``, ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).

    On CUDA the same math runs as multi-tensor ``torch._foreach_*`` ops over all parameters
    (like torch's default ``foreach=True``); elsewhere as the readable per-parameter loop.

    PyTorch counterpart: ``torch.optim.Adam``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False) -> None:
        _check_nonneg(lr, "learning rate")
        _check_nonneg(eps, "epsilon")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas!r} (must be a pair (beta1, beta2))")
        _check_unit(betas[0], "beta parameter at index 0")
        _check_unit(betas[1], "beta parameter at index 1")
        _check_nonneg(weight_decay, "weight_decay")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _state(self, p: torch.Tensor, group) -> dict:
        """``self.state[p]``, created on the parameter's first step."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _new_step()
            state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _step_per_parameter(self, group, params: list[torch.Tensor]) -> None:
        """Reference path: a loop over the parameters, a few tensor ops each."""
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", False)
        for p in params:
            state = self._state(p, group)
            grad = p.grad if not maximize else -p.grad
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            state["step"] += 1
            if weight_decay != 0:
                if decoupled:
                    p.mul_(1 - lr * weight_decay)
                else:
                    grad = grad.add(p, alpha=weight_decay)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = state["step"].item()
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            step_size = lr / bias_correction1
            bias_correction2_sqrt = bias_correction2**0.5
            if amsgrad:
                max_sq = state["max_exp_avg_sq"]
                torch.maximum(max_sq, exp_avg_sq, out=max_sq)
                denom = (max_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            else:
                denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)

    def _step_multi_tensor(self, group, params: list[torch.Tensor]) -> None:
        """Same math as the loop, one ``torch._foreach_*`` op per line for all ``params``.

        Each parameter keeps its own step count t (it may have had no gradient in some
        steps), so the bias corrections are lists of per-parameter scalars.
        """
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad, maximize = group["weight_decay"], group["amsgrad"], group["maximize"]
        decoupled = group.get("decoupled_weight_decay", False)
        states = [self._state(p, group) for p in params]
        exp_avgs = [state["exp_avg"] for state in states]
        exp_avg_sqs = [state["exp_avg_sq"] for state in states]
        steps = [state["step"] for state in states]
        _increment_steps(steps)
        if weight_decay != 0 and decoupled:
            torch._foreach_mul_(params, 1 - lr * weight_decay)
            grads = _signed_decayed_grads(params, maximize, 0)
        else:
            grads = _signed_decayed_grads(params, maximize, weight_decay)
        torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
        torch._foreach_mul_(exp_avg_sqs, beta2)
        torch._foreach_addcmul_(exp_avg_sqs, grads, grads, value=1 - beta2)
        ts = [step.item() for step in steps]
        minus_step_sizes = [-(lr / (1 - beta1**t)) for t in ts]
        bias_corrections2_sqrt = [(1 - beta2**t) ** 0.5 for t in ts]
        if amsgrad:
            max_sqs = [state["max_exp_avg_sq"] for state in states]
            torch._foreach_maximum_(max_sqs, exp_avg_sqs)
            denom = torch._foreach_sqrt(max_sqs)
        else:
            denom = torch._foreach_sqrt(exp_avg_sqs)
        torch._foreach_div_(denom, bias_corrections2_sqrt)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(params, exp_avgs, denom, minus_step_sizes)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2).

    Math:
        θ ← θ (1 - lr * weight_decay), then the Adam update (the decay is not part of
        the gradient, so it is not rescaled by the adaptive denominator).

    Args:
        As :class:`Adam`, without ``decoupled_weight_decay`` (always on).

    Uses :class:`Adam`'s two code paths (multi-tensor on CUDA, per-parameter loop elsewhere).

    PyTorch counterpart: ``torch.optim.AdamW``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=True)
