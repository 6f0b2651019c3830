"""Out-of-process probes for a3_optimization (see dlcourse.grading.probes). Instructor only: never released.

Each probe runs one of the student's functions or optimizer classes on inputs drawn for that
student, in a fresh interpreter where the reference packages cannot be imported, and the
result is compared here with the reference. A failing probe takes the points of the cells
whose behaviour it checks: a probe on what the visible test checks (an optimizer stepped at a
constant learning rate on vectors and matrices, a schedule within its first period) takes the
exercise's visible and hidden cells; a probe on what only the hidden test checks (parameter
groups, a learning rate a scheduler changes, skipped gradients, 0-d parameters, a 0-d start,
cosine annealing past T_max, warm restarts with T_mult = 1, a decreasing linear schedule, a
batch that is not a whole multiple of the base batch, Adam's exact losses on the digits) takes
the hidden cell only.

The helpers in SETUP run after the student's cells, in the student's namespace: there
``Parameter``, ``SGD``, ``Adam``, ``gradient_descent``, ... are the student's (and the
notebook's given ``Parameter``). The same SETUP code is executed here with the reference
classes in their place to compute the expected values of the optimizer and training probes.
"""

import numpy as np

from dlcourse.grading.forbidden import TORCH_OPTIMIZER_INTERNALS as TORCH_OPTIM
from dlcourse.grading.probe_helpers import close_message, exercise_cells, first_problem, hidden_cell, run_setup
from dlcourse.grading.probes import Probe
from dlcourse.numpy_ref import lr_scheduler, optim


# Delegating to the course's reference implementations scores zero: they cannot be imported in the probe
# run (the default FORBIDDEN). Nor may the student's code run torch.optim's own optimizers or schedulers
# (TORCH_OPTIM, caught even through a subclass).

GD = exercise_cells("gd")
SGD_CELLS = exercise_cells("sgd")
ADAPTIVE = exercise_cells("adaptive")
ADAM = exercise_cells("adam")
DIGITS = exercise_cells("adam_digits")
SCHEDULES = exercise_cells("schedules")
ACCUMULATION = exercise_cells("accumulation")

