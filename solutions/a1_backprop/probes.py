"""Out-of-process probes for a1_backprop (see dlcourse.grading.probes). Instructor only: never released.

Each probe calls one of the student's functions on inputs drawn for that student and
compares the result with the reference, outside the notebook's kernel. A failing probe
takes the points of the cells whose behaviour it checks: a probe on the inputs the visible
test checks (typical values, and the edge cases the visible test itself asserts) takes the
exercise's visible and hidden cells; a probe on what only the hidden test checks (other
ranks and extreme values, a 1-d softmax, rows a thousand apart, a label whose score lies a
thousand below its row's maximum, a backward pass handed an older cache, training data without
a test split, the seed) takes the hidden cell only.
"""

import functools
import types

import numpy as np

from dlcourse.data import load_digits
from dlcourse.grading.probe_helpers import close_message, exercise_cells, first_problem, hidden_cell, run_setup
from dlcourse.grading.probes import Name, Probe
from dlcourse.numpy_ref import functional as F
from dlcourse.numpy_ref import gradcheck, layers, losses, perceptron


PERCEPTRON = exercise_cells("perceptron")
ACTIVATIONS, ACTIVATIONS_HIDDEN = exercise_cells("activations"), hidden_cell("activations")
SOFTMAX_CE, SOFTMAX_CE_HIDDEN = exercise_cells("softmax_ce"), hidden_cell("softmax_ce")
LAYERS, LAYERS_HIDDEN = exercise_cells("layers"), hidden_cell("layers")
GRADCHECK = exercise_cells("gradcheck")
TWO_LAYER = exercise_cells("two_layer")
TRAINING, TRAINING_HIDDEN = exercise_cells("training"), hidden_cell("training")

# Helpers defined in the probe runner after the student's cells: they call the student's
# functions, so a backward pass is checked with the student's own cache.
SETUP = '''
import numpy as _np

def _probe_smooth(x):
    return _np.sin(x) * x ** 2

def _probe_affine_backward(x, w, b, dout):
    _, cache = affine_forward(x, w, b)
    return affine_backward(dout, cache)

def _probe_affine_backward_old_cache(x, w, b, x2, w2, b2, dout):
    _, cache = affine_forward(x, w, b)
    affine_forward(x2, w2, b2)  # a later forward call must not change what the older cache gives
    return affine_backward(dout, cache)

def _probe_relu_backward(x, dout):
    _, cache = relu_forward(x)
    return relu_backward(dout, cache)

def _probe_train_seeds(data, kwargs, seed):
    """Train three times: twice with one seed, once with the next one."""
    params, history = train_two_layer(data, seed=seed, **kwargs)
    again, _ = train_two_layer(data, seed=seed, **kwargs)
    other, _ = train_two_layer(data, seed=seed + 1, **kwargs)
    return params, history, again, other
'''

# The function whose numerical gradient the gradcheck probe asks for, here as in the runner.
_smooth = run_setup(SETUP, "a1 probe setup, reference")["_probe_smooth"]


def _shape(rng):
    return (int(rng.integers(2, 7)), int(rng.integers(2, 9)))


def _with_values(x, rng, values):
    """x with ``values`` written at distinct random places."""
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, size=len(values), replace=False)] = values
    return flat.reshape(x.shape)


# ---- Part 2: activations --------------------------------------------------------------------
# The visible test compares all ten functions with torch on a 2-d input that contains 0 (the kinks),
# and sigmoid, tanh, ELU and their derivatives at +-1000 (exact limits, no warning). The hidden test
# adds inputs of rank 2 to 3 with +-50, +-750 and +-1000 for every function, and the default slope and
# alpha of the derivatives.
_SATURATING = ("sigmoid", "tanh", "elu")


def _typical_activation_input(saturating):
    def draw(rng):
        values = [0.0, 1000.0, -1000.0] if saturating else [0.0]
        return (_with_values(rng.normal(scale=4.0, size=_shape(rng)), rng, values),)
    return draw


def _extreme_activation_input(rng):
    shape = tuple(int(s) for s in rng.integers(3, 7, size=3))
    values = [0.0, 0.0, 1000.0, -1000.0, 50.0, -50.0, 750.0, -750.0, 60.0]
    return (_with_values(rng.normal(scale=3.0, size=shape), rng, values),)


