# %% [gd_solution]
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
    W = [np.array(w0, np.float64)]
    for _ in range(steps):
        W.append(W[-1] - lr * np.asarray(grad(W[-1].copy()), np.float64))
    return np.stack(W)


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
    for k, v in dict(lr=lr, curvature=curvature).items():
        if not v > 0:
            raise ValueError(f"{k} must be positive, got {v!r}")
    x = lr * curvature  # = lr / eta_opt
    return ("monotone" if x <= 1 else "oscillating" if x < 2 else "divergent"), float((1 - x) ** 2)

# %% [sgd_solution]
class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    PyTorch counterpart: torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False). State per parameter: {"momentum_buffer": array} when momentum != 0, else {}.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov needs momentum > 0 and dampening == 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def update(self, p, grad, group, state):
        lr, mu, tau, wd, nes = (group[k] for k in ("lr", "momentum", "dampening", "weight_decay", "nesterov"))
        g = grad + wd * p.data
        if mu:
            b = state["momentum_buffer"] = g.copy() if "momentum_buffer" not in state \
                else mu * state["momentum_buffer"] + (1 - tau) * g
            g = g + mu * b if nes else b
        p.data -= lr * g

# %% [adaptive_solution]
class Adagrad(Optimizer):
    """AdaGrad: per-coordinate steps scaled by the root of the sum of squared gradients.

    PyTorch counterpart: torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10). State per parameter: {"step": t, "sum": s}.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def update(self, p, grad, group, state):
        s = state
        t = s["step"] = s.get("step", 0) + 1
        g = grad + group["weight_decay"] * p.data
        v = s["sum"] = s.get("sum", np.full_like(p.data, group["initial_accumulator_value"])) + g * g
        p.data -= group["lr"] / (1 + (t - 1) * group["lr_decay"]) * g / (np.sqrt(v) + group["eps"])


class RMSprop(Optimizer):
    """RMSProp: steps scaled by a running root mean square of the gradients (optionally centered, with momentum).

    PyTorch counterpart: torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False). State per parameter: {"step", "square_avg"}, plus "momentum_buffer"
    when momentum > 0 and "grad_avg" when centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def update(self, p, grad, group, state):
        s, a, mu, z = state, group["alpha"], group["momentum"], np.zeros_like(p.data)
        s["step"] = s.get("step", 0) + 1
        g = grad + group["weight_decay"] * p.data
        v = s["square_avg"] = a * s.get("square_avg", z) + (1 - a) * g * g
        if group["centered"]:
            m = s["grad_avg"] = a * s.get("grad_avg", z) + (1 - a) * g
            v = np.maximum(v - m * m, 0)  # rounding must not make the variance negative
        d = g / (np.sqrt(v) + group["eps"])
        if mu > 0:
            d = s["momentum_buffer"] = mu * s.get("momentum_buffer", z) + d
        p.data -= group["lr"] * d