SETUP = '''
import numpy as _np

_REGIMES = ["monotone", "oscillating", "divergent"]


def _probe_gd(A, c, w0, lr, steps):
    return gradient_descent(lambda w: A @ (w - c), w0, lr, steps)


def _probe_gd_scalar(a, w0, lr, steps):
    """A numpy scalar start with 0 steps, and a 0-d array start."""
    return [gradient_descent(lambda w: a * w, _np.float64(w0), lr, 0),
            gradient_descent(lambda w: a * w, _np.array(w0), lr, steps)]


def _probe_regimes(pairs):
    out = []
    for lr, curvature in pairs:
        regime, rate = step_size_regime(float(lr), float(curvature))
        out.append([float(_REGIMES.index(regime)), float(rate)])
    return _np.array(out)


def _probe_optimizer(cls_name, groups, ctor, inits, mats, centers, noise, factors, skip):
    """Run an optimizer on per-parameter quadratics with noisy gradients; return the path and the state."""
    cls = globals()[cls_name]
    params = [Parameter(_np.array(x, dtype=float)) for x in inits]
    if groups is None:
        opt = cls(params, **ctor)
    else:
        opt = cls([dict(h, params=[params[i] for i in idx]) for idx, h in groups], **ctor)
    base = [g["lr"] for g in opt.param_groups]
    path = []
    for t in range(len(factors)):
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * float(factors[t])
        for i, p in enumerate(params):
            if skip[t][i]:
                p.grad = None
            else:
                w = _np.asarray(p.data, dtype=float).reshape(-1)
                p.grad = _np.asarray((mats[i] @ (w - centers[i])).reshape(_np.shape(inits[i])) + noise[t][i])
        opt.step()
        path.append([_np.array(p.data, dtype=float) for p in params])
    states = [{str(k): _np.array(v, dtype=float) for k, v in opt.state.get(p, {}).items()} for p in params]
    return {"path": path, "state": states}


def _probe_schedule(fn_name, steps, args, kwargs):
    fn = globals()[fn_name]
    return _np.array([float(fn(t, *args, **kwargs)) for t in range(steps)])


def _probe_softmax_ce(s, y):
    """Mean softmax cross-entropy of the scores s for labels y, and its gradient with respect to s."""
    s = s - s.max(axis=1, keepdims=True)
    logp = s - _np.log(_np.exp(s).sum(axis=1, keepdims=True))
    m = len(y)
    ds = _np.exp(logp)
    ds[_np.arange(m), y] -= 1
    ds /= m
    return float(-logp[_np.arange(m), y].mean()), ds


def _probe_net_loss(P, X, y):
    """Mean softmax cross-entropy of a tanh network and its gradients (plain numpy)."""
    a = _np.tanh(X @ P["W1"] + P["b1"])
    loss, ds = _probe_softmax_ce(a @ P["W2"] + P["b2"], y)
    da = (ds @ P["W2"].T) * (1 - a**2)
    return loss, {"W1": X.T @ da, "b1": da.sum(0), "W2": a.T @ ds, "b2": ds.sum(0)}


def _probe_accumulate(P, batches):
    limit = max(len(X) for X, _ in batches)
    calls = []

    def loss_fn(X, y):
        if len(X) > limit:
            raise ValueError("loss_fn accepts one minibatch at a time")
        calls.append(len(X))
        return _probe_net_loss(P, X, y)

    loss, grads = accumulate_gradients(loss_fn, [(X, y) for X, y in batches])
    return {"loss": float(loss), "grads": {str(k): _np.asarray(v, dtype=float) for k, v in grads.items()},
            "calls": _np.array(calls, dtype=float)}


def _probe_relu_net_loss(P, X, y):
    h = _np.maximum(X @ P["W1"] + P["b1"], 0.0)
    loss, ds = _probe_softmax_ce(h @ P["W2"] + P["b2"], y)
    dh = (ds @ P["W2"].T) * (h > 0)
    return loss, {"W1": X.T @ dh, "b1": dh.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}


def _probe_train_adam(hidden, seed, lr, steps, batch_size, data_seed):
    """Train a ReLU network on the digits with Adam; return the minibatch losses and the validation accuracy."""
    from dlcourse.data import load_digits

    d = load_digits(seed=data_seed)
    rng = _np.random.default_rng(seed)
    params = {"W1": Parameter(rng.standard_normal((64, hidden)) * _np.sqrt(2.0 / 64)), "b1": Parameter(_np.zeros(hidden)),
              "W2": Parameter(rng.standard_normal((hidden, 10)) * _np.sqrt(2.0 / hidden)), "b2": Parameter(_np.zeros(10))}
    opt = Adam(list(params.values()), lr=lr)
    n = len(d.X_train)
    order, position, losses = rng.permutation(n), 0, []
    for _ in range(steps):
        if position + batch_size > n:
            order, position = rng.permutation(n), 0
        idx = order[position:position + batch_size]
        position += batch_size
        opt.zero_grad()
        loss, grads = _probe_relu_net_loss({k: p.data for k, p in params.items()}, d.X_train[idx], d.y_train[idx])
        for k, p in params.items():
            p.grad = grads[k]
        opt.step()
        losses.append(loss)
    P = {k: _np.asarray(p.data, dtype=float) for k, p in params.items()}
    h = _np.maximum(d.X_val @ P["W1"] + P["b1"], 0.0)
    acc = float(_np.mean(_np.argmax(h @ P["W2"] + P["b2"], axis=1) == d.y_val))
    return {"losses": _np.array(losses), "val_acc": acc}
'''

# The same helpers with the reference in place of the student's code, for the expected values.
_REF = run_setup(SETUP, "a3 probe setup, reference", Parameter=optim.Parameter, SGD=optim.SGD, Adagrad=optim.Adagrad,
                 RMSprop=optim.RMSprop, Adam=optim.Adam)


# ---- Part 1 ---------------------------------------------------------------------------------------

def _gd_args(rng):
    n = int(rng.integers(2, 6))
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = np.exp(rng.uniform(np.log(0.05), np.log(5.0), size=n))
    A = q @ np.diag(lam) @ q.T
    lr = float(rng.uniform(0.1, 1.9)) / lam.max()
    return A, rng.normal(size=n), rng.normal(scale=2.0, size=n), lr, int(rng.integers(5, 25))


def _gd_expected(A, c, w0, lr, steps):
    w, path = np.array(w0, dtype=float), [np.array(w0, dtype=float)]
    for _ in range(steps):
        w = w - lr * (A @ (w - c))
        path.append(w.copy())
    return np.stack(path)


