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
    eta = lr
    w = np.array(w0, dtype=np.float64)      # w^(0), a copy of w0
    iterates = [w]
    for k in range(steps):
        # (1.1)  w^(k+1) = w^(k) - eta grad E(w^(k))
        g = np.asarray(grad(w), dtype=np.float64)
        w = w - eta * g
        iterates.append(w)
    return np.stack(iterates).astype(np.float64)


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
    eta, a = lr, curvature
    if not eta > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    if not a > 0:
        raise ValueError(f"curvature must be positive, got {curvature!r}")
    # (1.2)  w^(k+1) - w* = r (w^(k) - w*),   r = 1 - eta a
    # (1.3)  E(w^(k+1)) - E* = r^2 (E(w^(k)) - E*),   so R = r^2
    # regimes, with eta_opt = 1/a:
    #   eta a <= 1       <=>  0 <= r < 1     monotone
    #   1 < eta a < 2    <=>  -1 < r < 0     oscillating
    #   eta a >= 2       <=>  r <= -1        divergent
    eta_a = eta * a
    r = 1.0 - eta_a
    R = float(r ** 2)
    if eta_a <= 1.0:
        regime = "monotone"
    elif eta_a < 2.0:
        regime = "oscillating"
    else:
        regime = "divergent"
    return regime, R


# %% [sgd_solution]
class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    PyTorch counterpart: torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False). State per parameter: {"momentum_buffer": array} when momentum != 0, else {}.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate lr: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum requires a momentum > 0 and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        eta = group["lr"]
        mu = group["momentum"]
        tau = group["dampening"]
        lam = group["weight_decay"]
        theta = p.data

        # (2.1)  g <- g + lambda theta          (gradient of lambda/2 ||theta||^2)
        g = grad + lam * theta
        if mu != 0:
            # (2.2)  b_1 = g_1,   b_t = mu b_{t-1} + (1 - tau) g_t
            if "momentum_buffer" not in state:
                b = g.copy()
            else:
                b = mu * state["momentum_buffer"] + (1.0 - tau) * g
            state["momentum_buffer"] = b
            # (2.3)  d = g + mu b  (Nesterov),   d = b  (classical)
            if group["nesterov"]:
                d = g + mu * b
            else:
                d = b
        else:
            d = g
        # (2.4)  theta <- theta - eta d      (written into p.data itself)
        p.data[...] = theta - eta * d


