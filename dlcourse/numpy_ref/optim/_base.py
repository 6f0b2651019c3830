"""Plumbing shared by the numpy optimizers: :class:`Parameter`, the :class:`Optimizer` base, helpers.

Nothing here does optimizer arithmetic: that lives in one pure ``_single_tensor_<algo>``
function per algorithm (modules :mod:`.sgd`, :mod:`.adagrad`, :mod:`.rmsprop`, :mod:`.adam`),
in the shape of ``torch.optim.adam._single_tensor_adam``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.validation import Array, as_float_array, check_nonnegative

__all__ = ["Parameter", "Optimizer"]


class Parameter:
    """A trainable float64 array with its gradient.

    Attributes:
        data: the values (a private float64 copy of what was passed in);
            optimizers update it in place.
        grad: the gradient dL/data, shaped like ``data``, or ``None`` when
            there is none (an optimizer skips such parameters, like torch).

    Parameters hash and compare by identity, so they can key
    ``Optimizer.state``.

    Shape:
        ``grad``: like ``data`` (any shape, 0-d included).

    PyTorch counterpart: ``torch.nn.Parameter`` (``.data`` / ``.grad``).
    """

    __slots__ = ("data", "grad", "__weakref__")

    def __init__(self, data):
        self.data = np.array(as_float_array(data, "data"), dtype=np.float64, copy=True)
        self.grad: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of ``data``."""
        return self.data.shape

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, grad={'None' if self.grad is None else 'set'})"


def _lerp(start: Array, end: Array, weight: float) -> None:
    """start <- start + weight * (end - start) in place, with torch.lerp's rounding."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1.0 - weight)


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def _textbook_arrays(param, grad, **state) -> list[Array]:
    """Float64 copies of ``param`` and of each state array (the textbook functions modify nothing), and ``grad``.

    Returns:
        ``[param, grad, *state.values()]``; ``param`` and the state arrays are fresh copies
        that the update core may modify in place.

    Raises:
        ValueError: naming the argument that is not real numbers or not shaped like ``param``.
    """
    param = np.array(as_float_array(param, "param"), dtype=np.float64, copy=True)
    out = [param]
    for name, arr in (("grad", grad), *state.items()):
        arr = as_float_array(arr, name)
        if arr.shape != param.shape:
            raise ValueError(f"{name} must have the shape of param {param.shape}, got {arr.shape}")
        out.append(arr if name == "grad" else np.array(arr, dtype=np.float64, copy=True))
    return out


class Optimizer:
    """Base class: parameter groups, state, zero_grad, step, state_dict.

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

    Subclasses implement ``_validate(group)`` and ``_update_group(group, params, grads)``:
    gather the group's state into lists and call their algorithm's ``_single_tensor_<algo>``.

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
        check_nonnegative(group["lr"], "lr")

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
                parameter's shape (checked before any parameter of the group moves).
        """
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            self._validate(group)  # hyperparameters may have been edited
            params, grads = [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = as_float_array(p.grad, "grad")
                if grad.shape != p.data.shape:
                    raise ValueError(f"grad must have the shape of its parameter {p.data.shape}, got {grad.shape}")
                params.append(p)
                grads.append(grad)
                self.state.setdefault(p, {})  # every parameter that took a step has a state, as in torch
            if params:
                self._update_group(group, params, grads)
        return loss

    def _update_group(self, group: dict, params: list[Parameter], grads: list[Array]) -> None:
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
                    raise ValueError(f"state_dict: state {key!r} of parameter {i} has shape {value.shape}, "
                                     f"expected {p.data.shape}")
            self.state[p] = restored

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])
