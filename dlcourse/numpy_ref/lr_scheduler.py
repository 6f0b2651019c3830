"""Learning-rate schedules as closed-form functions of the step.

Each ``f(step, base_lr, ...) -> lr`` takes scalars (and :func:`multistep_lr` a
sequence of milestones) and returns, as a float, the learning rate after ``step``
calls of the matching ``torch.optim.lr_scheduler`` scheduler's ``step()``
(``step = 0`` is the learning rate right after the scheduler is built, i.e.
torch's ``last_epoch``).  "step" is whatever the scheduler is stepped on:
epochs for most schedules, iterations (minibatches) for :func:`cyclic_lr`.

torch computes most schedules *recursively* (the new lr from the current
``group["lr"]``); in exact arithmetic that is the same as the closed forms
here, and in float64 they agree to rounding (about 1e-15 relative), with one
documented exception: :func:`cosine_annealing_lr` beyond ``T_max``, where
torch's recursion accumulates rounding error near ``eta_min`` (see there).

:class:`Scheduler` drives an optimizer's ``param_groups`` from any of these
functions, like a torch scheduler.
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Callable, Sequence

from dlcourse.validation import as_real_scalar, check_integer, check_nonnegative

__all__ = [
    "step_lr",
    "multistep_lr",
    "exponential_lr",
    "inverse_time_lr",
    "polynomial_lr",
    "cosine_annealing_lr",
    "cyclic_lr",
    "cosine_annealing_warm_restarts_lr",
    "linear_lr",
    "Scheduler",
    "LambdaScheduler",
]


def _step(step: Any) -> int:
    """A scheduler step count: an integer >= 0."""
    return check_integer(step, "step", minimum=0)


def _step_and_base(step: Any, base_lr: Any) -> tuple[int, float]:
    """The checked ``step`` (an integer >= 0) and ``base_lr`` (>= 0) every schedule starts from."""
    return _step(step), check_nonnegative(base_lr, "base_lr")


def step_lr(step: int, base_lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Step decay: multiply by gamma every ``step_size`` steps.

    Math:
        lr = base_lr * gamma ** floor(step / step_size).

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial learning rate.
        step_size: period of the decay, >= 1.
        gamma: decay factor.

    PyTorch counterpart: ``torch.optim.lr_scheduler.StepLR(opt, step_size, gamma)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    step_size = check_integer(step_size, "step_size", minimum=1)
    return base_lr * check_nonnegative(gamma, "gamma") ** (step // step_size)


def multistep_lr(step: int, base_lr: float, milestones: Sequence[int], gamma: float = 0.1) -> float:
    """Decay by gamma at each milestone.

    Math:
        lr = base_lr * gamma ** (number of milestones <= step).

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial learning rate.
        milestones: steps at which to decay (any order; a repeated milestone
            decays twice, like torch).
        gamma: decay factor.

    PyTorch counterpart: ``torch.optim.lr_scheduler.MultiStepLR(opt, milestones, gamma)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    try:
        ms = sorted(_step(m) for m in milestones)
    except (TypeError, ValueError):
        raise ValueError(f"milestones must be a sequence of integers >= 0, got {milestones!r}") from None
    return base_lr * check_nonnegative(gamma, "gamma") ** bisect.bisect_right(ms, step)


def exponential_lr(step: int, base_lr: float, gamma: float) -> float:
    """Exponential decay.

    Math:
        lr = base_lr * gamma ** step (the lectures' base_lr * exp(-k t) with
        gamma = exp(-k)).

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial learning rate.
        gamma: decay factor per step.

    PyTorch counterpart: ``torch.optim.lr_scheduler.ExponentialLR(opt, gamma)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    return base_lr * check_nonnegative(gamma, "gamma") ** step


def inverse_time_lr(step: int, base_lr: float, decay: float) -> float:
    """1/t (inverse-time) decay, as in Bottou (2012), "Stochastic gradient descent tricks".

    Math:
        lr = base_lr / (1 + decay * step).

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial learning rate.
        decay: the k in base_lr / (1 + k t), >= 0.

    PyTorch counterpart: no named scheduler; ``LambdaLR(opt, lambda t: 1 /
    (1 + decay * t))``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    return base_lr / (1.0 + check_nonnegative(decay, "decay") * step)


