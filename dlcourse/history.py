"""The training history recorded by both training loops, numpy and torch (this module imports neither torch nor numpy).

:func:`dlcourse.numpy_ref.models.train` and :func:`dlcourse.torch_ref.fit` return the
same :class:`History`, so a notebook reads ``h.val_acc`` or ``h.best_epoch`` the same way
whichever loop produced ``h``, and :func:`dlcourse.plots.plot_history` draws either.
It is importable under both old paths, ``dlcourse.numpy_ref.models.History`` and
``dlcourse.torch_ref.training.History`` (the same class).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["History", "EPOCH_SERIES"]

#: The per-epoch series of a :class:`History`, in plotting order.
EPOCH_SERIES = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time")


@dataclass
class History:
    """What a training loop recorded: one entry per epoch (``batch_loss``: one per batch).

    A series the loop does not measure stays empty (no validation data: ``val_*``; a
    non-classification loss in ``fit``: ``*_acc``; the numpy loop: ``epoch_time`` and
    ``batch_loss``).  Epochs are counted from 0 in ``best_epoch`` and ``stopped_epoch``.

    Attributes:
        train_loss: mean training loss per epoch, over the epoch's minibatches (weighted
            by batch size; the numpy loop includes the L2 term).
        train_acc: training accuracy per epoch (numpy: the whole training set in eval
            mode after the epoch; torch: the running accuracy of the epoch's batches).
        val_loss: validation loss per epoch (eval mode).
        val_acc: validation accuracy per epoch.
        lr: learning rate of the first parameter group per epoch (numpy: during the
            epoch, before its schedule step; torch: at the end of the epoch, after it).
        epoch_time: seconds per epoch (torch).
        batch_loss: the training loss of every minibatch, before accumulation (torch).
        best_epoch: the epoch with the best monitored value (numpy: lowest val_loss,
            whenever there is validation data; torch: with early stopping), else None.
        stopped_epoch: the epoch after which early stopping ended training, or None if
            it did not.
        restored_best: whether the weights of ``best_epoch`` were loaded back at the end.
        monitor: name of the series early stopping watched (torch's ``fit``), else None.

    Properties (read-only):
        epochs: number of completed epochs (``len(train_loss)``).
        stopped_early: ``stopped_epoch is not None``.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None
    restored_best: bool = False
    monitor: str | None = None

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self.train_loss)

    @property
    def stopped_early(self) -> bool:
        """Whether early stopping ended training (``stopped_epoch`` is set)."""
        return self.stopped_epoch is not None

    def series(self) -> dict[str, list[float]]:
        """The non-empty per-epoch series (:data:`EPOCH_SERIES`) by name, as new lists."""
        return {name: list(getattr(self, name)) for name in EPOCH_SERIES if getattr(self, name)}

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, lists copied (e.g. for JSON or a DataFrame)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), list) else v) for f in fields(self)}

    def __getitem__(self, name: str) -> Any:
        """``history["val_loss"]`` is ``history.val_loss`` (fields only)."""
        if name not in {f.name for f in fields(self)}:
            raise KeyError(name)
        return getattr(self, name)

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.series().items() if k != "epoch_time"}
        return (f"History(epochs={self.epochs}, last={last}, best_epoch={self.best_epoch}, "
                f"stopped_epoch={self.stopped_epoch})")
