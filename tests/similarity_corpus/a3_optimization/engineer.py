# %% [gd_solution]
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Dict, List, Optional, Tuple

REGIME_MONOTONE = "monotone"
REGIME_OSCILLATING = "oscillating"
REGIME_DIVERGENT = "divergent"


def _check_real(name: str, value: Any) -> float:
    """Return value as a float, or raise ValueError naming the argument if it is not a real number."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    return float(value)


def _check_positive(name: str, value: Any) -> float:
    """Return value as a float, or raise ValueError if it is not a finite number > 0."""
    number = _check_real(name, value)
    if not (number > 0 and np.isfinite(number)):
        raise ValueError(f"{name} must be positive, got {value!r}")
    return number


def _check_non_negative(name: str, value: Any) -> float:
    """Return value as a float, or raise ValueError if it is not a number >= 0 (NaN included)."""
    number = _check_real(name, value)
    if not number >= 0:
        raise ValueError(f"Invalid {name} value: {value!r} (must be >= 0)")
    return number


def _check_count(name: str, value: Any, minimum: int = 0) -> int:
    """Return value as an int, or raise ValueError if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_float_array(name: str, value: Any) -> np.ndarray:
    """A float64 copy of value; ValueError if it does not hold real numbers."""
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    return np.array(arr, dtype=np.float64)


def gradient_descent(grad, w0, lr, steps):
    """Plain gradient descent w <- w - lr * grad(w), returning every iterate.

    Args:
        grad: function w -> gradient of the loss at w (an array shaped like w).
        w0: starting point, an array of any shape (not modified).
        lr: step size eta.
        steps: number of updates.

    Returns:
        float64 array of shape (steps + 1, *w0.shape): w0, then the iterate after each update.
    """
    if not callable(grad):
        raise ValueError("grad must be callable")
    lr = _check_non_negative("lr", lr)
    steps = _check_count("steps", steps)
    w = _as_float_array("w0", w0)

    iterates = [w.copy()]
    for _ in range(steps):
        g = np.asarray(grad(w.copy()), dtype=np.float64)
        if g.shape != w.shape:
            raise ValueError(f"grad(w) returned shape {g.shape}, expected the shape of w0, {w.shape}")
        w = w - lr * g
        iterates.append(w.copy())
    return np.stack(iterates)


def step_size_regime(lr, curvature):
    """How gradient descent with step size lr behaves on a parabola of the given curvature.

    Args:
        lr: step size eta > 0.
        curvature: second derivative a > 0 of the parabola, so eta_opt = 1 / a.

    Returns:
        (regime, rate): regime is "monotone" (0 < lr <= eta_opt), "oscillating"
        (eta_opt < lr < 2 eta_opt) or "divergent" (lr >= 2 eta_opt); rate is the convergence
        rate R = (1 - lr * curvature) ** 2 of the loss values, a float.

    Raises:
        ValueError: if lr or curvature is not positive.
    """
    lr = _check_positive("lr", lr)
    curvature = _check_positive("curvature", curvature)
    # lr / eta_opt = lr * curvature, so the table's boundaries are 1 and 2 on this product.
    relative_step = lr * curvature
    if relative_step <= 1.0:
        regime = REGIME_MONOTONE
    elif relative_step < 2.0:
        regime = REGIME_OSCILLATING
    else:
        regime = REGIME_DIVERGENT
    rate = float((1.0 - relative_step) ** 2)
    return regime, rate


# %% [sgd_solution]
STATE_MOMENTUM_BUFFER = "momentum_buffer"


