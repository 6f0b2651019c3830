"""The training loop of the numpy network: minibatches, an optimizer, a schedule, early stopping.

:func:`train` fits a :class:`~dlcourse.numpy_ref.models.FullyConnectedNet` (or any model with its
``params``, ``loss``, ``data_loss``, ``train``/``eval`` and ``state_dict`` methods) and returns a
:class:`~dlcourse.history.History`; :func:`accuracy` scores it. Both are re-exported by
:mod:`dlcourse.numpy_ref.models`, where notebooks import them from.

PyTorch counterpart: :func:`dlcourse.torch_ref.fit`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from dlcourse.history import History
from dlcourse.validation import Array, as_float_array, check_integer, check_rng

if TYPE_CHECKING:
    from dlcourse.numpy_ref.models import FullyConnectedNet

__all__ = ["train", "accuracy"]


def accuracy(model: FullyConnectedNet, X: Array, y: npt.NDArray[np.integer]) -> float:
    """Fraction of correctly classified samples, in evaluation mode."""
    return float(np.mean(model.predict(X) == np.asarray(y)))


def _unpack_data(data: Any) -> tuple[Array, npt.NDArray[np.integer], Array | None, Any]:
    if isinstance(data, dict):
        get = data.get
    elif isinstance(data, (tuple, list)):
        if len(data) not in (2, 4):
            raise ValueError(f"data must be (X_train, y_train) or (X_train, y_train, X_val, y_val), "
                             f"got {len(data)} items")
        items = dict(zip(("X_train", "y_train", "X_val", "y_val"), data))
        get = items.get
    else:
        def get(name):
            return getattr(data, name, None)
    X_train, y_train, X_val, y_val = (get(k) for k in ("X_train", "y_train", "X_val", "y_val"))
    if X_train is None or y_train is None:
        raise ValueError("data must provide X_train and y_train")
    X_train = as_float_array(X_train, "data.X_train")
    y_train = np.asarray(y_train)
    if X_train.ndim != 2 or y_train.shape != (X_train.shape[0],):
        raise ValueError(f"data: X_train must be (N, D) and y_train (N,), got {X_train.shape} and {y_train.shape}")
    if (X_val is None) != (y_val is None):
        raise ValueError("data must provide both X_val and y_val, or neither")
    return X_train, y_train, X_val, y_val


def train(model: FullyConnectedNet, data: Any, *, optimizer: Any, epochs: int, batch_size: int,
          schedule: Any = None, schedule_interval: str = "epoch", accumulation_steps: int = 1,
          patience: int | None = None, rng: np.random.Generator, progress: bool = True) -> History:
    """Train ``model`` with minibatch gradient descent.

    Each epoch shuffles the training set with ``rng`` and splits it into
    minibatches of ``batch_size`` (the last one may be smaller).  With
    ``accumulation_steps = k``, the gradients of k consecutive minibatches are
    combined before one ``optimizer.step()``, each weighted by its share of
    the samples (n_i / sum n_j); so the step uses exactly the gradient of the
    mean loss over those samples (the full-batch gradient when they cover the
    data) also when the last minibatch is smaller, and the L2 term counts
    once.  (With batch norm the batch statistics are still per minibatch, as
    in torch.)

    Args:
        model: the network (its ``params`` must be the optimizer's parameters).
        data: an object with attributes ``X_train, y_train`` and optionally
            ``X_val, y_val`` (e.g. :func:`dlcourse.data.load_digits`'s
            result), a dict with those keys, or a tuple ``(X_train, y_train[,
            X_val, y_val])``.
        optimizer: an optimizer from :mod:`dlcourse.numpy_ref.optim`.
        epochs: maximum number of epochs.
        batch_size: samples per minibatch.
        schedule: optional object with ``step()`` (e.g. a
            :class:`~dlcourse.numpy_ref.lr_scheduler.Scheduler` on ``optimizer``).
        schedule_interval: "epoch" (step the schedule after every epoch) or
            "step" (after every optimizer step, e.g. for cyclical schedules).
        accumulation_steps: minibatches per optimizer step, >= 1.
        patience: early stopping: stop after this many epochs without a lower
            validation loss, then restore the best epoch's weights (parameters
            and running statistics).  None = no early stopping (and no restore).
            Needs validation data.
        rng: the generator that shuffles the data.
        progress: show a tqdm progress bar over the epochs.

    Returns:
        A :class:`History` (:class:`dlcourse.history.History`, the class
        :func:`dlcourse.torch_ref.fit` returns too): ``train_loss``, ``train_acc``,
        ``val_loss``, ``val_acc`` and ``lr`` per epoch, ``best_epoch`` (lowest
        val_loss), ``stopped_epoch`` and ``restored_best``.

    Raises:
        ValueError: naming the argument for bad values or data shapes.

    PyTorch counterpart: :func:`dlcourse.torch_ref.fit`.
    """
    X_train, y_train, X_val, y_val = _unpack_data(data)
    epochs = check_integer(epochs, "epochs", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    accumulation_steps = check_integer(accumulation_steps, "accumulation_steps", minimum=1)
    if patience is not None:
        patience = check_integer(patience, "patience", minimum=1)
        if X_val is None:
            raise ValueError("patience needs validation data (X_val, y_val) in data")
    check_rng(rng)
    if schedule_interval not in ("epoch", "step"):
        raise ValueError(f"schedule_interval must be 'epoch' or 'step', got {schedule_interval!r}")
    if schedule is not None and not callable(getattr(schedule, "step", None)):
        raise ValueError("schedule must have a step() method (e.g. a lr_scheduler.Scheduler)")
    if not hasattr(optimizer, "param_groups") or not callable(getattr(optimizer, "step", None)):
        raise ValueError(f"optimizer must be an optimizer with param_groups and step(), got {type(optimizer).__name__}")

    from tqdm.auto import tqdm

    n = X_train.shape[0]
    params = list(model.params.items())
    history = History()
    best_loss, best_state, wait = math.inf, None, 0
    model.train()
    bar = tqdm(range(epochs), desc="epochs", disable=not progress, leave=False)
    for epoch in bar:
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        order = rng.permutation(n)
        batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        total_loss = 0.0
        for g in range(0, len(batches), accumulation_steps):
            group = batches[g:g + accumulation_steps]
            if len(group) == 1:
                idx = group[0]
                total_loss += model.loss(X_train[idx], y_train[idx]) * len(idx)
            else:
                group_n = sum(len(idx) for idx in group)
                acc = {}
                for idx in group:
                    total_loss += model.loss(X_train[idx], y_train[idx]) * len(idx)
                    weight = len(idx) / group_n
                    for name, p in params:
                        if name in acc:
                            acc[name] += weight * p.grad
                        else:
                            acc[name] = weight * p.grad
                for name, p in params:
                    p.grad = acc[name]
            optimizer.step()
            if schedule is not None and schedule_interval == "step":
                schedule.step()
        history.train_loss.append(total_loss / n)

        model.eval()
        history.train_acc.append(float(np.mean(np.argmax(model.loss(X_train), axis=1) == y_train)))
        if X_val is not None:
            val_scores = model.loss(X_val)
            history.val_loss.append(model.data_loss(val_scores, y_val))
            history.val_acc.append(float(np.mean(np.argmax(val_scores, axis=1) == np.asarray(y_val))))
        model.train()
        if schedule is not None and schedule_interval == "epoch":
            schedule.step()
        postfix = {"loss": f"{history.train_loss[-1]:.4f}", "train_acc": f"{history.train_acc[-1]:.3f}"}
        if X_val is not None:
            postfix["val_acc"] = f"{history.val_acc[-1]:.3f}"
            if history.val_loss[-1] < best_loss:
                best_loss, history.best_epoch, wait = history.val_loss[-1], epoch, 0
                if patience is not None:
                    best_state = model.state_dict()
            else:
                wait += 1
        bar.set_postfix(postfix)
        if patience is not None and wait >= patience:
            history.stopped_epoch = epoch
            break
    bar.close()
    if patience is not None and best_state is not None:
        model.load_state_dict(best_state)
        history.restored_best = True
    return history