def _gd_scalar_args(rng):
    return float(rng.uniform(0.5, 4.0)), float(rng.normal(scale=2.0)), float(rng.uniform(0.05, 0.2)), int(rng.integers(2, 6))


def _gd_scalar_expected(a, w0, lr, steps):
    return [np.array([w0]), w0 * (1.0 - lr * a) ** np.arange(steps + 1)]


def _regime_args(rng):
    pairs = []
    for k in range(9):
        a = float(np.exp(rng.uniform(-3, 3)))
        frac = [rng.uniform(0.05, 0.95), rng.uniform(1.05, 1.95), rng.uniform(2.05, 5.0)][k % 3]
        pairs.append([float(frac) / a, a])
    a = float(2.0 ** int(rng.integers(-4, 5)))
    pairs += [[1.0 / a, a], [2.0 / a, a]]
    return (np.array(pairs),)


def _regime_expected(pairs):
    out = []
    for lr, a in pairs:
        r = 1.0 - lr * a
        out.append([0.0 if r >= 0 else (1.0 if r > -1 else 2.0), r * r])
    return np.array(out)


# ---- Parts 2-4: optimizers ------------------------------------------------------------------------

def _problem(rng, n_params, steps, *, scheduled=True):
    """Per-parameter quadratics with noisy gradients, as the hidden tests draw them.

    ``scheduled``: 3 parameters among shapes (), (n,), (a, b) and (a, 1, b), a learning rate that
    changes between steps (what a scheduler does) and gradients that are sometimes None. Otherwise the
    visible test's setting (compare_with_torch): a vector and a matrix, a constant learning rate and a
    gradient for every parameter at every step.
    """
    if scheduled:
        shapes = [(), (int(rng.integers(2, 6)),), (int(rng.integers(2, 4)), int(rng.integers(2, 4))),
                  (int(rng.integers(1, 3)), 1, int(rng.integers(2, 4)))]
        shapes = [shapes[i] for i in rng.permutation(len(shapes))[:n_params]]
    else:
        shapes = [(int(rng.integers(2, 6)),), (int(rng.integers(2, 4)), int(rng.integers(2, 4)))]
    inits, mats, centers = [], [], []
    for s in shapes:
        n = int(np.prod(s, dtype=int))
        q, _ = np.linalg.qr(rng.normal(size=(n, n)))
        mats.append(q @ np.diag(rng.uniform(0.1, 3.0, size=n)) @ q.T)
        centers.append(rng.normal(size=n))
        inits.append(rng.normal(scale=2.0, size=s))
    noise = [[rng.normal(scale=0.5, size=s) for s in shapes] for _ in range(steps)]
    if not scheduled:
        return inits, mats, centers, noise, np.ones(steps), np.zeros((steps, len(shapes)), dtype=bool)
    factors = np.concatenate([[1.0], rng.uniform(0.3, 1.5, size=steps - 1)])
    skip = rng.random((steps, n_params)) < 0.15
    skip[0, 0] = False
    return inits, mats, centers, noise, factors, skip


def _check_constant_lr(result, args, kwargs):
    """The visible test's view of an optimizer: every parameter after every step, and the state's keys."""
    expected = _REF["_probe_optimizer"](*args, **kwargs)
    cls_name = args[0]
    try:
        if len(result["path"]) != len(expected["path"]):
            return f"{cls_name}: {len(result['path'])} steps recorded, expected {len(expected['path'])}"
        problems = [close_message(result["path"][t][i], want, f"{cls_name}: parameter {i} after step {t + 1}", 1e-8, 1e-11)
                    for t, row in enumerate(expected["path"]) for i, want in enumerate(row)]
        for i, (mine, theirs) in enumerate(zip(result["state"], expected["state"])):
            if theirs and set(mine) != set(theirs):  # SGD without momentum keeps no state: the visible test never looks
                problems.append(f"{cls_name}: state keys of parameter {i} are {sorted(mine)}, expected {sorted(theirs)}")
    except Exception as exc:  # noqa: BLE001 - a malformed result is a wrong result
        return f"{cls_name}: unexpected result ({type(exc).__name__}: {exc})"
    return first_problem(*problems)