def _apply_weight_decay(grad: np.ndarray, param: np.ndarray, weight_decay: float) -> np.ndarray:
    """The L2 term: grad + weight_decay * param (grad itself when weight_decay is 0)."""
    if weight_decay != 0:
        return grad + weight_decay * param
    return grad


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    PyTorch counterpart: torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False). State per parameter: {"momentum_buffer": array} when momentum != 0, else {}.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        _check_non_negative("lr", lr)
        _check_non_negative("momentum", momentum)
        _check_real("dampening", dampening)
        _check_non_negative("weight_decay", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires momentum > 0 and dampening == 0")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        lr, momentum = group["lr"], group["momentum"]
        grad = _apply_weight_decay(grad, p.data, group["weight_decay"])

        direction = grad
        if momentum != 0:
            if STATE_MOMENTUM_BUFFER not in state:
                buffer = grad.copy()  # the first step starts the buffer at the gradient, undamped
            else:
                buffer = momentum * state[STATE_MOMENTUM_BUFFER] + (1 - group["dampening"]) * grad
            state[STATE_MOMENTUM_BUFFER] = buffer
            direction = grad + momentum * buffer if group["nesterov"] else buffer

        p.data -= lr * direction


# %% [adaptive_solution]
STATE_STEP = "step"
STATE_SUM = "sum"
STATE_SQUARE_AVG = "square_avg"
STATE_GRAD_AVG = "grad_avg"


def _ema(average: np.ndarray, value: np.ndarray, decay: float) -> np.ndarray:
    """Exponential moving average: decay * average + (1 - decay) * value."""
    return decay * average + (1.0 - decay) * value


class Adagrad(Optimizer):
    """AdaGrad: per-coordinate steps scaled by the root of the sum of squared gradients.

    PyTorch counterpart: torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10). State per parameter: {"step": t, "sum": s}.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        _check_non_negative("lr", lr)
        _check_non_negative("lr_decay", lr_decay)
        _check_non_negative("weight_decay", weight_decay)
        _check_non_negative("initial_accumulator_value", initial_accumulator_value)
        _check_non_negative("eps", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        if not state:
            state[STATE_STEP] = 0.0
            state[STATE_SUM] = np.full_like(p.data, group["initial_accumulator_value"], dtype=np.float64)

        state[STATE_STEP] += 1
        step = state[STATE_STEP]
        grad = _apply_weight_decay(grad, p.data, group["weight_decay"])
        decayed_lr = group["lr"] / (1.0 + (step - 1) * group["lr_decay"])

        state[STATE_SUM] = state[STATE_SUM] + grad * grad
        p.data -= decayed_lr * grad / (np.sqrt(state[STATE_SUM]) + group["eps"])


class RMSprop(Optimizer):
    """RMSProp: steps scaled by a running root mean square of the gradients (optionally centered, with momentum).

    PyTorch counterpart: torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False). State per parameter: {"step", "square_avg"}, plus "momentum_buffer"
    when momentum > 0 and "grad_avg" when centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        _check_non_negative("lr", lr)
        _check_non_negative("alpha", alpha)
        _check_non_negative("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        _check_non_negative("momentum", momentum)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        alpha, momentum = group["alpha"], group["momentum"]
        if not state:
            state[STATE_STEP] = 0.0
            state[STATE_SQUARE_AVG] = np.zeros_like(p.data)
            if momentum > 0:
                state[STATE_MOMENTUM_BUFFER] = np.zeros_like(p.data)
            if group["centered"]:
                state[STATE_GRAD_AVG] = np.zeros_like(p.data)

        state[STATE_STEP] += 1
        grad = _apply_weight_decay(grad, p.data, group["weight_decay"])
        state[STATE_SQUARE_AVG] = _ema(state[STATE_SQUARE_AVG], grad * grad, alpha)

        if group["centered"]:
            state[STATE_GRAD_AVG] = _ema(state[STATE_GRAD_AVG], grad, alpha)
            variance = state[STATE_SQUARE_AVG] - state[STATE_GRAD_AVG] ** 2
            # Mathematically >= 0; clip the rounding error so that sqrt never sees a negative number.
            denom = np.sqrt(np.maximum(variance, 0.0)) + group["eps"]
        else:
            denom = np.sqrt(state[STATE_SQUARE_AVG]) + group["eps"]

        if momentum > 0:
            state[STATE_MOMENTUM_BUFFER] = momentum * state[STATE_MOMENTUM_BUFFER] + grad / denom
            p.data -= group["lr"] * state[STATE_MOMENTUM_BUFFER]
        else:
            p.data -= group["lr"] * grad / denom


# %% [adam_solution]
STATE_EXP_AVG = "exp_avg"
STATE_EXP_AVG_SQ = "exp_avg_sq"
STATE_MAX_EXP_AVG_SQ = "max_exp_avg_sq"


def _check_betas(betas: Any) -> Tuple[float, float]:
    """Validate Adam's (beta1, beta2): a pair of numbers in [0, 1)."""
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}") from None
    for index, beta in enumerate((beta1, beta2)):
        value = _check_real(f"betas[{index}]", beta)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta!r} (must be in [0, 1))")
    return beta1, beta2


def _bias_correction(beta: float, step: float) -> float:
    """1 - beta ** step: the sum of the weights of an exponential average after `step` updates."""
    return 1.0 - beta ** step


