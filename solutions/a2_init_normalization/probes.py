"""Out-of-process probes for a2_init_normalization (see dlcourse.grading.probes). Instructor only: never released.

Each probe calls one of the student's functions on inputs drawn for that student and judges the
result here, outside the notebook's kernel: against the reference implementation where the result
is deterministic, and with exact structural checks plus statistical bounds where it is random
(initializers, dropout masks). A failing probe takes the points of the exercise's test cells.
"""

import numpy as np

from dlcourse.grading.forbidden import SKLEARN_SCALERS, TORCH_AUTOGRAD, TORCH_BATCHNORM, TORCH_DROPOUT, TORCH_INIT
from dlcourse.grading.probe_helpers import exercise_cells, hidden_cell
from dlcourse.grading.probes import Probe
from dlcourse.numpy_ref import layers


INIT = exercise_cells("init")
DEEP = exercise_cells("deep")
NORM = exercise_cells("norm")
BN_FORWARD = exercise_cells("bn_forward")
BN_BACKWARD = exercise_cells("bn_backward")
DROPOUT = exercise_cells("dropout")
L2 = exercise_cells("l2")

# Delegating to the reference implementations scores zero: they are hidden from the probe runner (the
# default FORBIDDEN). And so does delegating to a library's own implementation of the exercise (checked
# in the runner by which code runs, see dlcourse.grading.forbidden).
LIBRARY = {
    INIT: TORCH_INIT,
    DEEP: TORCH_AUTOGRAD,
    NORM: SKLEARN_SCALERS,
    BN_FORWARD: TORCH_BATCHNORM,
    BN_BACKWARD: TORCH_BATCHNORM + TORCH_AUTOGRAD,
    DROPOUT: TORCH_DROPOUT,
    L2: (),
}


def _probe(name, cells, call, **kwargs):
    """A Probe that also forbids the library implementations of its exercise (``cells``: both or the hidden one)."""
    exercise = next(both for both in LIBRARY if cells[0] in both)
    return Probe(name, cells, call, forbid=LIBRARY[exercise], **kwargs)

# Helpers defined in the probe runner after the student's cells: they build the generators the
# student's functions need (a Generator cannot travel as plain data) and call forward and backward
# passes with the student's own cache.
SETUP = '''
import numpy as _np

def _probe_init(name, fan_in, fan_out, seed):
    fn = globals()[name]
    w = fn(fan_in, fan_out, rng=_np.random.default_rng(seed))
    again = fn(fan_in, fan_out, rng=_np.random.default_rng(seed))
    return w, bool(_np.array_equal(_np.asarray(w), _np.asarray(again)))

def _probe_bn_forward(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    out, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, training=training, momentum=momentum, eps=eps)
    return out, running_mean, running_var

def _probe_bn_backward(x, gamma, beta, running_mean, running_var, dout, training):
    _, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var, training=training)
    return batchnorm_backward(dout, cache)

def _probe_bn_backward_old_cache(x, x2, gamma, beta, dout):
    _, cache = batchnorm_forward(x, gamma, beta, _np.zeros(x.shape[1]), _np.ones(x.shape[1]), training=True)
    batchnorm_forward(x2, 2 * gamma, beta, _np.zeros(x.shape[1]), _np.ones(x.shape[1]), training=False)
    return batchnorm_backward(dout, cache)

def _probe_value_errors(name, calls):
    """For each (args, kwargs) in calls: 1.0 if the function raises ValueError, else 0.0."""
    fn = globals()[name]
    raised = []
    for args, kwargs in calls:
        try:
            fn(*args, **kwargs)
        except ValueError:
            raised.append(1.0)
        except Exception:
            raised.append(0.0)
        else:
            raised.append(0.0)
    return _np.array(raised)

def _probe_dropout(x, keep_prob, seed, dout):
    out, cache = dropout_forward(x, keep_prob, training=True, rng=_np.random.default_rng(seed))
    dx = dropout_backward(dout, cache)
    again, _ = dropout_forward(x, keep_prob, training=True, rng=_np.random.default_rng(seed))
    out_eval, cache_eval = dropout_forward(x, keep_prob, training=False, rng=None)
    dx_eval = dropout_backward(dout, cache_eval)
    return out, dx, bool(_np.array_equal(_np.asarray(out), _np.asarray(again))), out_eval, dx_eval
'''

