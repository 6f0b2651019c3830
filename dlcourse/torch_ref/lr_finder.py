"""The learning-rate range test ("LR finder"): :func:`lr_range_test` and :func:`suggest_lr`.

Train for a few hundred steps while the learning rate grows exponentially from a
tiny to a huge value, recording the loss of every batch.  Plotted against the
learning rate on a log axis, the loss first stays flat (the rate is too small to
move anything), then falls (useful rates), then shoots up (divergence).  A good
starting rate sits where the loss falls fastest, somewhat below the rate at the
minimum.  (L. Smith, "Cyclical Learning Rates for Training Neural Networks", 2017.)
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

from dlcourse.torch_ref.device import get_device
from dlcourse.validation import check_positive

__all__ = ["lr_range_test", "suggest_lr"]


def _batches(loader: Iterable):
    """Cycle through ``loader`` forever (a new pass, e.g. a new shuffle, each time it runs out)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("loader yielded no batches")


def lr_range_test(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    optimizer_cls: type[torch.optim.Optimizer] = torch.optim.SGD,
    *,
    start_lr: float = 1e-6,
    end_lr: float = 10.0,
    num_steps: int = 100,
    device: str | torch.device | None = None,
    optimizer_kwargs: dict | None = None,
    divergence_factor: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Loss of every training step while the learning rate grows geometrically.

    Step ``i`` (0-based) uses the learning rate
    ``lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``: the loss of
    the next batch is computed with the current weights, recorded, and then the
    optimizer takes one step at ``lr_i``.  The loader is cycled if it has fewer
    than ``num_steps`` batches.  A fresh ``optimizer_cls`` is built for the test,
    and at the end the model's weights and buffers (``state_dict``), its device
    and its train/eval mode are restored, so the model can be trained for real
    afterwards.  (The global random generators are *not* restored: dropout and
    shuffling draw from them.)

    Math:
        lr_i = start_lr * (end_lr / start_lr) ** (i / (num_steps - 1)),
        losses[i] = loss_fn(model_i(x_i), y_i), model_{i+1} = optimizer step at lr_i.

    Args:
        model: the network (trained in ``train()`` mode during the test).
        loader: yields ``(inputs, targets)`` batches, e.g. a shuffling ``DataLoader``.
        loss_fn: a mean-reduced loss, default ``nn.CrossEntropyLoss()``.
        optimizer_cls: the optimizer class, built as
            ``optimizer_cls(model.parameters(), lr=start_lr, **optimizer_kwargs)``.
        start_lr: the first learning rate, > 0.
        end_lr: the last learning rate, > ``start_lr``.
        num_steps: number of steps (and of recorded losses), >= 2.
        device: where to run; default :func:`get_device`.
        optimizer_kwargs: extra optimizer arguments such as ``momentum`` or
            ``weight_decay`` (not ``lr``).
        divergence_factor: stop early once a loss exceeds this factor times the
            smallest loss seen so far, or is not finite (e.g. 4.0); None runs all
            ``num_steps`` steps (a non-finite loss still stops the test).

    Returns:
        ``(lrs, losses)``: two float64 arrays of the same length (``num_steps``, or
        fewer when the test stopped early), the learning rate used at each step and
        the loss recorded before that step.

    Raises:
        ValueError: naming the argument, for a non-positive or non-finite
            ``start_lr``/``end_lr``, ``end_lr <= start_lr``, ``num_steps < 2``,
            ``divergence_factor <= 1``, ``lr`` inside ``optimizer_kwargs``, or a
            loader without batches.

    Shape:
        lrs, losses: (num_steps,) (or shorter after an early stop).

    PyTorch counterpart: none in torch itself; the ``torch-lr-finder`` package
    (``LRFinder.range_test(..., step_mode="exp")``) and Lightning's
    ``Tuner.lr_find`` do the same.
    """
    start_lr = check_positive(start_lr, "start_lr")
    end_lr = check_positive(end_lr, "end_lr")
    if end_lr <= start_lr:
        raise ValueError(f"end_lr must be larger than start_lr={start_lr}, got {end_lr}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, numbers.Integral) or num_steps < 2:
        raise ValueError(f"num_steps must be an integer >= 2, got {num_steps!r}")
    if divergence_factor is not None and (
        isinstance(divergence_factor, bool) or not isinstance(divergence_factor, numbers.Real)
        or not divergence_factor > 1
    ):
        raise ValueError(f"divergence_factor must be None or a number > 1, got {divergence_factor!r}")
    optimizer_kwargs = dict(optimizer_kwargs or {})
    if "lr" in optimizer_kwargs:
        raise ValueError("optimizer_kwargs must not contain 'lr' (the test sets it: use start_lr/end_lr)")
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    device = get_device() if device is None else torch.device(device)

    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps, dtype=np.float64) / (num_steps - 1))
    saved_state = copy.deepcopy(model.state_dict())
    saved_devices = {name: t.device for name, t in model.state_dict().items()}
    was_training = model.training
    losses: list[float] = []
    try:
        model.to(device)
        model.train()
        optimizer = optimizer_cls(model.parameters(), lr=float(lrs[0]), **optimizer_kwargs)
        best = math.inf
        batches = _batches(loader)
        for lr in lrs:
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            batch = next(batches)
            if not isinstance(batch, (list, tuple)) or len(batch) != 2:
                raise ValueError("loader must yield pairs (inputs, targets)")
            x, y = batch[0].to(device), batch[1].to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            value = float(loss.item())
            losses.append(value)
            if not math.isfinite(value):
                break
            if divergence_factor is not None and value > divergence_factor * best:
                break
            best = min(best, value)
            loss.backward()
            optimizer.step()
    finally:
        model.load_state_dict(saved_state)
        # load_state_dict copies in place: put every tensor back on the device it came from
        devices = set(saved_devices.values())
        if len(devices) == 1:
            model.to(devices.pop())
        model.train(was_training)
    n = len(losses)
    return lrs[:n].copy(), np.asarray(losses, dtype=np.float64)


def suggest_lr(lrs, losses, *, smooth: int = 5, skip_end: int = 0) -> float:
    """The learning rate where the (smoothed) loss falls fastest against log(lr).

    Smooths ``losses`` with a centred moving average of ``smooth`` values (edges
    average what is available), takes the slope ``d loss / d log10(lr)`` by
    ``numpy.gradient`` and returns the learning rate with the most negative slope.
    Points after the smallest smoothed loss are ignored (the loss is already
    rising there), as are the last ``skip_end`` points.

    Math:
        s = moving_average(losses), slope_i = (ds/d log10 lr)_i,
        lr* = lrs[argmin_{i <= argmin s} slope_i].

    Args:
        lrs: the learning rates of :func:`lr_range_test`, increasing, > 0.
        losses: the recorded losses, same length (at least 3 finite values).
        smooth: moving-average window, odd integer >= 1.
        skip_end: ignore this many trailing points, >= 0.

    Returns:
        The suggested learning rate (one of ``lrs``).

    Raises:
        ValueError: naming ``lrs``/``losses`` for mismatched lengths, fewer than 3
            points, non-increasing or non-positive ``lrs``; ``smooth`` if it is not an
            odd positive integer; ``skip_end`` if negative or too large.

    Shape:
        lrs, losses: (T,) -> scalar.

    PyTorch counterpart: ``torch-lr-finder``'s ``LRFinder.plot(suggest_lr=True)``
    (steepest gradient of the loss).
    """
    x = np.asarray(lrs, dtype=np.float64)
    y = np.asarray(losses, dtype=np.float64)
    if x.ndim != 1 or y.shape != x.shape:
        raise ValueError(f"lrs and losses must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
    if isinstance(smooth, bool) or not isinstance(smooth, numbers.Integral) or smooth < 1 or smooth % 2 == 0:
        raise ValueError(f"smooth must be an odd positive integer, got {smooth!r}")
    if isinstance(skip_end, bool) or not isinstance(skip_end, numbers.Integral) or skip_end < 0:
        raise ValueError(f"skip_end must be a non-negative integer, got {skip_end!r}")
    finite = np.isfinite(y)
    x, y = x[finite], y[finite]
    if skip_end:
        x, y = x[:-skip_end], y[:-skip_end]
    if x.size < 3:
        raise ValueError(f"losses must hold at least 3 finite values (after skip_end), got {x.size}")
    if np.any(x <= 0) or np.any(np.diff(x) <= 0):
        raise ValueError("lrs must be positive and strictly increasing")
    half = smooth // 2
    csum = np.cumsum(np.concatenate(([0.0], y)))
    idx = np.arange(y.size)
    lo, hi = np.maximum(idx - half, 0), np.minimum(idx + half + 1, y.size)
    s = (csum[hi] - csum[lo]) / (hi - lo)
    slope = np.gradient(s, np.log10(x))
    stop = int(np.argmin(s)) + 1
    if stop < 2:  # the loss only rises: the best we can say is the smallest rate
        return float(x[0])
    return float(x[int(np.argmin(slope[:stop]))])