def _optimizer_probe(name, cells, cls_name, hyper, *, scheduled):
    """hyper(rng) -> (groups or None, ctor kwargs); 10 to 16 steps.

    ``scheduled`` (the hidden tests' setting, see :func:`_problem`): the parameters and the state are compared
    with the reference. Otherwise (the visible test's): every parameter after every step, and the state's keys.
    """
    def args(rng):
        groups, ctor = hyper(rng)
        steps = int(rng.integers(10, 17))
        return (cls_name, groups, ctor, *_problem(rng, 3, steps, scheduled=scheduled))
    if scheduled:
        return Probe(name, cells, "_probe_optimizer", args=args, expect=_REF["_probe_optimizer"], rtol=1e-8,
                     atol=1e-11, forbid=TORCH_OPTIM)
    return Probe(name, cells, "_probe_optimizer", args=args, check=_check_constant_lr, forbid=TORCH_OPTIM)


def _u(rng, low, high):
    return float(rng.uniform(low, high))


def _constant(name, cells, cls_name, hyper):
    return _optimizer_probe(name, cells, cls_name, lambda rng: (None, hyper(rng)), scheduled=False)


def _scheduled(name, exercise, cls_name, hyper):
    return _optimizer_probe(name, hidden_cell(exercise), cls_name, hyper, scheduled=True)


OPTIMIZER_PROBES = [
    # The visible tests' settings (compare_with_torch and the defaults), with this student's values.
    _constant("sgd", SGD_CELLS, "SGD", lambda rng: dict(lr=_u(rng, 0.02, 0.15), weight_decay=_u(rng, 0.01, 0.3))),
    _constant("sgd_momentum", SGD_CELLS, "SGD", lambda rng: dict(
        lr=_u(rng, 0.02, 0.15), momentum=_u(rng, 0.5, 0.9), dampening=_u(rng, 0.1, 0.9), weight_decay=_u(rng, 0.0, 0.1))),
    _constant("sgd_nesterov", SGD_CELLS, "SGD", lambda rng: dict(
        lr=_u(rng, 0.02, 0.15), momentum=_u(rng, 0.5, 0.95), nesterov=True, weight_decay=_u(rng, 0.0, 0.1))),
    _constant("sgd_defaults", SGD_CELLS, "SGD", lambda rng: {}),
    _constant("adagrad", ADAPTIVE, "Adagrad", lambda rng: dict(
        lr=_u(rng, 0.05, 0.5), lr_decay=_u(rng, 0.05, 0.5), weight_decay=_u(rng, 0.01, 0.3),
        initial_accumulator_value=_u(rng, 0.1, 2.0), eps=_u(rng, 0.01, 0.5))),
    _constant("adagrad_defaults", ADAPTIVE, "Adagrad", lambda rng: {}),
    _constant("rmsprop", ADAPTIVE, "RMSprop", lambda rng: dict(
        lr=_u(rng, 0.002, 0.03), alpha=_u(rng, 0.8, 0.99), eps=_u(rng, 0.05, 0.5), weight_decay=_u(rng, 0.01, 0.2))),
    _constant("rmsprop_momentum", ADAPTIVE, "RMSprop", lambda rng: dict(lr=_u(rng, 0.002, 0.02), momentum=_u(rng, 0.5, 0.9))),
    _constant("rmsprop_centered", ADAPTIVE, "RMSprop", lambda rng: dict(lr=_u(rng, 0.002, 0.02), centered=True,
                                                                       alpha=_u(rng, 0.85, 0.99))),
    _constant("rmsprop_defaults", ADAPTIVE, "RMSprop", lambda rng: {}),
    _constant("adam", ADAM, "Adam", lambda rng: dict(
        lr=_u(rng, 0.01, 0.1), betas=(_u(rng, 0.5, 0.95), _u(rng, 0.8, 0.999)), eps=_u(rng, 0.05, 0.5),
        weight_decay=_u(rng, 0.01, 0.3))),
    _constant("adam_amsgrad", ADAM, "Adam", lambda rng: dict(lr=_u(rng, 0.01, 0.1), amsgrad=True)),
    _constant("adam_defaults", ADAM, "Adam", lambda rng: {}),
    # The hidden tests' settings: parameter groups, a changing lr, skipped gradients, 0-d parameters, the state.
    _scheduled("sgd_weight_decay_scheduled", "sgd", "SGD",
               lambda rng: (None, dict(lr=_u(rng, 0.02, 0.15), weight_decay=_u(rng, 0.01, 0.3)))),
    _scheduled("sgd_momentum_groups", "sgd", "SGD", lambda rng: (
        [([0, 2], dict(momentum=_u(rng, 0.3, 0.9), dampening=_u(rng, 0.1, 0.9))),
         ([1], dict(lr=_u(rng, 0.01, 0.1), weight_decay=_u(rng, 0.01, 0.2)))],
        dict(lr=_u(rng, 0.02, 0.15), momentum=_u(rng, 0.5, 0.9)))),
    _scheduled("sgd_nesterov_scheduled", "sgd", "SGD", lambda rng: (
        None, dict(lr=_u(rng, 0.02, 0.15), momentum=_u(rng, 0.5, 0.95), nesterov=True, weight_decay=_u(rng, 0.0, 0.1)))),
    _scheduled("adagrad_groups", "adaptive", "Adagrad", lambda rng: (
        [([0], dict(lr_decay=_u(rng, 0.05, 0.5), eps=_u(rng, 0.01, 0.5))), ([1, 2], dict(weight_decay=_u(rng, 0.01, 0.3)))],
        dict(lr=_u(rng, 0.05, 0.5), initial_accumulator_value=_u(rng, 0.1, 2.0)))),
    _scheduled("rmsprop_scheduled", "adaptive", "RMSprop", lambda rng: (
        None, dict(lr=_u(rng, 0.002, 0.03), alpha=_u(rng, 0.8, 0.99), eps=_u(rng, 0.05, 0.5), weight_decay=_u(rng, 0.01, 0.2)))),
    _scheduled("rmsprop_groups", "adaptive", "RMSprop", lambda rng: (
        [([0, 1], dict(momentum=_u(rng, 0.5, 0.9))), ([2], dict(centered=True, alpha=_u(rng, 0.85, 0.99)))],
        dict(lr=_u(rng, 0.002, 0.02)))),
    _scheduled("adam_scheduled", "adam", "Adam", lambda rng: (
        None, dict(lr=_u(rng, 0.01, 0.1), betas=(_u(rng, 0.5, 0.95), _u(rng, 0.8, 0.999)), eps=_u(rng, 0.05, 0.5),
                   weight_decay=_u(rng, 0.01, 0.3)))),
    _scheduled("adam_amsgrad_groups", "adam", "Adam", lambda rng: (
        [([0], dict(amsgrad=True, betas=(_u(rng, 0.5, 0.9), _u(rng, 0.9, 0.99)))),
         ([1, 2], dict(lr=_u(rng, 0.01, 0.05), weight_decay=_u(rng, 0.0, 0.1)))],
        dict(lr=_u(rng, 0.01, 0.1)))),
]