# ---- initializers ---------------------------------------------------------------------------

_INIT_FORMULAS = {
    # name: (std(fan_in, fan_out), uniform?)
    "xavier_uniform": (lambda fi, fo: np.sqrt(2.0 / (fi + fo)), True),
    "xavier_normal": (lambda fi, fo: np.sqrt(2.0 / (fi + fo)), False),
    "he_normal": (lambda fi, fo: np.sqrt(2.0 / fi), False),
    "he_uniform": (lambda fi, fo: np.sqrt(2.0 / fi), True),
}


def _init_args(rng):
    fan_in, fan_out = int(rng.integers(60, 100)), int(rng.integers(250, 350))   # >= 15000 samples
    if rng.random() < 0.5:
        fan_in, fan_out = fan_out, fan_in
    return fan_in, fan_out, int(rng.integers(0, 2**31))


def _check_init(name):
    def check(result, args, kwargs):
        _, fan_in, fan_out, _ = args
        try:
            w, same = result
            w = np.asarray(w, dtype=np.float64)
        except Exception:  # noqa: BLE001 - a malformed result is a wrong result
            return f"{name} did not return an array"
        if w.shape != (fan_in, fan_out):
            return f"{name}({fan_in}, {fan_out}) returned shape {w.shape}, expected {(fan_in, fan_out)}"
        if not np.all(np.isfinite(w)):
            return f"{name} returned non-finite weights"
        if same is not True:
            return f"{name}: two generators with the same seed gave different weights (draw from rng)"
        std_of, uniform = _INIT_FORMULAS[name]
        std = std_of(fan_in, fan_out)
        n = w.size
        kurtosis = 1.8 if uniform else 3.0
        if abs(w.mean()) > 6 * std / np.sqrt(n):
            return f"{name}: mean {w.mean():.4g} is not ~0"
        std_tol = 6 * std * np.sqrt((kurtosis - 1.0) / (4.0 * n))
        if abs(w.std() - std) > std_tol:
            return f"{name}({fan_in}, {fan_out}): std {w.std():.6g}, expected {std:.6g} +- {std_tol:.2g}"
        sample_kurtosis = float(np.mean((w - w.mean()) ** 4) / w.var() ** 2)
        if abs(sample_kurtosis - kurtosis) > 0.25:
            return (f"{name}: E[w^4]/std^4 = {sample_kurtosis:.3f}, expected {kurtosis} for a "
                    f"{'uniform' if uniform else 'normal'} distribution")
        if uniform:
            bound = np.sqrt(3.0) * std
            biggest = float(np.max(np.abs(w)))
            if biggest > bound or biggest < bound * (1 - 20.0 / n):
                return f"{name}: the largest |w| is {biggest:.6g}, expected just below the bound {bound:.6g}"
        return None
    return check


def _init_probe(name):
    return _probe(name, INIT, "_probe_init", args=lambda rng: (name, *_init_args(rng)), check=_check_init(name))


# ---- deep stack -----------------------------------------------------------------------------