def _activation(name, grad=False, **ranges):
    """Two probes of one activation (or its derivative): the visible test's inputs, and the hidden test's extremes."""
    fn = getattr(F, f"{name}_grad" if grad else name)
    call = f"{name}_grad" if grad else name
    return [
        Probe(call, ACTIVATIONS, call, args=_typical_activation_input(name in _SATURATING),
              kwargs=lambda rng: {key: float(rng.uniform(*r)) for key, r in ranges.items()},
              expect=lambda x, **kw: fn(x, **kw)),
        # rank 3, every function at +-1000 and the values between, the parameters' defaults
        Probe(f"{call}_extremes", ACTIVATIONS_HIDDEN, call, args=_extreme_activation_input, expect=lambda x: fn(x)),
    ]


# ---- Part 3: softmax and cross-entropy -------------------------------------------------------

def _with_extremes(rng, shape, scale=4.0):
    x = rng.normal(scale=scale, size=shape)
    return _with_values(x, rng, [0.0, 1000.0, -1000.0, 60.0][: min(4, x.size)])


def _ce_rows_apart(rng):
    """Logits whose rows lie a thousand apart (the hidden test's): one row near +1000, one near -1000."""
    n, c = int(rng.integers(3, 8)), int(rng.integers(3, 9))
    shifts = rng.choice([-1000.0, 0.0, 1000.0], size=(n, 1))
    shifts[0, 0], shifts[1, 0] = 1000.0, -1000.0
    return rng.normal(scale=3.0, size=(n, c)) + shifts, rng.integers(0, c, size=n)


def _ce_label_far_below(rng):
    """Logits in which every label's score lies 800 to 1200 below its row's maximum (the hidden test's):
    the label's probability underflows to 0, so log(softmax(...)) gives -inf; the loss is finite."""
    n, c = int(rng.integers(2, 7)), int(rng.integers(3, 9))
    logits = rng.normal(scale=3.0, size=(n, c)) + rng.choice([-1000.0, 0.0, 1000.0], size=(n, 1))
    labels = rng.integers(0, c, size=n)
    logits[np.arange(n), labels] = logits.max(axis=1) - rng.uniform(800.0, 1200.0, size=n)
    return logits, labels


# ---- Part 4: layers --------------------------------------------------------------------------

def _affine_args(rng):
    n, d_in, d_out = int(rng.integers(1, 6)), int(rng.integers(2, 7)), int(rng.integers(2, 6))
    return rng.normal(size=(n, d_in)), rng.normal(size=(d_in, d_out)), rng.normal(size=d_out)


def _relu_args(shape_of, values):
    def draw(rng):
        x = _with_values(rng.normal(scale=2.0, size=shape_of(rng)), rng, values)
        return x, rng.normal(size=x.shape)
    return draw


def _old_cache_args(rng):
    x, w, b = _affine_args(rng)
    x2, w2, b2 = rng.normal(size=x.shape), rng.normal(size=w.shape), rng.normal(size=b.shape)
    return x, w, b, x2, w2, b2, rng.normal(size=(x.shape[0], w.shape[1]))


# ---- Parts 1, 6 ------------------------------------------------------------------------------

def _separable(rng):
    n, d = int(rng.integers(12, 30)), int(rng.integers(2, 4))
    w_true = rng.normal(size=d + 1)
    X = perceptron.add_bias(rng.normal(size=(n, d)))
    y = np.where(X @ w_true >= 0, 1, -1)
    return X, y


def _two_layer_args(rng):
    n, d, h, c = int(rng.integers(3, 9)), int(rng.integers(3, 8)), int(rng.integers(4, 10)), int(rng.integers(2, 6))
    params = {"W1": rng.normal(scale=0.5, size=(d, h)), "b1": rng.normal(scale=0.1, size=h),
              "W2": rng.normal(scale=0.5, size=(h, c)), "b2": rng.normal(scale=0.1, size=c)}
    return params, rng.normal(size=(n, d)), rng.integers(0, c, size=n)


