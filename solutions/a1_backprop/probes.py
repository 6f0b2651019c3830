"""Out-of-process probes for a1_backprop (see dlcourse.grading.probes). Instructor only: never released.

Each probe calls one of the student's functions on inputs drawn for that student and
compares the result with the reference, outside the notebook's kernel. A failing probe
takes the points of the exercise's test cells.
"""

import functools
import types

import numpy as np

from dlcourse.data import load_digits
from dlcourse.grading.probe_helpers import exercise_cells, run_setup
from dlcourse.grading.probes import Name, Probe
from dlcourse.numpy_ref import functional as F
from dlcourse.numpy_ref import gradcheck, layers, losses, perceptron

PERCEPTRON = exercise_cells("perceptron")
ACTIVATIONS = exercise_cells("activations")
SOFTMAX_CE = exercise_cells("softmax_ce")
LAYERS = exercise_cells("layers")
GRADCHECK = exercise_cells("gradcheck")
TWO_LAYER = exercise_cells("two_layer")
TRAINING = exercise_cells("training")

# Helpers defined in the probe runner after the student's cells: they call the student's
# functions, so a backward pass is checked with the student's own cache.
SETUP = '''
import numpy as _np

def _probe_smooth(x):
    return _np.sin(x) * x ** 2

def _probe_affine_backward(x, w, b, dout):
    _, cache = affine_forward(x, w, b)
    return affine_backward(dout, cache)

def _probe_relu_backward(x, dout):
    _, cache = relu_forward(x)
    return relu_backward(dout, cache)
'''

# The function whose numerical gradient the gradcheck probe asks for, here as in the runner.
_smooth = run_setup(SETUP, "a1 probe setup, reference")["_probe_smooth"]


def _with_extremes(rng, shape, scale=4.0):
    x = rng.normal(scale=scale, size=shape)
    flat = x.reshape(-1)
    flat[rng.choice(flat.size, size=min(4, flat.size), replace=False)] = [0.0, 1000.0, -1000.0, 60.0][: min(4, flat.size)]
    return x


def _shape(rng):
    return (int(rng.integers(2, 7)), int(rng.integers(2, 9)))


def _separable(rng):
    n, d = int(rng.integers(12, 30)), int(rng.integers(2, 4))
    w_true = rng.normal(size=d + 1)
    X = perceptron.add_bias(rng.normal(size=(n, d)))
    y = np.where(X @ w_true >= 0, 1, -1)
    return X, y


def _affine_args(rng):
    n, d_in, d_out = int(rng.integers(1, 6)), int(rng.integers(2, 7)), int(rng.integers(2, 6))
    return rng.normal(size=(n, d_in)), rng.normal(size=(d_in, d_out)), rng.normal(size=d_out)


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


@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits(val_fraction=0.2, test_fraction=0.2, seed=0)


def _training_data(rng):
    d = _digits()
    keep = rng.permutation(len(d.X_train))[: int(rng.integers(800, len(d.X_train)))]
    data = types.SimpleNamespace(X_train=d.X_train[keep], y_train=d.y_train[keep],
                                 X_val=d.X_val, y_val=d.y_val, num_classes=10)
    return (data,)


def _check_training(result, args, kwargs):
    params, history = result
    if not isinstance(params, dict) or set(params) != {"W1", "b1", "W2", "b2"}:
        return f"train_two_layer must return a params dict with W1, b1, W2, b2, got {type(params).__name__}"
    d = _digits()
    h = np.maximum(d.X_test @ params["W1"] + params["b1"], 0.0)
    acc = float(np.mean(np.argmax(h @ params["W2"] + params["b2"], axis=1) == d.y_test))
    if acc < 0.90:
        return f"test accuracy {acc:.3f} of the trained parameters is below 0.90 (10 epochs on this student's subset)"
    if not isinstance(history, dict) or len(history.get("train_loss", [])) != kwargs["epochs"]:
        return "history['train_loss'] must have one entry per epoch"
    return None


def _activation(name, grad=False, **fixed):
    fn = getattr(F, f"{name}_grad" if grad else name)
    call = f"{name}_grad" if grad else name
    return Probe(call, ACTIVATIONS, call, args=lambda rng: (_with_extremes(rng, _shape(rng)),),
                 kwargs=lambda rng: dict(fixed), expect=lambda x, **kw: fn(x, **kw))


PROBES = [
    Probe("perceptron_predict", PERCEPTRON, "perceptron_predict",
          args=lambda rng: (perceptron.add_bias(rng.normal(size=(9, 3))), rng.normal(size=4)),
          expect=perceptron.perceptron_predict),
    Probe("perceptron_train", PERCEPTRON, "perceptron_train", args=_separable,
          kwargs=lambda rng: {"lr": float(rng.uniform(0.2, 2.0)), "epochs": 25},
          expect=perceptron.perceptron_train),
    _activation("sigmoid"), _activation("sigmoid", grad=True),
    _activation("tanh"), _activation("tanh", grad=True),
    _activation("relu"), _activation("relu", grad=True),
    _activation("leaky_relu", negative_slope=0.07), _activation("leaky_relu", grad=True, negative_slope=0.07),
    _activation("elu", alpha=1.3), _activation("elu", grad=True, alpha=1.3),
    Probe("softmax", SOFTMAX_CE, "softmax", args=lambda rng: (_with_extremes(rng, _shape(rng), scale=20.0),),
          expect=F.softmax),
    Probe("cross_entropy", SOFTMAX_CE, "cross_entropy",
          args=lambda rng: (lambda s: (rng.normal(scale=10.0, size=s), rng.integers(0, s[1], size=s[0])))(_shape(rng)),
          expect=losses.cross_entropy),
    Probe("affine_forward", LAYERS, "affine_forward", args=_affine_args,
          expect=lambda x, w, b: layers.affine_forward(x, w, b)[0], select=lambda out: out[0]),
    Probe("affine_backward", LAYERS, "_probe_affine_backward",
          args=lambda rng: (lambda x, w, b: (x, w, b, rng.normal(size=(x.shape[0], w.shape[1]))))(*_affine_args(rng)),
          expect=lambda x, w, b, dout: layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])),
    Probe("relu_backward", LAYERS, "_probe_relu_backward",
          args=lambda rng: (lambda x: (x, rng.normal(size=x.shape)))(_with_extremes(rng, _shape(rng))),
          expect=lambda x, dout: layers.relu_backward(dout, layers.relu_forward(x)[1])),
    Probe("numerical_gradient", GRADCHECK, "numerical_gradient",
          args=lambda rng: (lambda s: (Name("_probe_smooth"), rng.normal(size=s), rng.normal(size=s)))(_shape(rng)),
          expect=lambda f, x, df: gradcheck.numerical_gradient(_smooth, x, df), rtol=1e-6, atol=1e-8),
    Probe("two_layer_loss", TWO_LAYER, "two_layer_loss", args=_two_layer_args, expect=_two_layer_reference),
    Probe("train_two_layer", TRAINING, "train_two_layer", args=_training_data,
          kwargs=lambda rng: {"epochs": 10, "seed": int(rng.integers(0, 1000))}, check=_check_training),
]