_LAYER = {"tanh": (layers.tanh_forward, layers.tanh_backward), "relu": (layers.relu_forward, layers.relu_backward),
          "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward)}


def _deep_reference(X, weights, activation, dout):
    fwd, bwd = _LAYER[activation]
    h, caches, hs = X, [], []
    for W in weights:
        a, c_aff = layers.affine_forward(h, W, np.zeros(W.shape[1]))
        h, c_act = fwd(a)
        caches.append((c_aff, c_act))
        hs.append(h)
    g, grads = dout, [None] * len(weights)
    for l in reversed(range(len(weights))):
        g, grads[l], _ = layers.affine_backward(bwd(g, caches[l][1]), caches[l][0])
    return hs, grads


def _deep_args(activation, scale):
    """A stack of 3 to 6 layers; with scale 200 the pre-activations reach the hundreds (saturation)."""
    def args(rng):
        depth = int(rng.integers(3, 7))
        dims = [int(d) for d in rng.integers(2, 9, size=depth + 1)]
        n = int(rng.integers(1, 7))
        weights = [rng.normal(scale=scale / np.sqrt(dims[l]), size=(dims[l], dims[l + 1])) for l in range(depth)]
        return rng.normal(size=(n, dims[0])), weights, activation, rng.normal(size=(n, dims[-1]))
    return args


_BAD_ACTIVATIONS = ("ReLU", "linear", "")
_BAD_METHODS = ("Standardize", "zscore", None)


def _check_value_errors(what, argument, bad_values):
    """The check of a ``_probe_value_errors`` probe: every bad value of ``argument`` must raise ValueError."""
    def check(result, args, kwargs):
        raised = np.asarray(result, dtype=np.float64)
        if raised.shape != (len(bad_values),):
            return f"{what}: unexpected result {result!r}"
        missing = [bad for bad, r in zip(bad_values, raised) if r != 1.0]
        return f"{what} should raise ValueError for {argument}={missing[0]!r}" if missing else None
    return check


def _bad_activation_args(rng):
    X, weights, _, dout = _deep_args("relu", 1.0)(rng)
    return "deep_forward_backward", [[[X, weights, bad, dout], {}] for bad in _BAD_ACTIVATIONS]


# ---- normalization --------------------------------------------------------------------------

def _norm_data(rng, n=None):
    n = n if n is not None else int(rng.integers(10, 40))
    d = int(rng.integers(3, 8))
    X = rng.normal(scale=50.0, size=d) + 10.0 ** rng.uniform(-2, 2, size=d) * rng.normal(size=(n, d))
    X[:, int(rng.integers(0, d))] = float(rng.integers(-3, 4))  # a constant feature
    return X


def _fit_expect(kind):
    def expect(X):
        if kind == "minmax":
            shift, scale = X.min(axis=0), X.max(axis=0) - X.min(axis=0)
        else:
            shift, scale = X.mean(axis=0), X.std(axis=0)
        return shift, np.where(scale == 0, 1.0, scale)
    return expect


def _splits_args(rng):
    X = _norm_data(rng, int(rng.integers(20, 50)))
    return X, rng.normal(size=(int(rng.integers(1, 9)), X.shape[1])) * 3.0, rng.normal(size=(int(rng.integers(1, 9)), X.shape[1]))


def _bad_method_args(rng):
    X = _norm_data(rng)
    return "normalize_splits", [[[X, X[:2], X[2:4]], {"method": bad}] for bad in _BAD_METHODS]


def _splits_expect(X_train, X_val, X_test, method="standardize"):
    shift, scale = _fit_expect(method)(X_train)
    return tuple((X - shift) / scale for X in (X_train, X_val, X_test))


# ---- batch norm -----------------------------------------------------------------------------

def _bn_forward_args(training):
    def args(rng):
        n, d = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        x = rng.normal(loc=rng.normal(scale=2.0, size=d), scale=rng.uniform(0.2, 3.0, size=d), size=(n, d))
        return (x, rng.uniform(-2.0, 2.0, size=d), rng.normal(size=d), rng.normal(size=d), rng.uniform(0.3, 3.0, size=d),
                training, float(rng.uniform(0.05, 0.9)), float(10.0 ** rng.uniform(-5, -2)))
    return args


def _bn_forward_expect(x, gamma, beta, running_mean, running_var, training, momentum, eps):
    rm, rv = running_mean.copy(), running_var.copy()
    out, _ = layers.batchnorm_forward(x, gamma, beta, rm, rv, training=training, momentum=momentum, eps=eps)
    return out, rm, rv


def _bn_backward_args(training):
    def args(rng):
        n, d = int(rng.integers(2, 9)), int(rng.integers(2, 7))
        x = rng.normal(loc=rng.normal(scale=2.0, size=d), scale=rng.uniform(0.2, 3.0, size=d), size=(n, d))
        return (x, rng.uniform(-2.0, 2.0, size=d), rng.normal(size=d), rng.normal(size=d), rng.uniform(0.3, 3.0, size=d),
                rng.normal(size=(n, d)), training)
    return args


def _bn_backward_expect(x, gamma, beta, running_mean, running_var, dout, training):
    _, cache = layers.batchnorm_forward(x, gamma, beta, running_mean.copy(), running_var.copy(), training=training)
    return layers.batchnorm_backward(dout, cache)


def _bn_constant_feature_args(rng):
    """Training mode with a feature that is constant over the batch (variance 0), as the hidden test."""
    x, gamma, beta, rm, rv, dout, training = _bn_backward_args(True)(rng)
    x[:, int(rng.integers(0, x.shape[1]))] = float(rng.integers(-6, 7)) / 4.0  # exactly representable
    return x, gamma, beta, rm, rv, dout, training


def _bn_old_cache_args(rng):
    n, d = int(rng.integers(3, 7)), int(rng.integers(2, 6))
    return (rng.normal(size=(n, d)), 3.0 * rng.normal(size=(n, d)), rng.normal(size=d), rng.normal(size=d),
            rng.normal(size=(n, d)))


def _bn_old_cache_expect(x, x2, gamma, beta, dout):
    _, cache = layers.batchnorm_forward(x, gamma, beta, np.zeros(x.shape[1]), np.ones(x.shape[1]), training=True)
    return layers.batchnorm_backward(dout, cache)


# ---- dropout --------------------------------------------------------------------------------

def _dropout_args(rng):
    shape = (int(rng.integers(60, 120)), int(rng.integers(60, 120)))
    x = rng.normal(size=shape)
    x[x == 0] = 1.0
    return x, float(rng.uniform(0.2, 0.9)), int(rng.integers(0, 2**31)), rng.normal(size=shape)


def _check_dropout(result, args, kwargs):
    x, keep_prob, _, dout = args
    try:
        out, dx, same, out_eval, dx_eval = result
        out, dx, out_eval, dx_eval = (np.asarray(a, dtype=np.float64) for a in (out, dx, out_eval, dx_eval))
    except Exception:  # noqa: BLE001
        return "dropout_forward / dropout_backward returned something that is not (out, cache) / an array"
    for arr, what in ((out, "out"), (dx, "dx"), (out_eval, "out in evaluation"), (dx_eval, "dx in evaluation")):
        if arr.shape != x.shape:
            return f"dropout: {what} has shape {arr.shape}, expected {x.shape}"
    kept = out != 0
    if not np.allclose(out[kept], x[kept] / keep_prob, rtol=1e-12, atol=0):
        return "dropout_forward: kept elements must equal x / keep_prob"
    rate_tol = 6 * np.sqrt(keep_prob * (1 - keep_prob) / x.size)
    if abs(kept.mean() - keep_prob) > rate_tol:
        return f"dropout_forward kept {kept.mean():.4f} of the units, expected {keep_prob:.4f} +- {rate_tol:.4f}"
    if not np.allclose(dx, np.where(kept, dout / keep_prob, 0.0), rtol=1e-12, atol=0):
        return "dropout_backward: dx must be dout * mask / keep_prob for the mask of the forward pass"
    if same is not True:
        return "dropout_forward: two generators with the same seed gave different masks (draw from rng)"
    if not np.array_equal(out_eval, x) or not np.array_equal(dx_eval, dout):
        return "dropout in evaluation mode must be the identity (forward and backward)"
    return None


# ---- L2 -------------------------------------------------------------------------------------

def _l2_expect(weights, weight_decay):
    return 0.5 * weight_decay * sum(float(np.sum(W ** 2)) for W in weights), [weight_decay * W for W in weights]


def _check_l2_empty(result, args, kwargs):
    try:
        penalty, grads = result
        if np.ndim(penalty) != 0 or abs(float(penalty)) > 1e-10:
            return f"l2_penalty([]) should give the penalty 0.0, got {penalty!r}"
        if len(grads) != 0:
            return f"l2_penalty([]) should give no gradients, got {len(grads)}"
    except Exception as exc:  # noqa: BLE001 - a malformed result is a wrong result
        return f"l2_penalty([]) returned something unexpected ({type(exc).__name__}: {exc})"
    return None


PROBES = [
    *(_init_probe(name) for name in _INIT_FORMULAS),
    _probe("deep_tanh", DEEP, "deep_forward_backward", args=_deep_args("tanh", 1.5), expect=_deep_reference),
    _probe("deep_relu", DEEP, "deep_forward_backward", args=_deep_args("relu", 1.5), expect=_deep_reference),
    _probe("deep_sigmoid", DEEP, "deep_forward_backward", args=_deep_args("sigmoid", 1.5), expect=_deep_reference),
    # saturated sigmoids: the visible test checks the forward pass at +-1000 (value, no warning), the
    # hidden test the gradients too
    _probe("deep_sigmoid_saturated", DEEP, "deep_forward_backward", args=_deep_args("sigmoid", 200.0),
           expect=lambda *a: _deep_reference(*a)[0], select=lambda result: result[0]),
    _probe("deep_sigmoid_saturated_grads", hidden_cell("deep"), "deep_forward_backward", args=_deep_args("sigmoid", 200.0),
           expect=_deep_reference, rtol=1e-6),
    _probe("deep_bad_activation", hidden_cell("deep"), "_probe_value_errors", args=_bad_activation_args,
           check=_check_value_errors("deep_forward_backward", "activation", _BAD_ACTIVATIONS)),
    _probe("minmax_fit", NORM, "minmax_fit", args=lambda rng: (_norm_data(rng),), expect=_fit_expect("minmax")),
    _probe("standardize_fit", NORM, "standardize_fit", args=lambda rng: (_norm_data(rng),), expect=_fit_expect("standardize")),
    _probe("normalize", NORM, "normalize",
           args=lambda rng: (lambda X: (X, rng.normal(size=X.shape[1]), rng.uniform(0.5, 4.0, size=X.shape[1])))(_norm_data(rng)),
           expect=lambda X, shift, scale: (X - shift) / scale),
    _probe("normalize_splits_standardize", NORM, "normalize_splits", args=_splits_args,
           kwargs=lambda rng: {"method": "standardize"}, expect=_splits_expect, atol=1e-9),
    _probe("normalize_splits_minmax", NORM, "normalize_splits", args=_splits_args,
           kwargs=lambda rng: {"method": "minmax"}, expect=_splits_expect, atol=1e-9),
    _probe("normalize_splits_bad_method", hidden_cell("norm"), "_probe_value_errors", args=_bad_method_args,
           check=_check_value_errors("normalize_splits", "method", _BAD_METHODS)),
    _probe("batchnorm_forward_train", BN_FORWARD, "_probe_bn_forward", args=_bn_forward_args(True), expect=_bn_forward_expect),
    _probe("batchnorm_forward_eval", BN_FORWARD, "_probe_bn_forward", args=_bn_forward_args(False), expect=_bn_forward_expect),
    _probe("batchnorm_backward_train", BN_BACKWARD, "_probe_bn_backward", args=_bn_backward_args(True),
           expect=_bn_backward_expect),
    _probe("batchnorm_backward_eval", BN_BACKWARD, "_probe_bn_backward", args=_bn_backward_args(False),
           expect=_bn_backward_expect),
    _probe("batchnorm_backward_constant_feature", hidden_cell("bn_backward"), "_probe_bn_backward",
           args=_bn_constant_feature_args, expect=_bn_backward_expect, rtol=1e-6, atol=1e-8),
    _probe("batchnorm_backward_old_cache", hidden_cell("bn_backward"), "_probe_bn_backward_old_cache",
           args=_bn_old_cache_args, expect=_bn_old_cache_expect),
    _probe("dropout", DROPOUT, "_probe_dropout", args=_dropout_args, check=_check_dropout),
    _probe("l2_penalty", L2, "l2_penalty",
           args=lambda rng: ([rng.normal(size=tuple(int(s) for s in rng.integers(1, 7, size=2)))
                              for _ in range(int(rng.integers(1, 4)))], float(10.0 ** rng.uniform(-3, 0))),
           expect=_l2_expect),
    _probe("l2_penalty_empty", hidden_cell("l2"), "l2_penalty", args=lambda rng: ([], float(10.0 ** rng.uniform(-3, 0))),
           check=_check_l2_empty),
    _probe("l2_penalty_vector", hidden_cell("l2"), "l2_penalty",
           args=lambda rng: ([rng.normal(size=int(rng.integers(2, 8)))], float(10.0 ** rng.uniform(-3, 0))),
           expect=_l2_expect),
]
