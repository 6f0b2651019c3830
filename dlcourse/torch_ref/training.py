"""A compact, device-agnostic training loop: :func:`fit`, :func:`evaluate` and :class:`History`.

``fit`` does what every course notebook would otherwise repeat: device
placement, ``model.train()`` / ``model.eval()`` and ``torch.no_grad()`` in the
right places, a learning-rate scheduler stepped per batch or per epoch,
gradient accumulation, gradient clipping, early stopping that restores the best
weights, optional mixed precision on CUDA and a tqdm progress bar.  It returns a
:class:`History` that :func:`dlcourse.plots.plot_history` turns into learning
curves.
"""

from __future__ import annotations

import copy
import math
import time
import warnings
from collections.abc import Callable, Iterable

import torch
from torch import nn

from dlcourse.history import History
from dlcourse.torch_ref.device import get_device

__all__ = ["History", "fit", "evaluate", "accuracy"]


def accuracy(output: torch.Tensor, target: torch.Tensor) -> float:
    """Fraction of rows whose arg-max class equals the integer target.

    Shape:
        output: (N, C) scores or logits; target: (N,) integer class labels.

    PyTorch counterpart: ``(output.argmax(1) == target).float().mean()``.
    """
    if output.dim() != 2:
        raise ValueError(f"output must have shape (N, C), got shape {tuple(output.shape)}")
    if target.shape != output.shape[:1]:
        raise ValueError(f"target must have shape ({output.shape[0]},), got shape {tuple(target.shape)}")
    return (output.argmax(dim=1) == target).float().mean().item()


def _is_classification(output: torch.Tensor, target: torch.Tensor) -> bool:
    return output.dim() == 2 and target.dim() == 1 and not target.is_floating_point() and len(target) == len(output)


# fit's monitor argument -> the History series it watches (the long names are accepted too)
_MONITORS = {"val_loss": "val_loss", "train_loss": "train_loss", "val_acc": "val_acc", "train_acc": "train_acc",
             "val_accuracy": "val_acc", "train_accuracy": "train_acc"}


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(b, device) for b in batch)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    return batch


def _split(batch):
    if not isinstance(batch, (list, tuple)) or len(batch) != 2:
        raise ValueError("each batch must be a pair (inputs, targets), as a DataLoader over (x, y) yields")
    return batch[0], batch[1]


def _progress(iterable, enabled: bool, desc: str, total=None):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False)


def evaluate(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    *,
    device: str | torch.device | None = None,
    progress: bool = False,
) -> dict[str, float]:
    """Mean loss (and accuracy for classification) of ``model`` over ``loader``.

    Runs in evaluation mode under ``torch.no_grad()`` and puts the model back in
    the mode it was in.  Batch means are weighted by batch size, so the result is
    the mean over all samples.

    Args:
        model: the network.
        loader: yields ``(inputs, targets)`` batches (e.g. a ``DataLoader``).
        loss_fn: a mean-reduced loss, default ``nn.CrossEntropyLoss()``.
        device: where to run; the model is moved there first (as :func:`fit` does).
            Default: the model's device (its first parameter's), or
            :func:`get_device` for a parameterless model.
        progress: show a tqdm bar.

    Returns:
        ``{"loss": ..., "accuracy": ...}`` (accuracy only for (N, C) outputs with
        integer targets).
    """
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    device = _model_device(model) if device is None else torch.device(device)
    model.to(device)
    was_training = model.training
    model.eval()
    total, loss_sum, correct, classification = 0, 0.0, 0.0, None
    try:
        with torch.no_grad():
            for batch in _progress(loader, progress, "eval"):
                x, y = _split(_to_device(batch, device))
                out = model(x)
                n = len(y)
                loss_sum += loss_fn(out, y).item() * n
                if classification is None:
                    classification = _is_classification(out, y)
                if classification:
                    correct += (out.argmax(dim=1) == y).sum().item()
                total += n
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("loader yielded no samples")
    result = {"loss": loss_sum / total}
    if classification:
        result["accuracy"] = correct / total
    return result