def polynomial_lr(step: int, base_lr: float, total_iters: int, power: float = 1.0) -> float:
    """Polynomial decay to 0 over ``total_iters`` steps, then constant 0.

    Math:
        lr = base_lr * (1 - min(step, total_iters) / total_iters) ** power.

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial learning rate.
        total_iters: number of decaying steps, >= 1.
        power: exponent (1 = linear decay).

    PyTorch counterpart: ``torch.optim.lr_scheduler.PolynomialLR(opt, total_iters, power)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    total_iters, power = check_integer(total_iters, "total_iters", minimum=1), check_nonnegative(power, "power")
    return base_lr * (1.0 - min(step, total_iters) / total_iters) ** power


def cosine_annealing_lr(step: int, base_lr: float, T_max: int, eta_min: float = 0.0) -> float:
    """Cosine annealing from base_lr down to eta_min over T_max steps.

    Math:
        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * step / T_max)) / 2.
        Beyond T_max the cosine continues (rising again, period 2 T_max), as
        torch's schedule does in exact arithmetic.  torch's recursive update
        divides by 1 + cos(pi (t - 1) / T_max), which is close to 0 near
        t = T_max, so past T_max torch's values drift from this closed form
        by rounding error amplified up to ~1e-16 / (1 - cos(pi/T_max))
        relative to base_lr; within [0, T_max] they agree to ~1e-15.

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: initial (maximum) learning rate.
        T_max: half period, >= 1.
        eta_min: minimum learning rate.

    PyTorch counterpart: ``torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max, eta_min)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    T_max, eta_min = check_integer(T_max, "T_max", minimum=1), check_nonnegative(eta_min, "eta_min")
    return eta_min + (base_lr - eta_min) * (1.0 + math.cos(math.pi * step / T_max)) / 2.0


