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
    # check the arguments one by one
    if not callable(grad):
        raise ValueError("grad must be a function w -> gradient")
    if steps < 0:
        raise ValueError(f"steps must not be negative, got {steps}")
    if int(steps) != steps:
        raise ValueError(f"steps must be a whole number, got {steps}")

    # Step 1: start from a copy of w0 (np.array copies), so w0 is never modified
    current_w = np.array(w0, dtype=np.float64)
    all_iterates = [current_w.copy()]

    # Step 2: the updates
    for step_index in range(int(steps)):
        gradient_here = np.asarray(grad(current_w.copy()), dtype=np.float64)
        if gradient_here.shape != current_w.shape:
            raise ValueError(f"grad returned shape {gradient_here.shape}, expected {current_w.shape}")
        # a new array every time, so the stored iterates stay as they were
        current_w = current_w - lr * gradient_here
        all_iterates.append(current_w.copy())

    # Step 3: stack them into one array of shape (steps + 1, *w0.shape)
    path = np.array(all_iterates, dtype=np.float64)
    return path


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
    # "not (x > 0)" is also true for nan, which is not positive either
    if not (lr > 0):
        raise ValueError(f"lr must be positive, got {lr}")
    if not (curvature > 0):
        raise ValueError(f"curvature must be positive, got {curvature}")

    # the optimal step lands on the minimum in one step: 1 / curvature
    optimal_step_size = 1.0 / curvature
    twice_optimal_step_size = 2.0 * optimal_step_size

    if lr <= optimal_step_size:
        regime = "monotone"
    elif lr < twice_optimal_step_size:
        regime = "oscillating"
    else:
        regime = "divergent"

    # the distance is multiplied by r = 1 - lr * a, the loss by r squared
    factor_per_step = 1.0 - lr * curvature
    rate = float(factor_per_step * factor_per_step)
    return regime, rate


# %% [sgd_solution]
class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

    PyTorch counterpart: torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False). State per parameter: {"momentum_buffer": array} when momentum != 0, else {}.
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        # check the hyperparameters one by one, like torch does
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and momentum <= 0:
            raise ValueError("Nesterov momentum requires a momentum > 0")
        if nesterov and dampening != 0:
            raise ValueError("Nesterov momentum requires zero dampening")

        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        # always read the hyperparameters from the group (a scheduler may have changed lr)
        learning_rate = group["lr"]
        momentum = group["momentum"]
        dampening = group["dampening"]
        weight_decay = group["weight_decay"]
        use_nesterov = group["nesterov"]

        # Step 1: weight decay, the gradient of (lambda / 2) * ||theta||^2 is lambda * theta
        if weight_decay != 0:
            grad = grad + weight_decay * p.data

        # Step 2: momentum buffer (only when momentum is not 0)
        if momentum != 0:
            if "momentum_buffer" not in state:
                # first step of this parameter: the buffer is a copy of the gradient
                momentum_buffer = np.array(grad, dtype=np.float64)
            else:
                old_buffer = state["momentum_buffer"]
                momentum_buffer = momentum * old_buffer + (1.0 - dampening) * grad
            state["momentum_buffer"] = momentum_buffer

            # Step 3: the direction we step in
            if use_nesterov:
                direction = grad + momentum * momentum_buffer
            else:
                direction = momentum_buffer
        else:
            direction = grad

        # Step 4: update the parameter in place
        p.data -= learning_rate * direction


