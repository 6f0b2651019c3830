"""Adam and AdamW: the classes, their pure update core, and the lectures' form."""

from __future__ import annotations

import numpy as np

from dlcourse.validation import Array, check_integer, check_nonnegative, check_unit_interval

from ._base import Optimizer, _check_bool, _lerp, _textbook_arrays

__all__ = ["Adam", "AdamW", "adam_update"]


class Adam(Optimizer):
    """Adam (optionally AMSGrad) with torch's bias-corrected update.

    Math:
        t <- t + 1; g <- g + weight_decay * theta (L2, coupled);
        m <- beta1 m + (1 - beta1) g; v <- beta2 v + (1 - beta2) g**2;
        amsgrad: vmax <- max(vmax, v), use vmax for v below;
        theta <- theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps).
        This is the lectures' m_hat / (sqrt(v_hat) + eps) with bias-corrected
        m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t).

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.
        betas: (beta1, beta2), decay rates of the two moment averages.
        eps: added to the denominator.
        weight_decay: L2 penalty added to the gradient (see :class:`AdamW`
            for the decoupled form).
        amsgrad: use the running maximum of v (AMSGrad).

    State:
        ``"step"`` (float), ``"exp_avg"``, ``"exp_avg_sq"``,
        ``"max_exp_avg_sq"`` (amsgrad only).

    Shape:
        any parameter shapes.

    PyTorch counterpart: ``torch.optim.Adam``.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def _validate(self, group):
        for key in ("lr", "eps", "weight_decay"):
            check_nonnegative(group[key], key)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        check_unit_interval(betas[0], "betas[0]")
        check_unit_interval(betas[1], "betas[1]")
        _check_bool(group["amsgrad"], "amsgrad")

    def _update_group(self, group, params, grads):
        states = []
        for p in params:  # state created on a parameter's first step
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0.0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = np.zeros_like(p.data)
            states.append(state)
        steps = [s["step"] for s in states]
        beta1, beta2 = group["betas"]
        _single_tensor_adam([p.data for p in params], grads, [s["exp_avg"] for s in states],
                            [s["exp_avg_sq"] for s in states],
                            [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [], steps,
                            amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
                            weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
                            decoupled_weight_decay=self._decoupled)
        for s, step in zip(states, steps):
            s["step"] = step


class AdamW(Adam):
    """Adam with decoupled weight decay.

    Math:
        theta <- theta * (1 - lr * weight_decay) first, then the Adam step
        on the raw gradient (the decay does not pass through m and v).

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.
        betas: (beta1, beta2).
        eps: added to the denominator.
        weight_decay: decoupled decay coefficient (default 1e-2, like torch).
        amsgrad: use the running maximum of v.

    State:
        as :class:`Adam`.

    Shape:
        any parameter shapes.

    PyTorch counterpart: ``torch.optim.AdamW``.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


def _single_tensor_adam(params: list[Array], grads: list[Array], exp_avgs: list[Array], exp_avg_sqs: list[Array],
                        max_exp_avg_sqs: list[Array], state_steps: list[float], *, amsgrad: bool, beta1: float,
                        beta2: float, lr: float, weight_decay: float, eps: float, maximize: bool = False,
                        decoupled_weight_decay: bool = False, bias_correction: bool = True) -> None:
    """The Adam/AdamW update of each parameter, in place: the one copy of Adam's arithmetic.

    Args:
        params: float64 arrays, updated in place.
        grads: their gradients (read, never written).
        exp_avgs: first moments m, updated in place.
        exp_avg_sqs: second moments v, updated in place.
        max_exp_avg_sqs: running maxima of v (amsgrad; may be empty otherwise).
        state_steps: step counts t (floats); each entry is replaced by t + 1.
        amsgrad, beta1, beta2, lr, weight_decay, eps: as :class:`Adam`.
        maximize: ascend instead of descend (torch's flag; the numpy classes never set it).
        decoupled_weight_decay: AdamW's decay theta <- theta (1 - lr weight_decay) instead of L2.
        bias_correction: not in torch: False drops the division by 1 - beta**t (the
            uncorrected update of :func:`adam_update`).

    Math: see :class:`Adam`. Shape: the i-th entries of every list share a shape.

    PyTorch counterpart: ``torch.optim.adam._single_tensor_adam``.
    """
    for i, param in enumerate(params):
        grad = grads[i] if not maximize else -grads[i]
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        state_steps[i] += 1.0
        step = state_steps[i]
        if weight_decay != 0:
            if decoupled_weight_decay:
                param *= 1.0 - lr * weight_decay
            else:
                grad = grad + weight_decay * param
        _lerp(exp_avg, grad, 1.0 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        bias_correction1 = 1.0 - beta1**step if bias_correction else 1.0
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5 if bias_correction else 1.0
        if amsgrad:
            np.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            second = max_exp_avg_sqs[i]
        else:
            second = exp_avg_sq
        denom = np.sqrt(second) / bias_correction2_sqrt + eps
        param -= (lr / bias_correction1) * (exp_avg / denom)


def adam_update(param, grad, m, v, t, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
    """Adam in the lectures' form, with or without bias correction.

    Math:
        m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g**2;
        with bias correction m_hat = m / (1 - beta1**t), v_hat = v / (1 - beta2**t),
        without it m_hat = m, v_hat = v;
        theta <- theta - lr m_hat / (sqrt(v_hat) + eps).
        Both averages start at 0, so early on they underestimate; ignoring
        eps, the uncorrected step is the corrected one times
        (1 - beta1**t) / sqrt(1 - beta2**t): 0.1 / 0.0316 = 3.16 at t = 1 for
        the default betas (the second moment is the more biased one), and
        tending to 1 as t grows.
        Computed by :func:`_single_tensor_adam` (the core of :class:`Adam`) from
        step t - 1 (so with torch's rounding: sqrt(v) / sqrt(1 - beta2**t) for
        sqrt(v_hat)); with bias correction it is one step of ``Adam`` exactly.

    Args:
        param: current parameters.
        grad: gradient.
        m: first-moment average (zeros at the start).
        v: second-moment average (zeros at the start).
        t: the step number of this update, counting from 1.
        lr: learning rate.
        beta1: decay of m, in [0, 1).
        beta2: decay of v, in [0, 1).
        eps: added to sqrt(v_hat).
        bias_correction: divide by 1 - beta**t (True, as torch) or not.

    Returns:
        ``(new_param, new_m, new_v)``; the inputs are not modified.

    Shape:
        param, grad, m, v: the same shape.

    PyTorch counterpart: ``torch.optim.Adam`` (with bias correction).
    """
    param, grad, m, v = _textbook_arrays(param, grad, m=m, v=v)
    t = check_integer(t, "t (the step number)", minimum=1)
    lr = check_nonnegative(lr, "lr")
    beta1 = check_unit_interval(beta1, "beta1")
    beta2 = check_unit_interval(beta2, "beta2")
    eps = check_nonnegative(eps, "eps")
    _single_tensor_adam([param], [grad], [m], [v], [], [float(t - 1)], amsgrad=False, beta1=beta1, beta2=beta2,
                        lr=lr, weight_decay=0.0, eps=eps, bias_correction=bool(bias_correction))
    return param, m, v