# %% [adaptive_solution]
class Adagrad(Optimizer):
    """AdaGrad: per-coordinate steps scaled by the root of the sum of squared gradients.

    PyTorch counterpart: torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10). State per parameter: {"step": t, "sum": s}.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        if lr < 0:
            raise ValueError(f"Invalid learning rate lr: {lr}")
        if lr_decay < 0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if initial_accumulator_value < 0:
            raise ValueError(f"Invalid initial_accumulator_value: {initial_accumulator_value}")
        if eps < 0:
            raise ValueError(f"Invalid eps value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        eta = group["lr"]
        delta = group["lr_decay"]
        lam = group["weight_decay"]
        epsilon = group["eps"]
        theta = p.data

        if not state:
            # t_0 = 0,   s_0 = initial_accumulator_value (every element)
            state["step"] = 0
            state["sum"] = np.full_like(theta, group["initial_accumulator_value"], dtype=np.float64)

        # (3.1)  t <- t + 1
        t = state["step"] + 1
        # (3.2)  g <- g + lambda theta
        g = grad + lam * theta
        # (3.3)  eta_t = eta / (1 + (t - 1) delta)
        eta_t = eta / (1.0 + (t - 1) * delta)
        # (3.4)  s <- s + g (.) g
        s = state["sum"] + g * g
        # (3.5)  theta <- theta - eta_t g / (sqrt(s) + epsilon)
        p.data[...] = theta - eta_t * g / (np.sqrt(s) + epsilon)

        state["step"] = t
        state["sum"] = s


class RMSprop(Optimizer):
    """RMSProp: steps scaled by a running root mean square of the gradients (optionally centered, with momentum).

    PyTorch counterpart: torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False). State per parameter: {"step", "square_avg"}, plus "momentum_buffer"
    when momentum > 0 and "grad_avg" when centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate lr: {lr}")
        if alpha < 0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if eps < 0:
            raise ValueError(f"Invalid eps value: {eps}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        eta = group["lr"]
        alpha = group["alpha"]
        epsilon = group["eps"]
        lam = group["weight_decay"]
        mu = group["momentum"]
        theta = p.data

        if not state:
            # t_0 = 0,  v_0 = 0  (and b_0 = 0, g_bar_0 = 0 where used)
            state["step"] = 0
            state["square_avg"] = np.zeros_like(theta, dtype=np.float64)
            if mu > 0:
                state["momentum_buffer"] = np.zeros_like(theta, dtype=np.float64)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(theta, dtype=np.float64)

        # (3.6)  t <- t + 1
        t = state["step"] + 1
        # (3.7)  g <- g + lambda theta
        g = grad + lam * theta
        # (3.8)  v <- alpha v + (1 - alpha) g (.) g
        v = alpha * state["square_avg"] + (1.0 - alpha) * g * g
        if group["centered"]:
            # (3.9)  g_bar <- alpha g_bar + (1 - alpha) g,   d = sqrt(v - g_bar^2) + epsilon
            #        v - g_bar^2 is a variance estimate, >= 0 by Jensen; clip the rounding noise
            g_bar = alpha * state["grad_avg"] + (1.0 - alpha) * g
            d = np.sqrt(np.maximum(v - g_bar * g_bar, 0.0)) + epsilon
            state["grad_avg"] = g_bar
        else:
            # (3.10)  d = sqrt(v) + epsilon
            d = np.sqrt(v) + epsilon
        if mu > 0:
            # (3.11)  b <- mu b + g / d,   theta <- theta - eta b
            b = mu * state["momentum_buffer"] + g / d
            p.data[...] = theta - eta * b
            state["momentum_buffer"] = b
        else:
            # (3.12)  theta <- theta - eta g / d
            p.data[...] = theta - eta * g / d

        state["step"] = t
        state["square_avg"] = v


# %% [adam_solution]
class Adam(Optimizer):
    """Adam with bias correction (and optionally AMSGrad).

    PyTorch counterpart: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False). State per parameter: {"step", "exp_avg", "exp_avg_sq"},
    plus "max_exp_avg_sq" with amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate lr: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid eps value: {eps}")
        beta1, beta2 = betas
        if not 0.0 <= beta1 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0 of betas: {beta1}")
        if not 0.0 <= beta2 < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1 of betas: {beta2}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=(beta1, beta2), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        eta = group["lr"]
        beta1, beta2 = group["betas"]
        epsilon = group["eps"]
        lam = group["weight_decay"]
        theta = p.data

        if not state:
            # t_0 = 0,  m_0 = 0,  v_0 = 0  (v_max_0 = 0 for AMSGrad)
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(theta, dtype=np.float64)
            state["exp_avg_sq"] = np.zeros_like(theta, dtype=np.float64)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(theta, dtype=np.float64)

        # (4.1)  t <- t + 1,   g <- g + lambda theta
        t = state["step"] + 1
        g = grad + lam * theta
        # (4.2)  m <- beta1 m + (1 - beta1) g
        # (4.3)  v <- beta2 v + (1 - beta2) g (.) g
        m = beta1 * state["exp_avg"] + (1.0 - beta1) * g
        v = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * g * g
        # (4.4)  the weights of an EMA after t steps sum to 1 - beta^t, hence
        #        m_hat = m / (1 - beta1^t),   v_hat = v / (1 - beta2^t)
        m_hat = m / (1.0 - beta1 ** t)
        if group["amsgrad"]:
            # (4.5)  v_max <- max(v_max, v),   v_hat = v_max / (1 - beta2^t)
            v_max = np.maximum(state["max_exp_avg_sq"], v)
            v_hat = v_max / (1.0 - beta2 ** t)
            state["max_exp_avg_sq"] = v_max
        else:
            v_hat = v / (1.0 - beta2 ** t)
        # (4.6)  theta <- theta - eta m_hat / (sqrt(v_hat) + epsilon)
        p.data[...] = theta - eta * m_hat / (np.sqrt(v_hat) + epsilon)

        state["step"] = t
        state["exp_avg"] = m
        state["exp_avg_sq"] = v


# %% [schedules_solution]
def step_lr(step, base_lr, step_size, gamma=0.1):
    """Step decay: base_lr * gamma ** (step // step_size). PyTorch: StepLR(opt, step_size, gamma)."""
    t, eta_0 = step, base_lr
    # (7.1)  eta_t = eta_0 gamma^{floor(t / s)}
    return float(eta_0 * gamma ** (t // step_size))


def exponential_lr(step, base_lr, gamma):
    """Exponential decay: base_lr * gamma ** step. PyTorch: ExponentialLR(opt, gamma)."""
    t, eta_0 = step, base_lr
    # (7.2)  eta_t = eta_0 gamma^t   (= eta_0 e^{-kt},  gamma = e^{-k})
    return float(eta_0 * gamma ** t)


def inverse_time_lr(step, base_lr, decay):
    """1/t decay: base_lr / (1 + decay * step). PyTorch: LambdaLR(opt, lambda t: 1 / (1 + decay * t))."""
    t, eta_0 = step, base_lr
    # (7.3)  eta_t = eta_0 / (1 + decay t)
    return float(eta_0 * (1.0 / (1.0 + decay * t)))


def _cosine(eta_0, eta_min, t, T):
    # (7.4)  eta = eta_min + (eta_0 - eta_min) (1 + cos(pi t / T)) / 2
    return eta_min + (eta_0 - eta_min) * (1.0 + math.cos(math.pi * t / T)) / 2.0


def cosine_annealing_lr(step, base_lr, T_max, eta_min=0.0):
    """Cosine annealing from base_lr (step 0) to eta_min (step T_max). PyTorch: CosineAnnealingLR(opt, T_max, eta_min)."""
    # (7.4) with t = step, T = T_max  (beyond T_max the cosine simply continues)
    return float(_cosine(base_lr, eta_min, step, T_max))


def cosine_annealing_warm_restarts_lr(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Cosine annealing restarted after T_0, T_0 * T_mult, ... steps.

    PyTorch: CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min).
    """
    # (7.5)  periods T_i = T_0 T_mult^i;  T_cur = t - sum_{j < i} T_j  for the period i containing t
    T_cur, T_i = step, T_0
    while T_cur >= T_i:
        T_cur = T_cur - T_i
        T_i = T_i * T_mult
    # (7.4) with t = T_cur, T = T_i
    return float(_cosine(base_lr, eta_min, T_cur, T_i))


def cyclic_lr(step, base_lr, max_lr, step_size_up, mode="triangular", gamma=1.0, *, step_size_down=None):
    """Cyclical learning rate between base_lr and max_lr ("triangular", "triangular2" or "exp_range").

    PyTorch: CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode, gamma), stepped per minibatch.
    """
    if mode not in ("triangular", "triangular2", "exp_range"):
        raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
    t = step
    eta_low, eta_high = base_lr, max_lr
    u = step_size_up
    d = step_size_up if step_size_down is None else step_size_down
    # (7.6)  c = floor(t / (u + d)),   p = t mod (u + d)
    c = t // (u + d)
    p = t % (u + d)
    # (7.7)  h = p / u  (p < u),   h = 1 - (p - u) / d  (p >= u)
    if p < u:
        h = p / u
    else:
        h = 1.0 - (p - u) / d
    # (7.8)  scale = 1,  2^{-c},  or  gamma^t
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = 1.0 / (2.0 ** c)
    else:
        scale = gamma ** t
    # (7.9)  eta_t = eta_low + (eta_high - eta_low) h scale
    return float(eta_low + (eta_high - eta_low) * h * scale)


def linear_lr(step, base_lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    """Linear change of the factor from start_factor to end_factor over total_iters steps.

    PyTorch: LinearLR(opt, start_factor, end_factor, total_iters).
    """
    t, eta_0, T = step, base_lr, total_iters
    f_s, f_e = start_factor, end_factor
    # (7.10)  eta_t = eta_0 (f_s + (f_e - f_s) min(t, T) / T);   T = 0: the end factor at once
    if T == 0:
        return float(eta_0 * f_e)
    return float(eta_0 * (f_s + (f_e - f_s) * min(t, T) / T))


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
    if len(batches) == 0:
        raise ValueError("batches must contain at least one minibatch")

    # the k minibatch losses L_i, their gradients grad L_i and sizes n_i
    n, L, nabla_L = [], [], []
    for X_i, y_i in batches:
        L_i, grads_i = loss_fn(X_i, y_i)
        n.append(len(X_i))
        L.append(L_i)
        nabla_L.append(grads_i)

    # (8.1)  N = sum_i n_i,   w_i = n_i / N
    N = sum(n)
    w = [n_i / N for n_i in n]
    # (8.2)  L = sum_i w_i L_i
    loss = sum(w_i * float(L_i) for w_i, L_i in zip(w, L))
    # (8.3)  grad L = sum_i w_i grad L_i       (new arrays: loss_fn's are left alone)
    grads = {}
    for name in nabla_L[0]:
        grads[name] = sum(w_i * np.asarray(g_i[name], dtype=np.float64) for w_i, g_i in zip(w, nabla_L))
    return float(loss), grads


def linear_scaling_lr(step, base_lr, batch_size, base_batch_size, warmup_steps):
    """Linear scaling rule with linear warmup (Goyal et al., 2017).

    Returns:
        The lr at this step: from base_lr at step 0 linearly up to base_lr * batch_size / base_batch_size
        at step warmup_steps, constant afterwards (immediately if warmup_steps == 0).
    """
    t, eta, T = step, base_lr, warmup_steps
    # (8.4)  k = B / B_0,   target eta_k = k eta
    k = batch_size / base_batch_size
    eta_k = k * eta
    if T == 0:
        return float(eta_k)
    # (8.5)  eta_t = eta + (k eta - eta) min(t, T) / T
    return float(eta + (eta_k - eta) * min(t, T) / T)