# %% [adam_solution]
class Adam(Optimizer):
    """Adam with bias correction (and optionally AMSGrad).

    PyTorch counterpart: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False). State per parameter: {"step", "exp_avg", "exp_avg_sq"},
    plus "max_exp_avg_sq" with amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad))

    def update(self, p, grad, group, state):
        s, (b1, b2), z = state, group["betas"], np.zeros_like(p.data)
        t = s["step"] = s.get("step", 0) + 1
        g = grad + group["weight_decay"] * p.data
        m = s["exp_avg"] = b1 * s.get("exp_avg", z) + (1 - b1) * g
        v = s["exp_avg_sq"] = b2 * s.get("exp_avg_sq", z) + (1 - b2) * g * g
        if group["amsgrad"]:
            v = s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", z), v)
        p.data -= group["lr"] * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + group["eps"])

# %% [schedules_solution]
_cos = lambda t, T, lo, hi: lo + (hi - lo) * (1 + math.cos(math.pi * t / T)) / 2


def step_lr(step, base_lr, step_size, gamma=0.1):
    """Step decay: base_lr * gamma ** (step // step_size). PyTorch: StepLR(opt, step_size, gamma)."""
    return float(base_lr * gamma ** (step // step_size))


def exponential_lr(step, base_lr, gamma):
    """Exponential decay: base_lr * gamma ** step. PyTorch: ExponentialLR(opt, gamma)."""
    return float(base_lr * gamma ** step)


def inverse_time_lr(step, base_lr, decay):
    """1/t decay: base_lr / (1 + decay * step). PyTorch: LambdaLR(opt, lambda t: 1 / (1 + decay * t))."""
    return float(base_lr / (1 + decay * step))


def cosine_annealing_lr(step, base_lr, T_max, eta_min=0.0):
    """Cosine annealing from base_lr (step 0) to eta_min (step T_max). PyTorch: CosineAnnealingLR(opt, T_max, eta_min)."""
    return float(_cos(step, T_max, eta_min, base_lr))


def cosine_annealing_warm_restarts_lr(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Cosine annealing restarted after T_0, T_0 * T_mult, ... steps.

    PyTorch: CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min).
    """
    t, T = step % T_0 if T_mult == 1 else step, T_0
    while t >= T:  # peel off the finished periods T_0, T_0 T_mult, ...
        t, T = t - T, T * T_mult
    return float(_cos(t, T, eta_min, base_lr))


def cyclic_lr(step, base_lr, max_lr, step_size_up, mode="triangular", gamma=1.0, *, step_size_down=None):
    """Cyclical learning rate between base_lr and max_lr ("triangular", "triangular2" or "exp_range").

    PyTorch: CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode, gamma), stepped per minibatch.
    """
    u = step_size_up
    d = u if step_size_down is None else step_size_down
    c, q = divmod(step, u + d)
    k = {"triangular": lambda: 1., "triangular2": lambda: 0.5 ** c, "exp_range": lambda: gamma ** step}.get(mode)
    if k is None:
        raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
    return float(base_lr + (max_lr - base_lr) * (q / u if q < u else 1 - (q - u) / d) * k())


def linear_lr(step, base_lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    """Linear change of the factor from start_factor to end_factor over total_iters steps.

    PyTorch: LinearLR(opt, start_factor, end_factor, total_iters).
    """
    return float(base_lr * (start_factor + (end_factor - start_factor) * min(step, total_iters) / max(total_iters, 1)))

# %% [accumulation_solution]
def accumulate_gradients(loss_fn, batches):
    """Loss and gradients of the mean loss over several minibatches, one minibatch at a time.

    Args:
        loss_fn: function (X, y) -> (mean loss over the rows of X, dict name -> gradient array).
        batches: list of (X, y) minibatches (sizes may differ).

    Returns:
        (loss, grads): the mean loss over all samples (a float) and its gradients (a dict with
        loss_fn's keys), equal to loss_fn on the concatenated batches.
    """
    r = [(len(X), *loss_fn(X, y)) for X, y in batches]
    w = np.array([n for n, _, _ in r], np.float64)
    w /= w.sum()  # n_i / N
    G = [g for _, _, g in r]
    return float(w @ np.array([l for _, l, _ in r], np.float64)), \
        {k: np.einsum("i,i...->...", w, np.array([g[k] for g in G], np.float64)) for k in G[0]}


def linear_scaling_lr(step, base_lr, batch_size, base_batch_size, warmup_steps):
    """Linear scaling rule with linear warmup (Goyal et al., 2017).

    Returns:
        The lr at this step: from base_lr at step 0 linearly up to base_lr * batch_size / base_batch_size
        at step warmup_steps, constant afterwards (immediately if warmup_steps == 0).
    """
    k = batch_size / base_batch_size
    return float(base_lr * (1 + (k - 1) * (np.clip(step / warmup_steps, 0, 1) if warmup_steps else 1)))
