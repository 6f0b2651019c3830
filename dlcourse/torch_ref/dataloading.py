"""Measuring the input pipeline: :class:`SlowDataset` and :func:`loader_throughput`.

Training can only go as fast as batches arrive.  When reading and augmenting a sample
costs more than the model's step, the accelerator waits for the CPU.  A ``DataLoader``
with ``num_workers > 0`` prepares batches in background processes while the main
process trains; ``prefetch_factor`` sets how many batches each worker keeps ready, and
``pin_memory`` puts them in page-locked memory so the copy to a CUDA device can run
asynchronously (``.to(device, non_blocking=True)``).

The dataset lives in this module (not in a notebook) so that worker processes can
import it also where they are started with ``spawn`` (macOS, Windows).
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable, Iterable

import torch
from torch.utils.data import Dataset

from dlcourse.torch_ref.device import get_device

__all__ = ["SlowDataset", "loader_throughput"]


class SlowDataset(Dataset):
    """In-memory ``(X[i], y[i])`` pairs with an artificial per-item cost.

    Each ``__getitem__`` first waits ``latency`` seconds (a stand-in for reading the
    sample from disk or the network: the CPU is idle meanwhile) and then applies
    ``transform`` to the input (real CPU work such as an augmentation).

    Args:
        X: inputs, a tensor with the samples along dimension 0.
        y: targets, a tensor of the same length.
        latency: seconds to wait per item, >= 0.
        transform: optional callable applied to ``X[i]`` (e.g.
            :func:`dlcourse.data.augmentation`).

    Raises:
        ValueError: naming ``X``/``y`` for mismatched lengths or non-tensors, or
            ``latency`` for a negative or non-finite value.

    Shape:
        X: (N, ...), y: (N, ...); item i: (X[i] transformed, y[i]).

    PyTorch counterpart: ``torch.utils.data.TensorDataset`` (without the cost and the transform).
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, *, latency: float = 0.0,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise ValueError(f"X and y must be tensors, got {type(X).__name__} and {type(y).__name__}")
        if X.dim() == 0 or y.dim() == 0 or len(X) != len(y):
            raise ValueError(f"X and y must have the same length along dimension 0, got shapes "
                             f"{tuple(X.shape)} and {tuple(y.shape)}")
        if isinstance(latency, bool) or not isinstance(latency, numbers.Real) or not 0 <= latency < float("inf"):
            raise ValueError(f"latency must be a finite number of seconds >= 0, got {latency!r}")
        self.X, self.y, self.latency, self.transform = X, y, float(latency), transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, index: int):
        if self.latency > 0:
            time.sleep(self.latency)
        x = self.X[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[index]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def loader_throughput(loader: Iterable, *, batches: int | None = None, step_time: float = 0.0,
                      device: str | torch.device | None = None, warmup: int = 1) -> dict[str, float]:
    """Batches per second that a training loop would get from ``loader``.

    For each batch: move it to ``device`` (``non_blocking=True``, effective when the
    loader pins memory) and then "train" for ``step_time`` seconds, simulated by
    waiting — as when an accelerator computes while the CPU is free.  The first
    ``warmup`` batches (which include starting the worker processes) are timed
    separately and excluded from the rate.

    Args:
        loader: an iterable of ``(inputs, targets)`` batches, e.g. a ``DataLoader``.
        batches: number of batches to time after the warm-up (default: the rest of one pass).
        step_time: simulated seconds of compute per batch, >= 0.
        device: where batches are copied; default :func:`get_device`.
        warmup: batches excluded from the rate, >= 0.

    Returns:
        ``{"batches_per_s", "samples_per_s", "first_batch_s" (time to the first batch, worker
        start-up included), "wait_fraction" (share of the timed loop spent waiting for data),
        "batches" (number timed)}``.

    Raises:
        ValueError: naming ``step_time``, ``warmup`` or ``batches`` for bad values, or
            ``loader`` if it yields fewer than ``warmup + 1`` batches.

    PyTorch counterpart: none; the PyTorch profiler or ``torch.utils.bottleneck`` give finer detail.
    """
    if isinstance(step_time, bool) or not isinstance(step_time, numbers.Real) or not 0 <= step_time < float("inf"):
        raise ValueError(f"step_time must be a finite number of seconds >= 0, got {step_time!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Integral) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if batches is not None and (isinstance(batches, bool) or not isinstance(batches, numbers.Integral) or batches < 1):
        raise ValueError(f"batches must be None or a positive integer, got {batches!r}")
    device = get_device() if device is None else torch.device(device)

    start = time.perf_counter()
    first_batch_s = None
    timed, samples, waiting, t_loop = 0, 0, 0.0, None
    it = iter(loader)
    seen = 0
    while batches is None or timed < batches:
        t_ask = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            break
        t_got = time.perf_counter()
        if first_batch_s is None:
            first_batch_s = t_got - start
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        if seen >= warmup:
            if t_loop is None:
                t_loop = t_ask
            waiting += t_got - t_ask
            timed += 1
            samples += len(y)
        if step_time > 0:
            time.sleep(step_time)
        _sync(device)
        seen += 1
    end = time.perf_counter()
    del it  # shut the workers down
    if timed == 0:
        raise ValueError(f"loader must yield more than warmup={warmup} batches, got {seen}")
    elapsed = end - t_loop
    return {
        "batches_per_s": timed / elapsed,
        "samples_per_s": samples / elapsed,
        "first_batch_s": float(first_batch_s),
        "wait_fraction": waiting / elapsed,
        "batches": float(timed),
    }
