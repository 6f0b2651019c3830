"""Optimizers with torch.optim's semantics, in float64 numpy.

Two layers of the same ideas:

* **Classes with torch's semantics** — :class:`SGD`, :class:`Adagrad`,
  :class:`RMSprop`, :class:`Adam`, :class:`AdamW` over :class:`Parameter`
  objects, with torch's names, arguments, defaults, ``param_groups``,
  ``state`` keys, ``step()``, ``zero_grad()``, ``state_dict()`` and
  ``load_state_dict()``.  Given the same gradients they follow the same
  trajectory as ``torch.optim`` in float64 (to rounding), also when a
  group's ``"lr"`` is changed between steps (which is what schedulers do).
  They implement torch's single-tensor code path (the CPU default) without
  the ``maximize``/``foreach``/``fused``/``capturable``/``differentiable``
  switches.
* **Textbook update rules** — :func:`momentum_ewa_update`,
  :func:`adagrad_update`, :func:`rmsprop_update` and :func:`adam_update` are
  small pure functions (they return new arrays and modify nothing) in the
  form the lecture notes write them, to show next to the torch classes.

Differences from torch worth knowing:

* ``state[p]["step"]`` is a Python float here; torch keeps a float32 0-d
  tensor (its ``.item()`` is the same number).
* :class:`Parameter` copies its data (float64); the optimizers update
  ``p.data`` in place.
* Momentum as an exponentially weighted average, v = beta v + (1 - beta) g
  (the lectures), is torch's ``SGD(momentum=beta)`` buffer scaled by
  (1 - beta) — except on the first step, where torch's buffer starts at g
  instead of 0 (see :func:`momentum_ewa_update`).
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any, Callable

import numpy as np

from .functional import _as_float_array, _as_real_scalar

__all__ = [
    "Parameter",
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "momentum_ewa_update",
    "adagrad_update",
    "rmsprop_update",
    "adam_update",
]


class Parameter:
    """A trainable float64 array with its gradient.

    Attributes:
        data: the values (a private float64 copy of what was passed in);
            optimizers update it in place.
        grad: the gradient dL/data, shaped like ``data``, or ``None`` when
            there is none (an optimizer skips such parameters, like torch).

    Parameters hash and compare by identity, so they can key
    ``Optimizer.state``.

    PyTorch counterpart: ``torch.nn.Parameter`` (``.data`` / ``.grad``).
    """

    __slots__ = ("data", "grad", "__weakref__")

    def __init__(self, data):
        self.data = np.array(_as_float_array(data, "data"), dtype=np.float64, copy=True)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, grad={'None' if self.grad is None else 'set'})"


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start <- start + weight * (end - start) in place, with torch.lerp's rounding."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)


def _check_nonneg(group: dict, key: str) -> None:
    value = group[key]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{key} must be a finite number >= 0, got {value!r}")


def _check_unit(group: dict, key: str, value=None) -> None:
    value = group[key] if value is None else value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{key} must lie in [0, 1), got {group[key]!r}")


class Optimizer:
    """Base class: parameter groups, state, zero_grad, state_dict.

    Args:
        params: an iterable of :class:`Parameter`, or of dicts (parameter
            groups) each with a ``"params"`` entry and optional per-group
            hyperparameters that override the defaults, like torch.
        defaults: default hyperparameters of every group.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of
            Parameters) and every hyperparameter (e.g. ``"lr"``); changing
            ``group["lr"]`` between steps changes the learning rate.
        state: dict mapping a Parameter to its per-parameter state (torch's
            keys, e.g. ``"momentum_buffer"``, ``"step"``, ``"exp_avg"``).
        defaults: the default hyperparameters.

    PyTorch counterpart: ``torch.optim.Optimizer``.
    """

    def __init__(self, params, defaults: dict[str, Any]):
        self.defaults = dict(defaults)
        self.state: dict[Parameter, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, (Parameter, dict)):
            raise ValueError("params must be an iterable of Parameters or of dicts, not a single one")
        params = list(params)
        if not params:
            raise ValueError("params is an empty list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for group in params:
            self.add_param_group(group)

    def _validate(self, group: dict) -> None:  # overridden per optimizer
        _check_nonneg(group, "lr")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest).

        Raises:
            ValueError: naming ``params`` for non-Parameters or a parameter
                already in another group, or naming a bad hyperparameter.
        """
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise ValueError("param_group must be a dict with a 'params' entry")
        group = dict(param_group)
        params = group["params"]
        params = [params] if isinstance(params, Parameter) else list(params)
        for p in params:
            if not isinstance(p, Parameter):
                raise ValueError(f"params must hold Parameter objects, got {type(p).__name__}")
        if len(set(map(id, params))) != len(params):
            raise ValueError("params holds the same Parameter twice")
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & set(map(id, params)):
            raise ValueError("params: some parameters appear in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"param_group has unknown option(s) {sorted(unknown)}")
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._validate(group)
        # hyperparameters first, 'params' last, like torch's state_dict
        self.param_groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": params})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every gradient: to ``None`` (default, like torch) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient.

        Args:
            closure: optional function that recomputes the loss (and the
                gradients) and returns it; called first, like torch.

        Returns:
            The closure's loss, or None.

        Raises:
            ValueError: naming ``grad`` if a gradient does not have its
                parameter's shape.
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._validate(group)  # hyperparameters may have been edited
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = _as_float_array(p.grad, "grad")
                if grad.shape != p.data.shape:
                    raise ValueError(f"grad must have the shape of its parameter {p.data.shape}, got {grad.shape}")
                self._update(p, grad, group, self.state.setdefault(p, {}))
        return loss

    def _update(self, p: Parameter, grad: np.ndarray, group: dict, state: dict) -> None:
        raise NotImplementedError

    # -- serialization -----------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Copy of the state, shaped like torch's.

        Returns:
            ``{"state": {index: {key: value}}, "param_groups": [{...,
            "params": [index, ...]}]}`` where parameters are numbered in order
            over all groups; arrays are copies.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**copy.deepcopy({k: v for k, v in group.items() if k != "params"}), "params": ids})
        state = {
            index[id(p)]: copy.deepcopy(s)
            for group in self.param_groups
            for p in group["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (hyperparameters and state, copied).

        Raises:
            ValueError: naming ``state_dict`` when its groups do not match
                this optimizer's groups in number or sizes.
        """
        groups = state_dict.get("param_groups") if isinstance(state_dict, dict) else None
        if groups is None or "state" not in state_dict:
            raise ValueError("state_dict must be a dict with 'state' and 'param_groups'")
        if len(groups) != len(self.param_groups) or any(
            len(g["params"]) != len(own["params"]) for g, own in zip(groups, self.param_groups)
        ):
            raise ValueError("state_dict has parameter groups that do not match this optimizer's")
        by_index = {}
        for saved, own in zip(groups, self.param_groups):
            for i, p in zip(saved["params"], own["params"]):
                by_index[i] = p
        new_groups = []
        for saved, own in zip(groups, self.param_groups):
            group = copy.deepcopy({k: v for k, v in saved.items() if k != "params"})
            new_groups.append({**group, "params": own["params"]})
        self.param_groups = new_groups
        self.state = {}
        for i, s in state_dict["state"].items():
            p = by_index[i]
            restored = copy.deepcopy(s)
            for key, value in restored.items():
                if isinstance(value, np.ndarray) and value.shape != p.data.shape:
                    raise ValueError(f"state_dict: state {key!r} of parameter {i} has shape {value.shape}, expected {p.data.shape}")
            self.state[p] = restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    Math (torch's form; g the gradient, b the momentum buffer):
        g <- g + weight_decay * theta;
        b <- g on the first step, else momentum * b + (1 - dampening) * g;
        d = g + momentum * b if nesterov else b (d = g without momentum);
        theta <- theta - lr * d.

    Args:
        params: Parameters or parameter-group dicts.
        lr: learning rate.  DESIGN.md fixes the default at 1e-3, which is
            also ``torch.optim.SGD``'s default in torch 2.14.
        momentum: momentum factor (0 = plain SGD).
        dampening: dampening of the momentum (torch; EWA-like when equal to
            momentum, but see :func:`momentum_ewa_update`).
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
            _check_nonneg(group, key)
        if not isinstance(group["nesterov"], (bool, np.bool_)):
            raise ValueError(f"nesterov must be True or False, got {group['nesterov']!r}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening = 0")

    def _update(self, p, grad, group, state):
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd != 0:
            grad = grad + wd * p.data
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                # np.array, not grad.copy(): for a 0-d parameter grad + wd * p.data is a numpy scalar,
                # whose in-place updates below would not reach the stored buffer
                buf = state["momentum_buffer"] = np.array(grad, dtype=np.float64)
            else:
                buf *= momentum
                buf += (1.0 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p.data -= lr * grad


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
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value))

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self.state[p] = {"step": 0.0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def _validate(self, group):
        for key in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_nonneg(group, key)

    def _update(self, p, grad, group, state):
        state["step"] += 1.0
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        clr = group["lr"] / (1.0 + (state["step"] - 1.0) * group["lr_decay"])
        state["sum"] += grad * grad
        p.data -= clr * (grad / (np.sqrt(state["sum"]) + group["eps"]))


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
            _check_nonneg(group, key)
        if not isinstance(group["centered"], (bool, np.bool_)):
            raise ValueError(f"centered must be True or False, got {group['centered']!r}")

    def _update(self, p, grad, group, state):
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p.data)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.data)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.data)
        state["step"] += 1.0
        alpha = group["alpha"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p.data
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            _lerp(grad_avg, grad, 1.0 - alpha)
            avg = np.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p.data -= group["lr"] * buf
        else:
            p.data -= group["lr"] * (grad / avg)


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
            _check_nonneg(group, key)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        _check_unit(group, "betas", betas[0])
        _check_unit(group, "betas", betas[1])
        if not isinstance(group["amsgrad"], (bool, np.bool_)):
            raise ValueError(f"amsgrad must be True or False, got {group['amsgrad']!r}")

    def _update(self, p, grad, group, state):
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p.data)
            state["exp_avg_sq"] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p.data)
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        state["step"] += 1.0
        step = state["step"]
        if wd != 0:
            if self._decoupled:
                p.data *= 1.0 - lr * wd
            else:
                grad = grad + wd * p.data
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _lerp(exp_avg, grad, 1.0 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        bias_correction1 = 1.0 - beta1**step
        bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            second = state["max_exp_avg_sq"]
        else:
            second = exp_avg_sq
        denom = np.sqrt(second)
        denom /= bias_correction2_sqrt
        denom += eps
        p.data -= (lr / bias_correction1) * (exp_avg / denom)


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


# ---------------------------------------------------------------------------
# Textbook update rules (pure functions, as in the lecture notes)
# ---------------------------------------------------------------------------


def _pure_args(param, grad, names=("param", "grad"), *others):
    param = _as_float_array(param, names[0])
    grad = _as_float_array(grad, names[1])
    if grad.shape != param.shape:
        raise ValueError(f"{names[1]} must have the shape of {names[0]} {param.shape}, got {grad.shape}")
    out = [param, grad]
    for arr, name in others:
        arr = _as_float_array(arr, name)
        if arr.shape != param.shape:
            raise ValueError(f"{name} must have the shape of param {param.shape}, got {arr.shape}")
        out.append(arr)
    return out


def _rate(value, name, low=0.0, high=1.0):
    value = _as_real_scalar(value, name)
    if not low <= value < high:
        raise ValueError(f"{name} must lie in [{low}, {high}), got {value}")
    return value


def momentum_ewa_update(param, grad, velocity, *, lr, beta=0.9):
    """SGD with momentum as an exponentially weighted average (the lectures' form).

    Math:
        v <- beta v + (1 - beta) g;  theta <- theta - lr v.
        Unrolled, v_t = (1 - beta) sum_k beta**(t-k) g_k, total weight
        1 - beta**t.  torch's ``SGD(momentum=beta)`` keeps b_t = sum_k
        beta**(t-k) g_k instead, so with v_0 = 0 this equals torch's SGD with
        learning rate lr * (1 - beta) exactly.

    Args:
        param: current parameters theta.
        grad: gradient g at theta.
        velocity: previous v (zeros at the start).
        lr: learning rate (epsilon in the notes).
        beta: decay of the average (alpha in the notes), in [0, 1).

    Returns:
        ``(new_param, new_velocity)``; the inputs are not modified.

    Shape:
        param, grad, velocity: the same shape.

    PyTorch counterpart: ``torch.optim.SGD(params, lr=lr * (1 - beta), momentum=beta)``.
    """
    param, grad, velocity = _pure_args(param, grad, ("param", "grad"), (velocity, "velocity"))
    lr = _rate(lr, "lr", 0.0, math.inf)
    beta = _rate(beta, "beta")
    velocity = beta * velocity + (1.0 - beta) * grad
    return param - lr * velocity, velocity


def adagrad_update(param, grad, grad_squared, *, lr, eps=1e-7):
    """AdaGrad in the lectures' form.

    Math:
        r <- r + g**2;  theta <- theta - lr g / (sqrt(r) + eps).

    Args:
        param: current parameters.
        grad: gradient.
        grad_squared: accumulated squared gradients r (zeros at the start).
        lr: learning rate.
        eps: small constant (the notes use 1e-7).

    Returns:
        ``(new_param, new_grad_squared)``; the inputs are not modified.

    Shape:
        param, grad, grad_squared: the same shape.

    PyTorch counterpart: ``torch.optim.Adagrad(params, lr, eps=eps)``.
    """
    param, grad, grad_squared = _pure_args(param, grad, ("param", "grad"), (grad_squared, "grad_squared"))
    lr = _rate(lr, "lr", 0.0, math.inf)
    eps = _rate(eps, "eps", 0.0, math.inf)
    grad_squared = grad_squared + grad * grad
    return param - lr * grad / (np.sqrt(grad_squared) + eps), grad_squared


def rmsprop_update(param, grad, grad_squared, *, lr, decay_rate=0.99, eps=1e-7):
    """RMSProp in the lectures' form.

    Math:
        r <- rho r + (1 - rho) g**2;  theta <- theta - lr g / (sqrt(r) + eps).

    Args:
        param: current parameters.
        grad: gradient.
        grad_squared: running average of squared gradients r (zeros at the start).
        lr: learning rate.
        decay_rate: rho, in [0, 1).
        eps: small constant.

    Returns:
        ``(new_param, new_grad_squared)``; the inputs are not modified.

    Shape:
        param, grad, grad_squared: the same shape.

    PyTorch counterpart: ``torch.optim.RMSprop(params, lr, alpha=decay_rate, eps=eps)``.
    """
    param, grad, grad_squared = _pure_args(param, grad, ("param", "grad"), (grad_squared, "grad_squared"))
    lr = _rate(lr, "lr", 0.0, math.inf)
    decay_rate = _rate(decay_rate, "decay_rate")
    eps = _rate(eps, "eps", 0.0, math.inf)
    grad_squared = decay_rate * grad_squared + (1.0 - decay_rate) * grad * grad
    return param - lr * grad / (np.sqrt(grad_squared) + eps), grad_squared


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
    param, grad, m, v = _pure_args(param, grad, ("param", "grad"), (m, "m"), (v, "v"))
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 1:
        raise ValueError(f"t must be an integer >= 1 (the step number), got {t!r}")
    lr = _rate(lr, "lr", 0.0, math.inf)
    beta1 = _rate(beta1, "beta1")
    beta2 = _rate(beta2, "beta2")
    eps = _rate(eps, "eps", 0.0, math.inf)
    m = beta1 * m + (1.0 - beta1) * grad
    v = beta2 * v + (1.0 - beta2) * grad * grad
    if bias_correction:
        m_hat, v_hat = m / (1.0 - beta1**t), v / (1.0 - beta2**t)
    else:
        m_hat, v_hat = m, v
    return param - lr * m_hat / (np.sqrt(v_hat) + eps), m, v