# ---- Part 6: Adam trains a network ----------------------------------------------------------------

def _train_args(steps):
    def args(rng):
        return (int(rng.choice([32, 48, 64])), int(rng.integers(0, 10_000)), _u(rng, 0.006, 0.015), steps,
                int(rng.choice([32, 48, 64])), int(rng.integers(0, 1000)))
    return args


def _check_training(result, args, kwargs):
    """The visible test's check: Adam trains the network (the losses are finite, the accuracy high)."""
    if not isinstance(result, dict) or "losses" not in result or "val_acc" not in result:
        return f"training returned {type(result).__name__}"
    losses = np.asarray(result["losses"], dtype=float)
    if losses.shape != (args[3],) or not np.all(np.isfinite(losses)):
        return f"expected {args[3]} finite minibatch losses, got shape {losses.shape}"
    if not result["val_acc"] >= 0.9:
        return f"validation accuracy {result['val_acc']:.3f} after {args[3]} Adam steps is below 0.90"
    return None


def _check_exact_losses(result, args, kwargs):
    """The hidden test's check: the first 40 minibatch losses are the reference Adam's."""
    if not isinstance(result, dict) or "losses" not in result:
        return f"training returned {type(result).__name__}"
    expected = _REF["_probe_train_adam"](*args, **kwargs)
    losses = np.asarray(result["losses"], dtype=float)
    if losses.shape != expected["losses"].shape:
        return f"expected {expected['losses'].shape} losses, got {losses.shape}"
    worst = float(np.max(np.abs(losses - expected["losses"]) / (1e-10 + np.abs(expected["losses"]))))
    if not worst <= 1e-7:
        return f"the minibatch losses of the first {args[3]} Adam steps differ from the reference's (relative {worst:.3g})"
    return None