# %% [adaptive_solution]
class Adagrad(Optimizer):
    """AdaGrad: per-coordinate steps scaled by the root of the sum of squared gradients.

    PyTorch counterpart: torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10). State per parameter: {"step": t, "sum": s}.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10):
        # check the hyperparameters one by one
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if lr_decay < 0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if initial_accumulator_value < 0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")

        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
        }
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        learning_rate = group["lr"]
        lr_decay = group["lr_decay"]
        weight_decay = group["weight_decay"]
        initial_accumulator_value = group["initial_accumulator_value"]
        eps = group["eps"]

        # Step 0: create the state the first time we see this parameter
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, initial_accumulator_value, dtype=np.float64)

        # Step 1: count the step
        state["step"] = state["step"] + 1
        current_step = state["step"]

        # Step 2: weight decay
        if weight_decay != 0:
            grad = grad + weight_decay * p.data

        # Step 3: the decayed learning rate lr / (1 + (t - 1) * lr_decay)
        decayed_learning_rate = learning_rate / (1.0 + (current_step - 1) * lr_decay)

        # Step 4: add the squared gradient to the sum
        new_sum = state["sum"] + grad * grad
        state["sum"] = new_sum

        # Step 5: divide by the root of the sum (eps after the square root)
        denominator = np.sqrt(new_sum) + eps
        p.data -= decayed_learning_rate * grad / denominator


class RMSprop(Optimizer):
    """RMSProp: steps scaled by a running root mean square of the gradients (optionally centered, with momentum).

    PyTorch counterpart: torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False). State per parameter: {"step", "square_avg"}, plus "momentum_buffer"
    when momentum > 0 and "grad_avg" when centered.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        # check the hyperparameters one by one
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if alpha < 0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")

        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
        }
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        learning_rate = group["lr"]
        alpha = group["alpha"]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        momentum = group["momentum"]
        centered = group["centered"]

        # Step 0: create the state the first time (only torch's keys)
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(p.data, dtype=np.float64)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p.data, dtype=np.float64)
            if centered:
                state["grad_avg"] = np.zeros_like(p.data, dtype=np.float64)

        # Step 1: count the step
        state["step"] = state["step"] + 1

        # Step 2: weight decay
        if weight_decay != 0:
            grad = grad + weight_decay * p.data

        # Step 3: running average of the squared gradients
        new_square_avg = alpha * state["square_avg"] + (1.0 - alpha) * grad * grad
        state["square_avg"] = new_square_avg

        # Step 4: the denominator (eps goes after the square root)
        if centered:
            new_grad_avg = alpha * state["grad_avg"] + (1.0 - alpha) * grad
            state["grad_avg"] = new_grad_avg
            variance_estimate = new_square_avg - new_grad_avg * new_grad_avg
            denominator = np.sqrt(variance_estimate) + eps
        else:
            denominator = np.sqrt(new_square_avg) + eps

        # Step 5: the update, with or without momentum
        if momentum > 0:
            new_buffer = momentum * state["momentum_buffer"] + grad / denominator
            state["momentum_buffer"] = new_buffer
            p.data -= learning_rate * new_buffer
        else:
            p.data -= learning_rate * grad / denominator


