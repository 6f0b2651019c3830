"""Plumbing shared by the tensor-op optimizers: the ``foreach`` rule, grouping, step counters, checks.

Nothing here does optimizer arithmetic: that lives in one pure ``_single_tensor_<algo>`` and one
``_multi_tensor_<algo>`` function per algorithm (modules :mod:`.sgd`, :mod:`.adagrad`,
:mod:`.rmsprop`, :mod:`.adam`), in the shape of ``torch.optim.adam._single_tensor_adam``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.optim import Optimizer

#: Devices where ``foreach=None`` picks the multi-tensor path (torch's default rule, CUDA only here).
_FOREACH_DEVICES = ("cuda",)
_PLAIN_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)


def _default_to_foreach(params: Sequence[torch.Tensor]) -> bool:
    """Torch's default for ``foreach=None``: multi-tensor when every parameter is a plain CUDA tensor."""
    return bool(params) and all(type(p) in _PLAIN_TENSOR_TYPES and p.device.type in _FOREACH_DEVICES
                                for p in params)


def _check_foreach(foreach: Any) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise ValueError(f"foreach must be None, True or False, got {foreach!r}")


def _new_step() -> torch.Tensor:
    """A step counter as torch keeps it: a 0-d float32 CPU tensor (reading it never syncs a GPU)."""
    return torch.tensor(0.0, dtype=torch.float32)


def _group_tensors_by_device_and_dtype(
    tensorlists: list[list[Any]],
) -> list[tuple[list[list[Any]], list[int]]]:
    """Split parallel lists by the device and dtype of ``tensorlists[0]`` (the parameters).

    Returns:
        One ``(sublists, indices)`` per (device, dtype), order kept within each: ``sublists[k]``
        holds ``tensorlists[k][i]`` for ``i`` in ``indices``; an empty list (e.g.
        ``max_exp_avg_sqs`` without amsgrad) stays empty. Entries may be ``None``.

    PyTorch counterpart: ``torch.optim.Optimizer._group_tensors_by_device_and_dtype``.
    """
    buckets: dict[tuple[torch.device, torch.dtype], list[int]] = {}
    for i, p in enumerate(tensorlists[0]):
        buckets.setdefault((p.device, p.dtype), []).append(i)
    return [([[lst[i] for i in idx] if lst else [] for lst in tensorlists], idx) for idx in buckets.values()]


def _increment_steps(state_steps: list[torch.Tensor]) -> None:
    """``step += 1`` for every step counter with one multi-tensor op."""
    if state_steps[0].is_cpu:  # one wrapped scalar instead of one per tensor
        torch._foreach_add_(state_steps, torch.tensor(1.0), alpha=1.0)
    else:
        torch._foreach_add_(state_steps, 1)


def _signed_decayed_grads(params: list[torch.Tensor], grads: list[torch.Tensor], maximize: bool,
                          weight_decay: float) -> list[torch.Tensor]:
    """``±grad + weight_decay * θ`` for a list of parameters, never writing into ``grads``."""
    if maximize:
        grads = torch._foreach_neg(grads)
        if weight_decay != 0:
            torch._foreach_add_(grads, params, alpha=weight_decay)  # reuse the fresh copies
    elif weight_decay != 0:
        grads = torch._foreach_add(grads, params, alpha=weight_decay)
    return grads


class _Base(Optimizer):
    """Shared plumbing: closure, parameters with gradients, the ``foreach`` choice per param group.

    Subclasses implement ``_update_group(group, params, grads, foreach)``: gather the state
    lists (``_init_group`` in torch) and call their ``_single_tensor_<algo>`` or
    ``_multi_tensor_<algo>`` function with the group's hyperparameters.
    """

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:  # state dicts saved without these keys (older versions)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)

    def _params_with_grad(self, group: dict[str, Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        params, grads = [], []
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            params.append(p)
            grads.append(p.grad)
        return params, grads

    @staticmethod
    def _use_foreach(group: dict[str, Any], params: list[torch.Tensor]) -> bool:
        """``group["foreach"]`` if set, else torch's default rule (:func:`_default_to_foreach`)."""
        foreach = group.get("foreach")
        return _default_to_foreach(params) if foreach is None else bool(foreach)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        """One update of every parameter that has a gradient; returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = self._params_with_grad(group)
            if params:
                self._update_group(group, params, grads, self._use_foreach(group, params))
        return loss

    def _update_group(self, group: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor],
                      foreach: bool) -> None:
        raise NotImplementedError