def _model_device(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return get_device()


def fit(
    model: nn.Module,
    train_loader: Iterable,
    *,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    epochs: int = 1,
    val_loader: Iterable | None = None,
    device: str | torch.device | None = None,
    scheduler=None,
    scheduler_interval: str = "epoch",
    accumulation_steps: int = 1,
    clip_grad_norm: float | None = None,
    early_stopping_patience: int | None = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    restore_best_weights: bool = True,
    mixed_precision: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
    history: History | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader``.

    Each epoch: ``model.train()``; for every batch, move it to ``device``, compute
    the (mean) loss, backpropagate; every ``accumulation_steps`` batches (and at
    the end of the epoch) optionally clip the gradient norm, take an optimizer step
    and zero the gradients; step a per-batch scheduler after each optimizer step.
    Then evaluate on ``val_loader`` (eval mode, no_grad), step a per-epoch scheduler
    (``ReduceLROnPlateau`` gets the monitored value) and check early stopping.

    Gradient accumulation: each micro-batch's mean loss is weighted by its share of
    the accumulated samples, so k micro-batches of size B give exactly the gradient of
    one batch of k·B for a mean-reduced loss (also when the last group is shorter).

    Args:
        model: the network; moved to ``device``.
        train_loader: yields ``(inputs, targets)`` batches.
        optimizer: any ``torch.optim.Optimizer`` over the model's parameters.
        loss_fn: a mean-reduced loss, default ``nn.CrossEntropyLoss()``.
        epochs: number of epochs, >= 1.
        val_loader: optional validation batches, evaluated after every epoch.
        device: default :func:`get_device`.
        scheduler: an ``lr_scheduler`` instance, or None.
        scheduler_interval: "epoch" or "batch" (after every optimizer step).
        accumulation_steps: micro-batches per optimizer step, >= 1.
        clip_grad_norm: clip the total gradient 2-norm to this value (None: no clipping).
        early_stopping_patience: stop after this many epochs without improvement of
            ``monitor`` by more than ``min_delta`` (None: never stop early).
        monitor: "val_loss" (default with a val_loader), "val_acc", "train_loss" (default
            without) or "train_acc" (the :class:`History` series; "val_accuracy" and
            "train_accuracy" are accepted too); losses are minimised, accuracies maximised.
        min_delta: minimal improvement that counts, >= 0.
        restore_best_weights: with early stopping, load the best epoch's weights at the end.
        mixed_precision: autocast to float16 with a GradScaler; CUDA only (elsewhere a
            warning and full precision).
        progress: show tqdm progress bars.
        max_steps: stop after this many optimizer steps (for bounded runs in tests).
        history: continue this History instead of starting a new one.

    Returns:
        The :class:`History` (the class :func:`dlcourse.numpy_ref.models.train` returns
        too): ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr``,
        ``epoch_time`` per epoch, ``batch_loss`` per batch, ``best_epoch``,
        ``stopped_epoch`` (``stopped_early``), ``restored_best`` and ``monitor``
        (the series watched, e.g. "val_loss").
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
    if isinstance(accumulation_steps, bool) or not isinstance(accumulation_steps, int) or accumulation_steps < 1:
        raise ValueError(f"accumulation_steps must be an integer >= 1, got {accumulation_steps!r}")
    if scheduler_interval not in ("epoch", "batch"):
        raise ValueError(f"scheduler_interval must be 'epoch' or 'batch', got {scheduler_interval!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be positive or None, got {clip_grad_norm!r}")
    if early_stopping_patience is not None and (
        not isinstance(early_stopping_patience, int) or early_stopping_patience < 0
    ):
        raise ValueError(f"early_stopping_patience must be an integer >= 0 or None, got {early_stopping_patience!r}")
    if min_delta < 0:
        raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
    if monitor is None:
        monitor = "val_loss" if val_loader is not None else "train_loss"
    if not isinstance(monitor, str) or monitor not in _MONITORS:
        raise ValueError(f"monitor must be one of val_loss, val_acc, train_loss, train_acc, got {monitor!r}")
    monitor = _MONITORS[monitor]
    if monitor.startswith("val") and val_loader is None:
        raise ValueError(f"monitor={monitor!r} needs a val_loader")

    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    device = get_device() if device is None else torch.device(device)
    model.to(device)
    use_amp = bool(mixed_precision) and device.type == "cuda"
    if mixed_precision and not use_amp:
        warnings.warn(f"mixed_precision needs CUDA; training in full precision on {device.type}", stacklevel=2)
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    history = history if history is not None else History()
    history.monitor = monitor
    maximize = monitor.endswith("acc")
    best_value, best_state, stale = None, None, 0
    params = [p for g in optimizer.param_groups for p in g["params"]]
    steps_done = 0
    start_epoch = history.epochs

    def optimizer_step(group_samples: int, reference: int) -> None:
        nonlocal steps_done
        if scaler is not None:
            scaler.unscale_(optimizer)
        if group_samples != reference:  # a short group: rescale to a mean over its samples
            with torch.no_grad():
                for p in params:
                    if p.grad is not None:
                        p.grad.mul_(reference / group_samples)
        if clip_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        steps_done += 1
        if scheduler is not None and scheduler_interval == "batch" and not plateau:
            scheduler.step()

    for epoch in range(start_epoch, start_epoch + epochs):
        t0 = time.perf_counter()
        model.train()
        optimizer.zero_grad(set_to_none=True)
        total, loss_sum, correct, classification = 0, 0.0, 0.0, None
        reference, group_samples, in_group = None, 0, 0
        total_batches = len(train_loader) if hasattr(train_loader, "__len__") else None
        bar = _progress(train_loader, progress, f"epoch {epoch + 1}", total_batches)
        for batch in bar:
            x, y = _split(_to_device(batch, device))
            n = len(y)
            if reference is None:
                reference = n * accumulation_steps  # samples in a full group
            with torch.autocast(device_type=device.type, dtype=torch.float16, enabled=use_amp):
                out = model(x)
                loss = loss_fn(out, y)
            weighted = loss * (n / reference)
            (scaler.scale(weighted) if scaler is not None else weighted).backward()
            group_samples += n
            in_group += 1
            value = loss.item()
            if not math.isfinite(value):
                warnings.warn(f"non-finite training loss {value} in epoch {epoch + 1}", stacklevel=2)
            history.batch_loss.append(value)
            loss_sum += value * n
            total += n
            if classification is None:
                classification = _is_classification(out, y)
            if classification:
                correct += (out.detach().argmax(dim=1) == y).sum().item()
            if in_group == accumulation_steps:
                optimizer_step(group_samples, reference)
                group_samples, in_group = 0, 0
                if progress and hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{value:.4f}")
                if max_steps is not None and steps_done >= max_steps:
                    break
        if in_group > 0:
            optimizer_step(group_samples, reference)
        if total == 0:
            raise ValueError("train_loader yielded no samples")

        history.train_loss.append(loss_sum / total)
        if classification:
            history.train_acc.append(correct / total)
        if val_loader is not None:
            result = evaluate(model, val_loader, loss_fn, device=device)
            history.val_loss.append(result["loss"])
            if "accuracy" in result:
                history.val_acc.append(result["accuracy"])
        series = getattr(history, monitor)
        if not series:
            raise ValueError(f"monitor={monitor!r} was not recorded (accuracy needs classification outputs)")
        current = series[-1]

        if scheduler is not None and scheduler_interval == "epoch":
            scheduler.step(current) if plateau else scheduler.step()
        elif plateau:
            scheduler.step(current)
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        history.epoch_time.append(time.perf_counter() - t0)

        stop = max_steps is not None and steps_done >= max_steps
        if early_stopping_patience is not None:
            improved = best_value is None or (
                current > best_value + min_delta if maximize else current < best_value - min_delta
            )
            if improved:
                best_value, stale = current, 0
                history.best_epoch = epoch
                best_state = copy.deepcopy(model.state_dict())
            else:
                stale += 1
                if stale >= early_stopping_patience:
                    history.stopped_epoch = epoch
                    stop = True
        if stop:
            break

    if early_stopping_patience is not None and restore_best_weights and best_state is not None:
        model.load_state_dict(best_state)
        history.restored_best = True
    return history