def cyclic_lr(step: int, base_lr: float, max_lr: float, step_size_up: int, mode: str = "triangular",
              gamma: float = 1.0, *, step_size_down: int | None = None) -> float:
    """Cyclical learning rate (Smith 2017), stepped once per iteration.

    Math:
        cycle = floor(1 + step / (up + down)); x = 1 + step / (up + down) - cycle
        (position in the cycle, 0..1); the triangle rises over ``up`` steps
        and falls over ``down``: s = x / r if x <= r else (x - 1) / (r - 1)
        with r = up / (up + down);
        lr = base_lr + (max_lr - base_lr) * s * scale, where scale = 1
        (triangular), 1 / 2 ** (cycle - 1) (triangular2: the amplitude halves
        every cycle), gamma ** step (exp_range).

    Args:
        step: number of scheduler steps (iterations) so far (>= 0).
        base_lr: lower bound of the cycle.
        max_lr: upper bound of the cycle.
        step_size_up: steps of the rising half, >= 1.
        mode: "triangular", "triangular2" or "exp_range".
        gamma: decay per step of the amplitude in "exp_range".
        step_size_down: steps of the falling half; None means step_size_up
            (torch's default).

    PyTorch counterpart: ``torch.optim.lr_scheduler.CyclicLR(opt, base_lr,
    max_lr, step_size_up, step_size_down, mode, gamma)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    max_lr = check_nonnegative(max_lr, "max_lr")
    up = check_integer(step_size_up, "step_size_up", minimum=1)
    down = up if step_size_down is None else check_integer(step_size_down, "step_size_down", minimum=1)
    gamma = check_nonnegative(gamma, "gamma")
    if mode not in ("triangular", "triangular2", "exp_range"):
        raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
    total = float(up + down)
    ratio = up / total
    cycle = math.floor(1 + step / total)
    x = 1.0 + step / total - cycle
    scale_factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
    height = (max_lr - base_lr) * scale_factor
    if mode == "triangular":
        return base_lr + height * 1.0
    if mode == "triangular2":
        return base_lr + height * (1 / (2.0 ** (cycle - 1)))
    return base_lr + height * gamma**step


def cosine_annealing_warm_restarts_lr(step: int, base_lr: float, T_0: int, T_mult: int = 1,
                                      eta_min: float = 0.0) -> float:
    """Cosine annealing with warm restarts (SGDR), periods T_0, T_0 T_mult, ...

    Math:
        Find the current period T_i and the position T_cur in it (T_i = T_0,
        T_0 T_mult, T_0 T_mult**2, ...; restarts at their partial sums), then
        lr = eta_min + (base_lr - eta_min) * (1 + cos(pi T_cur / T_i)) / 2.
        Computed in exact integer arithmetic.

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: learning rate at each restart.
        T_0: length of the first period, >= 1.
        T_mult: growth factor of the periods, integer >= 1.
        eta_min: minimum learning rate.

    PyTorch counterpart: ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt,
    T_0, T_mult, eta_min)`` stepped without an epoch argument.
    """
    step, base_lr = _step_and_base(step, base_lr)
    T_0, T_mult = check_integer(T_0, "T_0", minimum=1), check_integer(T_mult, "T_mult", minimum=1)
    eta_min = check_nonnegative(eta_min, "eta_min")
    if T_mult == 1:
        T_cur, T_i = step % T_0, T_0
    else:
        T_cur, T_i = step, T_0
        while T_cur >= T_i:
            T_cur -= T_i
            T_i *= T_mult
    return eta_min + (base_lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i)) / 2


def linear_lr(step: int, base_lr: float, start_factor: float = 1 / 3, end_factor: float = 1.0,
              total_iters: int = 5) -> float:
    """Linear change of the factor from start_factor to end_factor (e.g. warmup).

    Math:
        lr = base_lr * (start_factor + (end_factor - start_factor) *
        min(step, total_iters) / total_iters).

    Args:
        step: number of scheduler steps so far (>= 0).
        base_lr: the learning rate the factors multiply.
        start_factor: factor at step 0, in (0, 1].
        end_factor: factor from step total_iters on, in [0, 1].
        total_iters: number of steps of the linear change, >= 1.

    PyTorch counterpart: ``torch.optim.lr_scheduler.LinearLR(opt, start_factor,
    end_factor, total_iters)``.
    """
    step, base_lr = _step_and_base(step, base_lr)
    start_factor, end_factor = as_real_scalar(start_factor, "start_factor"), as_real_scalar(end_factor, "end_factor")
    if not 0 < start_factor <= 1:
        raise ValueError(f"start_factor must lie in (0, 1], got {start_factor}")
    if not 0 <= end_factor <= 1:
        raise ValueError(f"end_factor must lie in [0, 1], got {end_factor}")
    total_iters = check_integer(total_iters, "total_iters", minimum=1)
    return base_lr * (start_factor + (end_factor - start_factor) * min(step, total_iters) / total_iters)


class Scheduler:
    """Set each parameter group's lr from a closed-form schedule.

    Like a torch scheduler, building it sets the lr for step 0, and every
    :meth:`step` advances the step counter and sets ``group["lr"] =
    schedule(step, base_lr, **kwargs)`` for each group, where base_lr is the
    group's lr when the scheduler was built (kept in ``group["initial_lr"]``
    as torch does).

    Args:
        optimizer: an optimizer of :mod:`dlcourse.numpy_ref.optim` (anything
            with ``param_groups``).
        schedule: a function ``schedule(step, base_lr, **kwargs) -> lr``,
            e.g. :func:`cosine_annealing_lr`.
        **kwargs: the schedule's other arguments (``T_max=...``).

    Attributes:
        last_epoch: number of :meth:`step` calls so far (torch's name).
        base_lrs: the base learning rate of each group.

    Example::

        opt = Adam(model.params.values(), lr=1e-3)
        sched = Scheduler(opt, cosine_annealing_lr, T_max=20)
        for epoch in range(20):
            train_one_epoch(...)
            sched.step()

    PyTorch counterpart: ``torch.optim.lr_scheduler.LRScheduler``; with
    :class:`LambdaScheduler` it is ``LambdaLR``.
    """

    def __init__(self, optimizer: Any, schedule: Callable[..., float], **kwargs: Any) -> None:
        if not hasattr(optimizer, "param_groups"):
            raise ValueError(f"optimizer must have param_groups, got {type(optimizer).__name__}")
        if not callable(schedule):
            raise ValueError(f"schedule must be callable, got {schedule!r}")
        self.optimizer = optimizer
        self.schedule = schedule
        self.kwargs = kwargs
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = 0
        self._set()

    def _lr(self, step: int, base_lr: float) -> float:
        return float(self.schedule(step, base_lr, **self.kwargs))

    def _set(self) -> None:
        self._last_lr = [self._lr(self.last_epoch, b) for b in self.base_lrs]
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def step(self) -> None:
        """Advance one step and update every group's lr."""
        self.last_epoch += 1
        self._set()

    def get_last_lr(self) -> list[float]:
        """The learning rates last set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": ..., "base_lrs": [...]}``."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` and set the learning rates accordingly."""
        self.last_epoch = _step(state_dict["last_epoch"])
        self.base_lrs = list(state_dict["base_lrs"])
        self._set()


class LambdaScheduler(Scheduler):
    """lr = base_lr * lr_lambda(step), like ``torch.optim.lr_scheduler.LambdaLR``.

    Args:
        optimizer: an optimizer with ``param_groups``.
        lr_lambda: function of the step returning a multiplicative factor.

    PyTorch counterpart: ``torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)``.
    """

    def __init__(self, optimizer: Any, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise ValueError(f"lr_lambda must be callable, got {lr_lambda!r}")
        super().__init__(optimizer, lambda step, base_lr: base_lr * lr_lambda(step))