# %% [adam_solution]
class Adam(Optimizer):
    """Adam with bias correction (and optionally AMSGrad).

    PyTorch counterpart: torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False). State per parameter: {"step", "exp_avg", "exp_avg_sq"},
    plus "max_exp_avg_sq" with amsgrad.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False):
        # check the hyperparameters one by one
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas}")
        if not (0.0 <= betas[0] < 1.0):
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not (0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")

        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
        }
        super().__init__(params, defaults)

    def update(self, p, grad, group, state):
        learning_rate = group["lr"]
        beta1 = group["betas"][0]
        beta2 = group["betas"][1]
        eps = group["eps"]
        weight_decay = group["weight_decay"]
        use_amsgrad = group["amsgrad"]

        # Step 0: create the state the first time we see this parameter
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(p.data, dtype=np.float64)
            state["exp_avg_sq"] = np.zeros_like(p.data, dtype=np.float64)
            if use_amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p.data, dtype=np.float64)

        # Step 1: count the step
        state["step"] = state["step"] + 1
        current_step = state["step"]

        # Step 2: weight decay (classic L2, added to the gradient)
        if weight_decay != 0:
            grad = grad + weight_decay * p.data

        # Step 3: first and second moments
        new_exp_avg = beta1 * state["exp_avg"] + (1.0 - beta1) * grad
        new_exp_avg_sq = beta2 * state["exp_avg_sq"] + (1.0 - beta2) * grad * grad
        state["exp_avg"] = new_exp_avg
        state["exp_avg_sq"] = new_exp_avg_sq

        # Step 4: bias corrections 1 - beta^t
        bias_correction_first = 1.0 - beta1 ** current_step
        bias_correction_second = 1.0 - beta2 ** current_step

        corrected_first_moment = new_exp_avg / bias_correction_first
        if use_amsgrad:
            # keep the largest second moment seen so far
            new_max_exp_avg_sq = np.maximum(state["max_exp_avg_sq"], new_exp_avg_sq)
            state["max_exp_avg_sq"] = new_max_exp_avg_sq
            corrected_second_moment = new_max_exp_avg_sq / bias_correction_second
        else:
            corrected_second_moment = new_exp_avg_sq / bias_correction_second

        # Step 5: the update (eps after the square root of the corrected second moment)
        denominator = np.sqrt(corrected_second_moment) + eps
        p.data -= learning_rate * corrected_first_moment / denominator


# %% [schedules_solution]
def _check_step_and_base_lr(step, base_lr):
    """Helper: the checks every schedule needs."""
    if step < 0:
        raise ValueError(f"step must not be negative, got {step}")
    if base_lr < 0:
        raise ValueError(f"base_lr must not be negative, got {base_lr}")


def step_lr(step, base_lr, step_size, gamma=0.1):
    """Step decay: base_lr * gamma ** (step // step_size). PyTorch: StepLR(opt, step_size, gamma)."""
    _check_step_and_base_lr(step, base_lr)
    if step_size <= 0:
        raise ValueError(f"step_size must be positive, got {step_size}")

    # how many times we already multiplied by gamma
    number_of_decays = step // step_size
    learning_rate = base_lr * gamma ** number_of_decays
    return float(learning_rate)


def exponential_lr(step, base_lr, gamma):
    """Exponential decay: base_lr * gamma ** step. PyTorch: ExponentialLR(opt, gamma)."""
    _check_step_and_base_lr(step, base_lr)

    learning_rate = base_lr * gamma ** step
    return float(learning_rate)


def inverse_time_lr(step, base_lr, decay):
    """1/t decay: base_lr / (1 + decay * step). PyTorch: LambdaLR(opt, lambda t: 1 / (1 + decay * t))."""
    _check_step_and_base_lr(step, base_lr)
    if decay < 0:
        raise ValueError(f"decay must not be negative, got {decay}")

    learning_rate = base_lr / (1.0 + decay * step)
    return float(learning_rate)


def cosine_annealing_lr(step, base_lr, T_max, eta_min=0.0):
    """Cosine annealing from base_lr (step 0) to eta_min (step T_max). PyTorch: CosineAnnealingLR(opt, T_max, eta_min)."""
    _check_step_and_base_lr(step, base_lr)
    if T_max <= 0:
        raise ValueError(f"T_max must be positive, got {T_max}")

    # goes from 1 (step 0) to 0 (step T_max)
    cosine_factor = (1.0 + math.cos(math.pi * step / T_max)) / 2.0
    learning_rate = eta_min + (base_lr - eta_min) * cosine_factor
    return float(learning_rate)


def cosine_annealing_warm_restarts_lr(step, base_lr, T_0, T_mult=1, eta_min=0.0):
    """Cosine annealing restarted after T_0, T_0 * T_mult, ... steps.

    PyTorch: CosineAnnealingWarmRestarts(opt, T_0, T_mult, eta_min).
    """
    _check_step_and_base_lr(step, base_lr)
    if not isinstance(T_0, (int, np.integer)) or T_0 <= 0:
        raise ValueError(f"T_0 must be a positive integer, got {T_0}")
    if not isinstance(T_mult, (int, np.integer)) or T_mult < 1:
        raise ValueError(f"T_mult must be an integer >= 1, got {T_mult}")

    # Step 1: find the period we are in by removing the full periods one by one
    steps_since_restart = step
    current_period_length = T_0
    while steps_since_restart >= current_period_length:
        steps_since_restart = steps_since_restart - current_period_length
        current_period_length = current_period_length * T_mult

    # Step 2: the cosine inside this period
    cosine_factor = (1.0 + math.cos(math.pi * steps_since_restart / current_period_length)) / 2.0
    learning_rate = eta_min + (base_lr - eta_min) * cosine_factor
    return float(learning_rate)


def cyclic_lr(step, base_lr, max_lr, step_size_up, mode="triangular", gamma=1.0, *, step_size_down=None):
    """Cyclical learning rate between base_lr and max_lr ("triangular", "triangular2" or "exp_range").

    PyTorch: CyclicLR(opt, base_lr, max_lr, step_size_up, step_size_down, mode, gamma), stepped per minibatch.
    """
    _check_step_and_base_lr(step, base_lr)
    if mode != "triangular" and mode != "triangular2" and mode != "exp_range":
        raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {mode!r}")
    if step_size_up <= 0:
        raise ValueError(f"step_size_up must be positive, got {step_size_up}")

    # the way down has as many steps as the way up unless it is given
    if step_size_down is None:
        step_size_down = step_size_up
    if step_size_down <= 0:
        raise ValueError(f"step_size_down must be positive, got {step_size_down}")

    # Step 1: which cycle we are in and where inside it
    cycle_length = step_size_up + step_size_down
    cycle_number = math.floor(step / cycle_length)
    position_in_cycle = step - cycle_number * cycle_length

    # Step 2: the height of the triangle, between 0 and 1
    if position_in_cycle < step_size_up:
        triangle_height = position_in_cycle / step_size_up
    else:
        triangle_height = 1.0 - (position_in_cycle - step_size_up) / step_size_down

    # Step 3: the scale of this mode
    if mode == "triangular":
        amplitude_scale = 1.0
    elif mode == "triangular2":
        amplitude_scale = 1.0 / (2.0 ** cycle_number)
    else:
        amplitude_scale = gamma ** step

    learning_rate = base_lr + (max_lr - base_lr) * triangle_height * amplitude_scale
    return float(learning_rate)


def linear_lr(step, base_lr, start_factor=1 / 3, end_factor=1.0, total_iters=5):
    """Linear change of the factor from start_factor to end_factor over total_iters steps.

    PyTorch: LinearLR(opt, start_factor, end_factor, total_iters).
    """
    _check_step_and_base_lr(step, base_lr)
    if total_iters <= 0:
        raise ValueError(f"total_iters must be positive, got {total_iters}")
    if start_factor <= 0:
        raise ValueError(f"start_factor must be positive, got {start_factor}")
    if end_factor < 0:
        raise ValueError(f"end_factor must not be negative, got {end_factor}")

    # after total_iters steps the factor stays at end_factor
    steps_done = min(step, total_iters)
    fraction_done = steps_done / total_iters
    current_factor = start_factor + (end_factor - start_factor) * fraction_done
    learning_rate = base_lr * current_factor
    return float(learning_rate)


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
    if not callable(loss_fn):
        raise ValueError("loss_fn must be a function (X, y) -> (loss, grads)")
    if len(batches) == 0:
        raise ValueError("batches must contain at least one minibatch")

    # Step 1: call loss_fn once per minibatch, in order, and remember everything
    batch_sizes = []
    batch_losses = []
    batch_gradients = []
    for batch_index in range(len(batches)):
        X_batch, y_batch = batches[batch_index]
        size_of_this_batch = len(X_batch)
        if size_of_this_batch == 0:
            raise ValueError(f"batches[{batch_index}] is empty")
        loss_of_this_batch, grads_of_this_batch = loss_fn(X_batch, y_batch)
        batch_sizes.append(size_of_this_batch)
        batch_losses.append(float(loss_of_this_batch))
        batch_gradients.append(grads_of_this_batch)

    total_number_of_samples = sum(batch_sizes)

    # Step 2: weighted average with weights n_i / N (new arrays, loss_fn's arrays are not changed)
    total_loss = 0.0
    total_grads = {}
    for batch_index in range(len(batches)):
        weight_of_this_batch = batch_sizes[batch_index] / total_number_of_samples
        total_loss = total_loss + weight_of_this_batch * batch_losses[batch_index]
        for parameter_name, gradient in batch_gradients[batch_index].items():
            weighted_gradient = weight_of_this_batch * np.asarray(gradient, dtype=np.float64)
            if parameter_name not in total_grads:
                total_grads[parameter_name] = weighted_gradient
            else:
                total_grads[parameter_name] = total_grads[parameter_name] + weighted_gradient

    return float(total_loss), total_grads


def linear_scaling_lr(step, base_lr, batch_size, base_batch_size, warmup_steps):
    """Linear scaling rule with linear warmup (Goyal et al., 2017).

    Returns:
        The lr at this step: from base_lr at step 0 linearly up to base_lr * batch_size / base_batch_size
        at step warmup_steps, constant afterwards (immediately if warmup_steps == 0).
    """
    # check the arguments one by one
    if step < 0:
        raise ValueError(f"step must not be negative, got {step}")
    if base_lr < 0:
        raise ValueError(f"base_lr must not be negative, got {base_lr}")
    if base_batch_size <= 0:
        raise ValueError(f"base_batch_size must be positive, got {base_batch_size}")
    if batch_size < base_batch_size:
        raise ValueError(f"batch_size ({batch_size}) must be at least base_batch_size ({base_batch_size})")
    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must not be negative, got {warmup_steps}")

    # the scaling factor k and the target learning rate k * base_lr
    scaling_factor = batch_size / base_batch_size
    target_learning_rate = scaling_factor * base_lr

    # no warmup: the scaled learning rate from the very start
    if warmup_steps == 0:
        return float(target_learning_rate)

    # linear warmup from base_lr to k * base_lr over warmup_steps steps, then constant
    steps_done = min(step, warmup_steps)
    fraction_done = steps_done / warmup_steps
    learning_rate = base_lr + (target_learning_rate - base_lr) * fraction_done
    return float(learning_rate)