# ---- Part 7: schedules ----------------------------------------------------------------------------

def _schedule_probe(name, fn_name, draw, steps=(80, 160), cells=SCHEDULES):
    """``steps``: a range to draw the number of steps from, or ``f(args, kwargs) -> steps``."""
    def args(rng):
        a, kw = draw(rng)
        n = steps(a, kw) if callable(steps) else int(rng.integers(*steps))
        return fn_name, n, a, kw

    def expect(fn, n, a, kw):
        ref = getattr(lr_scheduler, fn)
        return np.array([ref(t, *a, **kw) for t in range(n)])

    return Probe(name, cells, "_probe_schedule", args=args, expect=expect, rtol=1e-10, atol=1e-15,
                 forbid=TORCH_OPTIM)


def _base(rng):
    return float(np.exp(rng.uniform(np.log(1e-3), np.log(0.5))))


def _decreasing_linear(rng):
    return (_base(rng), _u(rng, 0.5, 1.0), _u(rng, 0.0, 0.4), int(rng.integers(3, 50))), {}


SCHEDULES_HIDDEN = hidden_cell("schedules")

SCHEDULE_PROBES = [
    # The visible test's kind of schedules, with this student's values.
    _schedule_probe("step_lr", "step_lr", lambda rng: ((_base(rng), int(rng.integers(2, 30)), _u(rng, 0.1, 0.9)), {})),
    _schedule_probe("step_lr_default", "step_lr", lambda rng: ((_base(rng), int(rng.integers(2, 30))), {})),
    _schedule_probe("exponential_lr", "exponential_lr", lambda rng: ((_base(rng), _u(rng, 0.9, 0.999)), {})),
    _schedule_probe("inverse_time_lr", "inverse_time_lr", lambda rng: ((_base(rng), _u(rng, 0.01, 2.0)), {})),
    # up to T_max, where the visible test stops
    _schedule_probe("cosine_annealing_lr", "cosine_annealing_lr",
                    lambda rng: ((_base(rng), int(rng.integers(10, 60))), {"eta_min": _u(rng, 0.0, 1e-3)}),
                    steps=lambda a, kw: a[1] + 1),
    _schedule_probe("warm_restarts", "cosine_annealing_warm_restarts_lr",
                    lambda rng: ((_base(rng), int(rng.integers(2, 12)), int(rng.integers(2, 4)), _u(rng, 0.0, 1e-3)), {})),
    _schedule_probe("cyclic_triangular", "cyclic_lr", lambda rng: (
        (_u(rng, 1e-4, 1e-2), _u(rng, 0.02, 0.5), int(rng.integers(1, 15))), {"step_size_down": int(rng.integers(1, 15))})),
    _schedule_probe("cyclic_triangular2", "cyclic_lr", lambda rng: (
        (_u(rng, 1e-4, 1e-2), _u(rng, 0.02, 0.5), int(rng.integers(1, 15)), "triangular2"), {})),
    _schedule_probe("cyclic_exp_range", "cyclic_lr", lambda rng: (
        (_u(rng, 1e-4, 1e-2), _u(rng, 0.02, 0.5), int(rng.integers(1, 15))),
        {"mode": "exp_range", "gamma": _u(rng, 0.95, 0.999), "step_size_down": int(rng.integers(1, 15))})),
    _schedule_probe("linear_lr", "linear_lr", lambda rng: (
        (_base(rng), _u(rng, 0.01, 0.9), _u(rng, 0.9, 1.0), int(rng.integers(3, 50))), {})),
    _schedule_probe("linear_lr_default", "linear_lr", lambda rng: ((_base(rng),), {}), steps=(10, 20)),
    # What only the hidden test checks: past T_max, T_mult = 1 (also the default), a decreasing factor.
    _schedule_probe("cosine_annealing_lr_past_t_max", "cosine_annealing_lr",
                    lambda rng: ((_base(rng), int(rng.integers(10, 40))), {"eta_min": _u(rng, 0.0, 1e-3)}),
                    steps=lambda a, kw: 3 * a[1], cells=SCHEDULES_HIDDEN),
    _schedule_probe("warm_restarts_t_mult_1", "cosine_annealing_warm_restarts_lr",
                    lambda rng: ((_base(rng), int(rng.integers(2, 12)), 1, _u(rng, 0.0, 1e-3)), {}), cells=SCHEDULES_HIDDEN),
    _schedule_probe("warm_restarts_default", "cosine_annealing_warm_restarts_lr",
                    lambda rng: ((_base(rng), int(rng.integers(2, 12))), {}), cells=SCHEDULES_HIDDEN),
    _schedule_probe("linear_lr_decreasing", "linear_lr", _decreasing_linear, cells=SCHEDULES_HIDDEN),
]