class Adam(Optimizer):
    """Adam with bias correction (and optionally AMSGrad).

    PyTorch counterpart: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False). State per parameter: {"step", "exp_avg", "exp_avg_sq"},
    plus "max_exp_avg_sq" with amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        _check_non_negative("lr", lr)
        _check_betas(betas)
        _check_non_negative("eps", eps)
        _check_non_negative("weight_decay", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        beta1, beta2 = group["betas"]
        if not state:
            state[STATE_STEP] = 0.0
            state[STATE_EXP_AVG] = np.zeros_like(p.data)
            state[STATE_EXP_AVG_SQ] = np.zeros_like(p.data)
            if group["amsgrad"]:
                state[STATE_MAX_EXP_AVG_SQ] = np.zeros_like(p.data)

        state[STATE_STEP] += 1
        step = state[STATE_STEP]
        grad = _apply_weight_decay(grad, p.data, group["weight_decay"])

        state[STATE_EXP_AVG] = _ema(state[STATE_EXP_AVG], grad, beta1)
        state[STATE_EXP_AVG_SQ] = _ema(state[STATE_EXP_AVG_SQ], grad * grad, beta2)
        second_moment = state[STATE_EXP_AVG_SQ]
        if group["amsgrad"]:
            state[STATE_MAX_EXP_AVG_SQ] = np.maximum(state[STATE_MAX_EXP_AVG_SQ], state[STATE_EXP_AVG_SQ])
            second_moment = state[STATE_MAX_EXP_AVG_SQ]

        m_hat = state[STATE_EXP_AVG] / _bias_correction(beta1, step)
        v_hat = second_moment / _bias_correction(beta2, step)
        p.data -= group["lr"] * m_hat / (np.sqrt(v_hat) + group["eps"])


# %% [schedules_solution]
CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


def _check_step(step: Any) -> int:
    """A scheduler step must be an integer >= 0."""
    return _check_count("step", step, minimum=0)


def _cosine_between(eta_max: float, eta_min: float, position: float, period: float) -> float:
    """Half a cosine from eta_max (position 0) down to eta_min (position == period)."""
    return eta_min + (eta_max - eta_min) * (1.0 + math.cos(math.pi * position / period)) / 2.0


@dataclass(frozen=True)
class _CyclePosition:
    """Where a step lies in the cyclical schedule."""

    cycle: int      # number of the cycle, counting from 0
    height: float   # height of the triangle at this step, in [0, 1]


def _triangle_position(step: int, step_size_up: int, step_size_down: int) -> _CyclePosition:
    """Cycle number and triangle height of `step` for cycles of up + down steps."""
    cycle_length = step_size_up + step_size_down
    cycle, position = divmod(step, cycle_length)
    if position < step_size_up:
        height = position / step_size_up
    else:
        height = 1.0 - (position - step_size_up) / step_size_down
    return _CyclePosition(cycle=cycle, height=height)


def step_lr(step, base_lr, step_size, gamma=0.1):
    """Step decay: base_lr * gamma ** (step // step_size). PyTorch: StepLR(opt, step_size, gamma)."""
    step = _check_step(step)
    step_size = _check_count("step_size", step_size, minimum=1)
    return float(base_lr * gamma ** (step // step_size))


def exponential_lr(step, base_lr, gamma):
    """Exponential decay: base_lr * gamma ** step. PyTorch: ExponentialLR(opt, gamma)."""
    step = _check_step(step)
    return float(base_lr * gamma ** step)


def inverse_time_lr(step, base_lr, decay):
    """1/t decay: base_lr / (1 + decay * step). PyTorch: LambdaLR(opt, lambda t: 1 / (1 + decay * t))."""
    step = _check_step(step)
    _check_non_negative("decay", decay)
    return float(base_lr / (1.0 + decay * step))


def cosine_annealing_lr(step, base_lr, T_max, eta_min=0.0):
    """Cosine annealing from base_lr (step 0) to eta_min (step T_max). PyTorch: CosineAnnealingLR(opt, T_max, eta_min)."""
    step = _check_step(step)
    _check_positive("T_max", T_max)
    return float(_cosine_between(base_lr, eta_min, step, T_max))


def cosine_annealing_warm_restarts_lr(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Cosine annealing restarted after T_0, T_0 * T_mult, ... steps.

    PyTorch: CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min).
    """
    step = _check_step(step)
    T_0 = _check_count("T_0", T_0, minimum=1)
    T_mult = _check_count("T_mult", T_mult, minimum=1)
    if T_mult == 1:
        steps_in_period, period = step % T_0, T_0
    else:
        # Walk through the periods T_0, T_0 * T_mult, ... (they grow geometrically, so few iterations).
        steps_in_period, period = step, T_0
        while steps_in_period >= period:
            steps_in_period -= period
            period *= T_mult
    return float(_cosine_between(base_lr, eta_min, steps_in_period, period))


def cyclic_lr(step, base_lr, max_lr, step_size_up, mode="triangular", gamma=1.0, *, step_size_down=None):
    """Cyclical learning rate between base_lr and max_lr ("triangular", "triangular2" or "exp_range").

    PyTorch: CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode, gamma), stepped per minibatch.
    """
    step = _check_step(step)
    if mode not in CYCLIC_MODES:
        raise ValueError(f"mode must be one of {CYCLIC_MODES}, got {mode!r}")
    up = _check_count("step_size_up", step_size_up, minimum=1)
    down = up if step_size_down is None else _check_count("step_size_down", step_size_down, minimum=1)

    where = _triangle_position(step, up, down)
    scale_by_mode = {
        "triangular": lambda: 1.0,
        "triangular2": lambda: 1.0 / 2.0 ** where.cycle,
        "exp_range": lambda: gamma ** step,
    }
    scale = scale_by_mode[mode]()
    return float(base_lr + (max_lr - base_lr) * where.height * scale)


def linear_lr(step, base_lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    """Linear change of the factor from start_factor to end_factor over total_iters steps.

    PyTorch: LinearLR(opt, start_factor, end_factor, total_iters).
    """
    step = _check_step(step)
    total_iters = _check_count("total_iters", total_iters, minimum=0)
    if total_iters == 0:
        return float(base_lr * end_factor)
    progress = min(step, total_iters) / total_iters
    return float(base_lr * (start_factor + (end_factor - start_factor) * progress))


# %% [accumulation_solution]
LossFn = Callable[[np.ndarray, np.ndarray], Tuple[float, Dict[str, np.ndarray]]]


def _batch_size(index: int, batch: Any) -> int:
    """Number of samples (rows of X) of one (X, y) minibatch; ValueError if it is malformed."""
    try:
        X, _ = batch
    except (TypeError, ValueError):
        raise ValueError(f"batches[{index}] must be a pair (X, y)") from None
    size = len(X)
    if size == 0:
        raise ValueError(f"batches[{index}] is empty")
    return size


def accumulate_gradients(loss_fn, batches):
    """Loss and gradients of the mean loss over several minibatches, one minibatch at a time.

    Args:
        loss_fn: function (X, y) -> (mean loss over the rows of X, dict name -> gradient array).
        batches: list of (X, y) minibatches (sizes may differ).

    Returns:
        (loss, grads): the mean loss over all samples (a float) and its gradients (a dict with
        loss_fn's keys), equal to loss_fn on the concatenated batches.
    """
    if not callable(loss_fn):
        raise ValueError("loss_fn must be callable")
    batches = list(batches)
    if not batches:
        raise ValueError("batches must contain at least one minibatch")
    sizes = [_batch_size(i, batch) for i, batch in enumerate(batches)]
    total = float(sum(sizes))

    total_loss = 0.0
    total_grads: Dict[str, np.ndarray] = {}
    for (X, y), size in zip(batches, sizes):
        weight = size / total  # minibatch i contributes n_i / N of the mean loss
        loss, grads = loss_fn(X, y)
        total_loss += weight * float(loss)
        for name, g in grads.items():
            contribution = weight * np.asarray(g, dtype=np.float64)  # a new array: g stays untouched
            total_grads[name] = contribution if name not in total_grads else total_grads[name] + contribution
    return total_loss, total_grads


def linear_scaling_lr(step, base_lr, batch_size, base_batch_size, warmup_steps):
    """Linear scaling rule with linear warmup (Goyal et al., 2017).

    Returns:
        The lr at this step: from base_lr at step 0 linearly up to base_lr * batch_size / base_batch_size
        at step warmup_steps, constant afterwards (immediately if warmup_steps == 0).
    """
    step = _check_count("step", step, minimum=0)
    batch_size = _check_count("batch_size", batch_size, minimum=1)
    base_batch_size = _check_count("base_batch_size", base_batch_size, minimum=1)
    warmup_steps = _check_count("warmup_steps", warmup_steps, minimum=0)
    if batch_size < base_batch_size:
        raise ValueError(f"batch_size ({batch_size}) must be >= base_batch_size ({base_batch_size})")

    scale = batch_size / base_batch_size
    target_lr = scale * base_lr
    if warmup_steps == 0 or step >= warmup_steps:
        return float(target_lr)
    return float(base_lr + (target_lr - base_lr) * step / warmup_steps)