def _two_layer_reference(params, X, y):
    a1, c1 = layers.affine_forward(X, params["W1"], params["b1"])
    h, cr = layers.relu_forward(a1)
    scores, c2 = layers.affine_forward(h, params["W2"], params["b2"])
    loss, dscores = losses.cross_entropy(scores, y)
    dh, dW2, db2 = layers.affine_backward(dscores, c2)
    _, dW1, db1 = layers.affine_backward(layers.relu_backward(dh, cr), c1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# ---- Part 7: training ------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits(val_fraction=0.2, test_fraction=0.2, seed=0)


def _training_data(rng):
    """The visible test's kind of data: a full split, the test set included (training must not use it)."""
    d = _digits()
    keep = rng.permutation(len(d.X_train))[: int(rng.integers(800, len(d.X_train)))]
    data = types.SimpleNamespace(X_train=d.X_train[keep], y_train=d.y_train[keep], X_val=d.X_val, y_val=d.y_val,
                                 X_test=d.X_test, y_test=d.y_test, num_classes=10)
    return (data,)


def _accuracy(params, X, y):
    h = np.maximum(X @ params["W1"] + params["b1"], 0.0)
    return float(np.mean(np.argmax(h @ params["W2"] + params["b2"], axis=1) == y))


def _check_training(result, args, kwargs):
    params, history = result
    if not isinstance(params, dict) or set(params) != {"W1", "b1", "W2", "b2"}:
        return f"train_two_layer must return a params dict with W1, b1, W2, b2, got {type(params).__name__}"
    d = _digits()
    acc = _accuracy(params, d.X_test, d.y_test)
    if acc < 0.90:
        return f"test accuracy {acc:.3f} of the trained parameters is below 0.90 (10 epochs on this student's subset)"
    if not isinstance(history, dict) or len(history.get("train_loss", [])) != kwargs["epochs"]:
        return "history['train_loss'] must have one entry per epoch"
    return None


def _seed_args(rng):
    """A short run on data without a test split, with a last batch smaller than the others (the hidden test's)."""
    d = _digits()
    keep = rng.permutation(len(d.X_train))[: int(rng.integers(150, 250))]
    data = types.SimpleNamespace(X_train=d.X_train[keep], y_train=d.y_train[keep], X_val=d.X_val, y_val=d.y_val,
                                 num_classes=10)
    kwargs = {"hidden_dim": int(rng.choice([8, 12, 16])), "lr": 0.1, "epochs": int(rng.integers(2, 4)),
              "batch_size": int(rng.choice([25, 32, 50]))}
    return data, kwargs, int(rng.integers(0, 2**31 - 2))


def _check_seeds(result, args, kwargs):
    data, settings, _ = args
    try:
        params, history, again, other = result
        keys = ("W1", "b1", "W2", "b2")
        shapes = ((64, settings["hidden_dim"]), (settings["hidden_dim"],), (settings["hidden_dim"], 10), (10,))
        for p in (params, again, other):
            if not isinstance(p, dict) or set(p) != set(keys):
                return f"train_two_layer must return a params dict with W1, b1, W2, b2, got {type(p).__name__}"
            for key, shape in zip(keys, shapes):
                if np.shape(p[key]) != shape:
                    return (f"params[{key!r}] has shape {np.shape(p[key])}, expected {shape} "
                            f"(hidden_dim={settings['hidden_dim']})")
        for key in ("train_loss", "train_acc", "val_acc"):
            values = np.asarray(history[key], dtype=np.float64)
            if values.shape != (settings["epochs"],) or not np.all(np.isfinite(values)):
                return f"history[{key!r}] must hold {settings['epochs']} finite values, one per epoch"
        return first_problem(
            *(close_message(again[k], params[k], f"params[{k!r}] from a second run with the same seed", 0, 0)
              for k in keys),
            None if not all(np.allclose(other[k], params[k]) for k in ("W1", "W2")) else
            "a different seed must give different parameters (initialise and shuffle with the seed's generator)",
            close_message(history["train_acc"][-1], _accuracy(params, data.X_train, data.y_train),
                          "history['train_acc'][-1] vs the returned parameters", 0, 1e-12),
            close_message(history["val_acc"][-1], _accuracy(params, data.X_val, data.y_val),
                          "history['val_acc'][-1] vs the returned parameters", 0, 1e-12))
    except Exception as exc:  # noqa: BLE001 - a malformed result is a wrong result
        return f"train_two_layer returned something unexpected ({type(exc).__name__}: {exc})"


PROBES = [
    Probe("perceptron_predict", PERCEPTRON, "perceptron_predict",
          args=lambda rng: (perceptron.add_bias(rng.normal(size=(9, 3))), rng.normal(size=4)),
          expect=perceptron.perceptron_predict),
    Probe("perceptron_train", PERCEPTRON, "perceptron_train", args=_separable,
          kwargs=lambda rng: {"lr": float(rng.uniform(0.2, 2.0)), "epochs": 25},
          expect=perceptron.perceptron_train),
    *_activation("sigmoid"), *_activation("sigmoid", grad=True),
    *_activation("tanh"), *_activation("tanh", grad=True),
    *_activation("relu"), *_activation("relu", grad=True),
    *_activation("leaky_relu", negative_slope=(0.02, 0.4)), *_activation("leaky_relu", grad=True, negative_slope=(0.02, 0.4)),
    *_activation("elu", alpha=(0.3, 2.5)), *_activation("elu", grad=True, alpha=(0.3, 2.5)),
    # rows with scores of +-1000: the visible test checks them too
    Probe("softmax", SOFTMAX_CE, "softmax", args=lambda rng: (_with_extremes(rng, _shape(rng), scale=20.0),),
          expect=F.softmax),
    Probe("softmax_1d", SOFTMAX_CE_HIDDEN, "softmax",
          args=lambda rng: (rng.normal(scale=3.0, size=int(rng.integers(3, 9))) - 1000.0,), expect=F.softmax),
    Probe("cross_entropy", SOFTMAX_CE, "cross_entropy",
          args=lambda rng: (lambda s: (rng.normal(scale=10.0, size=s), rng.integers(0, s[1], size=s[0])))(_shape(rng)),
          expect=losses.cross_entropy),
    Probe("cross_entropy_rows_apart", SOFTMAX_CE_HIDDEN, "cross_entropy", args=_ce_rows_apart,
          expect=losses.cross_entropy),
    Probe("cross_entropy_label_far_below", SOFTMAX_CE_HIDDEN, "cross_entropy", args=_ce_label_far_below,
          expect=losses.cross_entropy),
    Probe("affine_forward", LAYERS, "affine_forward", args=_affine_args,
          expect=lambda x, w, b: layers.affine_forward(x, w, b)[0], select=lambda out: out[0]),
    Probe("affine_backward", LAYERS, "_probe_affine_backward",
          args=lambda rng: (lambda x, w, b: (x, w, b, rng.normal(size=(x.shape[0], w.shape[1]))))(*_affine_args(rng)),
          expect=lambda x, w, b, dout: layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])),
    Probe("affine_backward_old_cache", LAYERS_HIDDEN, "_probe_affine_backward_old_cache", args=_old_cache_args,
          expect=lambda x, w, b, x2, w2, b2, dout: layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])),
    # exact zeros: the visible test checks the kink too
    Probe("relu_backward", LAYERS, "_probe_relu_backward", args=_relu_args(_shape, [0.0, 0.0]),
          expect=lambda x, dout: layers.relu_backward(dout, layers.relu_forward(x)[1])),
    Probe("relu_backward_extremes", LAYERS_HIDDEN, "_probe_relu_backward",
          args=_relu_args(lambda rng: tuple(int(s) for s in rng.integers(2, 5, size=3)), [0.0, 1000.0, -1000.0]),
          expect=lambda x, dout: layers.relu_backward(dout, layers.relu_forward(x)[1])),
    Probe("numerical_gradient", GRADCHECK, "numerical_gradient",
          args=lambda rng: (lambda s: (Name("_probe_smooth"), rng.normal(size=s), rng.normal(size=s)))(_shape(rng)),
          expect=lambda f, x, df: gradcheck.numerical_gradient(_smooth, x, df), rtol=1e-6, atol=1e-8),
    Probe("two_layer_loss", TWO_LAYER, "two_layer_loss", args=_two_layer_args, expect=_two_layer_reference),
    Probe("train_two_layer", TRAINING, "train_two_layer", args=_training_data,
          kwargs=lambda rng: {"epochs": 10, "seed": int(rng.integers(0, 1000))}, check=_check_training),
    Probe("train_two_layer_seeds", TRAINING_HIDDEN, "_probe_train_seeds", args=_seed_args, check=_check_seeds),
]