# ---- Part 8: accumulation and the linear scaling rule ---------------------------------------------

def _accumulate_args(rng):
    n, d, h, c = int(rng.integers(30, 80)), int(rng.integers(3, 8)), int(rng.integers(4, 10)), int(rng.integers(2, 6))
    X, y = rng.normal(size=(n, d)), rng.integers(0, c, size=n)
    P = {"W1": rng.normal(scale=0.7, size=(d, h)), "b1": rng.normal(scale=0.1, size=h),
         "W2": rng.normal(scale=0.7, size=(h, c)), "b2": rng.normal(scale=0.1, size=c)}
    k = int(rng.integers(2, 7))
    edges = np.concatenate([[0], np.sort(rng.choice(np.arange(1, n), size=k - 1, replace=False)), [n]])
    return P, [(X[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]


def _accumulate_expected(P, batches):
    X = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    loss, grads = _REF["_probe_net_loss"](P, X, y)
    return {"loss": loss, "grads": grads, "calls": np.array([len(b[0]) for b in batches], dtype=float)}


def _scaling_args(rng):
    base_batch = int(rng.choice([16, 32, 64]))
    batch = base_batch * int(rng.integers(2, 17))
    return "linear_scaling_lr", int(rng.integers(40, 80)), (_base(rng), batch, base_batch, int(rng.integers(1, 40))), {}


def _fractional_scaling_args(rng):
    """A batch that is not a whole multiple of the base batch: k = 1.5, 2.5, ... (the hidden test's last case)."""
    base_batch = int(rng.choice([16, 32, 64]))
    batch = base_batch * int(2 * rng.integers(1, 10) + 1) // 2
    return "linear_scaling_lr", int(rng.integers(20, 50)), (_base(rng), batch, base_batch, int(rng.integers(2, 20))), {}


def _scaling_expected(fn, n, args, kwargs):
    base_lr, batch, base_batch, warmup = args
    k = batch / base_batch
    return np.array([lr_scheduler.linear_lr(t, base_lr * k, 1.0 / k, 1.0, warmup) for t in range(n)])


PROBES = [
    Probe("gradient_descent", GD, "_probe_gd", args=_gd_args, expect=_gd_expected, rtol=1e-9, atol=1e-12,
          forbid=TORCH_OPTIM),
    Probe("gradient_descent_scalar", hidden_cell("gd"), "_probe_gd_scalar", args=_gd_scalar_args,
          expect=_gd_scalar_expected, rtol=1e-9, atol=1e-12, forbid=TORCH_OPTIM),
    # the boundaries lr = eta_opt and 2 eta_opt: the visible test checks them too
    Probe("step_size_regime", GD, "_probe_regimes", args=_regime_args, expect=_regime_expected, rtol=1e-10, atol=1e-14),
    *OPTIMIZER_PROBES,
    Probe("adam_trains_digits", DIGITS, "_probe_train_adam", args=_train_args(150), check=_check_training,
          forbid=TORCH_OPTIM),
    Probe("adam_digits_exact", hidden_cell("adam_digits"), "_probe_train_adam", args=_train_args(40),
          check=_check_exact_losses, forbid=TORCH_OPTIM),
    *SCHEDULE_PROBES,
    Probe("accumulate_gradients", ACCUMULATION, "_probe_accumulate", args=_accumulate_args, expect=_accumulate_expected,
          rtol=1e-10, atol=1e-14, forbid=TORCH_OPTIM),
    Probe("linear_scaling_lr", ACCUMULATION, "_probe_schedule", args=_scaling_args, expect=_scaling_expected,
          rtol=1e-10, atol=1e-15, forbid=TORCH_OPTIM),
    Probe("linear_scaling_lr_fractional", hidden_cell("accumulation"), "_probe_schedule", args=_fractional_scaling_args,
          expect=_scaling_expected, rtol=1e-10, atol=1e-15, forbid=TORCH_OPTIM),
]
