# %% [perceptron_solution]
from dataclasses import dataclass
from typing import Any, List, Optional, Tuple

# Label convention of the perceptron: sign(0) is +1.
POSITIVE_LABEL = 1
NEGATIVE_LABEL = -1
VALID_LABELS = (NEGATIVE_LABEL, POSITIVE_LABEL)


def _check_array(name: str, value: Any, ndim: Optional[int] = None, min_ndim: int = 0) -> np.ndarray:
    """Convert `value` to a float64 array and validate it.

    Args:
        name: the argument's name, used in the error message.
        value: anything np.asarray accepts.
        ndim: the exact number of dimensions required, or None for any.
        min_ndim: the smallest number of dimensions accepted.

    Returns:
        A float64 ndarray (a new array whenever a conversion was needed; never written to here).

    Raises:
        ValueError: if the values are not real numbers or the number of dimensions is wrong.
    """
    arr = np.asarray(value)
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    return arr.astype(np.float64, copy=False)


def _check_same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Raise ValueError if the first dimensions of a and b differ."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}")


def _perceptron_scores_to_labels(scores: np.ndarray) -> np.ndarray:
    """Map scores to labels -1/+1, with sign(0) := +1."""
    return np.where(scores >= 0, POSITIVE_LABEL, NEGATIVE_LABEL).astype(np.int64)


def perceptron_predict(X, w):
    """Perceptron predictions sign(X @ w), with sign(0) := +1.

    Args:
        X: (N, D) samples, one per row, bias column included.
        w: (D,) weights, bias weight included.

    Returns:
        (N,) integer array with values -1 and +1.
    """
    X_arr = _check_array("X", X, ndim=2)
    w_arr = _check_array("w", w, ndim=1)
    if X_arr.shape[1] != w_arr.shape[0]:
        raise ValueError(f"X has {X_arr.shape[1]} features but w has {w_arr.shape[0]} weights")
    return _perceptron_scores_to_labels(X_arr @ w_arr)


def perceptron_train(X, y, lr=1.0, epochs=10, w0=None):
    """Train a perceptron with the rule w <- w + lr * (y - y_hat) * x, one sample at a time.

    Args:
        X: (N, D) samples, one per row, bias column included. Visit them in this order.
        y: (N,) labels, each -1 or +1.
        lr: the learning rate alpha (> 0).
        epochs: the maximum number of passes over the data.
        w0: (D,) initial weights, or None for zeros. Must not be modified.

    Returns:
        w: (D,) the final weights.
        errors_per_epoch: list with the number of mistakes made during each epoch that ran
            (a mistake is counted before that sample's update). Training stops after the first
            epoch with 0 mistakes.
    """
    X_arr = _check_array("X", X, ndim=2)
    y_arr = _check_array("y", y, ndim=1)
    _check_same_length("X", X_arr, "y", y_arr)
    if not np.all(np.isin(y_arr, VALID_LABELS)):
        raise ValueError(f"y must contain only the labels {VALID_LABELS}")
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if int(epochs) != epochs or epochs < 0:
        raise ValueError(f"epochs must be a non-negative integer, got {epochs}")

    n_features = X_arr.shape[1]
    if w0 is None:
        w = np.zeros(n_features, dtype=np.float64)
    else:
        w = _check_array("w0", w0, ndim=1).copy()  # our own copy: the caller's w0 stays intact
        if w.shape[0] != n_features:
            raise ValueError(f"w0 has {w.shape[0]} weights but X has {n_features} features")

    errors_per_epoch: List[int] = []
    for _ in range(int(epochs)):
        mistakes = 0
        for x_n, y_n in zip(X_arr, y_arr):
            y_hat = POSITIVE_LABEL if x_n @ w >= 0 else NEGATIVE_LABEL
            if y_hat != y_n:
                mistakes += 1
                w = w + lr * (y_n - y_hat) * x_n
        errors_per_epoch.append(mistakes)
        if mistakes == 0:
            break
    return w, errors_per_epoch


# %% [activations_solution]
DEFAULT_NEGATIVE_SLOPE = 0.01
DEFAULT_ELU_ALPHA = 1.0


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """Sigmoid without overflow: with z = exp(-|x|) <= 1, 1/(1+z) for x >= 0 and z/(1+z) otherwise."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def _positive_mask(x: np.ndarray) -> np.ndarray:
    """Boolean mask of x > 0 (the kink at 0 counts as the negative side, like torch)."""
    return x > 0


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    x_arr = _check_array("x", x)
    return _stable_sigmoid(x_arr)


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    x_arr = _check_array("x", x)
    # sigma(x) (1 - sigma(x)) = z / (1 + z)^2 with z = exp(-|x|): symmetric, never overflows.
    z = np.exp(-np.abs(x_arr))
    return z / (1.0 + z) ** 2


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    x_arr = _check_array("x", x)
    return np.tanh(x_arr)


def tanh_grad(x):
    """Derivative of tanh at x: 1 - tanh(x)**2."""
    t = tanh(x)
    return 1.0 - t * t


def relu(x):
    """Rectified linear unit max(0, x), elementwise."""
    x_arr = _check_array("x", x)
    return np.maximum(x_arr, 0.0)


def relu_grad(x):
    """Derivative of ReLU at x: 1 where x > 0, else 0 (also 0 at x == 0)."""
    x_arr = _check_array("x", x)
    return _positive_mask(x_arr).astype(np.float64)


def leaky_relu(x, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """Leaky ReLU: x where x > 0, else negative_slope * x."""
    x_arr = _check_array("x", x)
    return np.where(_positive_mask(x_arr), x_arr, negative_slope * x_arr).astype(np.float64)


def leaky_relu_grad(x, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """Derivative of leaky ReLU at x: 1 where x > 0, else negative_slope (also at x == 0)."""
    x_arr = _check_array("x", x)
    return np.where(_positive_mask(x_arr), 1.0, float(negative_slope)).astype(np.float64)


def elu(x, alpha=DEFAULT_ELU_ALPHA):
    """ELU: x where x > 0, else alpha * (exp(x) - 1); no overflow for large x."""
    x_arr = _check_array("x", x)
    negative_part = alpha * np.expm1(np.minimum(x_arr, 0.0))  # only ever exponentiate min(x, 0)
    return np.where(_positive_mask(x_arr), x_arr, negative_part).astype(np.float64)


def elu_grad(x, alpha=DEFAULT_ELU_ALPHA):
    """Derivative of ELU at x: 1 where x > 0, else alpha * exp(x) (alpha at x == 0)."""
    x_arr = _check_array("x", x)
    negative_slope = alpha * np.exp(np.minimum(x_arr, 0.0))
    return np.where(_positive_mask(x_arr), 1.0, negative_slope).astype(np.float64)


# %% [softmax_ce_solution]
def _check_labels(name: str, labels: Any, num_samples: int, num_classes: int) -> np.ndarray:
    """Validate class labels: a 1-D array of N integers in [0, C). Returns an int64 array.

    Raises:
        ValueError: wrong shape, non-integer values or values out of range.
    """
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != num_samples:
        raise ValueError(f"{name} must have shape ({num_samples},), got {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
        as_int = arr.astype(np.int64)
    else:
        raise ValueError(f"{name} must contain integer class indices, got dtype {arr.dtype}")
    if as_int.size and (as_int.min() < 0 or as_int.max() >= num_classes):
        raise ValueError(f"{name} must lie in [0, {num_classes}), got values in [{as_int.min()}, {as_int.max()}]")
    return as_int


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """log softmax(x) along axis, via the log-sum-exp trick (shift by the maximum)."""
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def softmax(x, axis=-1):
    """Softmax of x along `axis`, stable for large values.

    Args:
        x: array with at least one dimension, e.g. (N, C) scores.
        axis: the axis along which the probabilities sum to 1.

    Returns:
        Array shaped like x with positive entries; every slice along `axis` sums to 1.
    """
    x_arr = _check_array("x", x, min_ndim=1)
    shifted = x_arr - np.max(x_arr, axis=axis, keepdims=True)
    exp_shifted = np.exp(shifted)  # every exponent <= 0, and one of them is exactly 0
    return exp_shifted / np.sum(exp_shifted, axis=axis, keepdims=True)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of a batch, and its gradient.

    Args:
        logits: (N, C) unnormalised class scores.
        labels: (N,) integer class indices in [0, C).

    Returns:
        loss: the mean over the batch of -log softmax(logits)[n, labels[n]], a Python float.
        dlogits: (N, C) gradient of the loss, (softmax(logits) - onehot(labels)) / N.
    """
    logits_arr = _check_array("logits", logits, ndim=2)
    n_samples, n_classes = logits_arr.shape
    if n_samples == 0 or n_classes == 0:
        raise ValueError(f"logits must have at least one row and one column, got shape {logits_arr.shape}")
    label_idx = _check_labels("labels", labels, n_samples, n_classes)

    rows = np.arange(n_samples)
    log_probs = _log_softmax(logits_arr, axis=1)
    loss = float(-np.mean(log_probs[rows, label_idx]))

    dlogits = np.exp(log_probs)
    dlogits[rows, label_idx] -= 1.0
    dlogits /= n_samples
    return loss, dlogits


# %% [layers_solution]
@dataclass(frozen=True)
class _AffineCache:
    """What affine_backward needs: the layer's inputs."""

    x: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class _ReluCache:
    """What relu_backward needs: where the input was strictly positive."""

    mask: np.ndarray


def _check_dout(dout: Any, expected_shape: Tuple[int, ...]) -> np.ndarray:
    """Validate the upstream gradient against the shape of the layer's output."""
    dout_arr = _check_array("dout", dout)
    if dout_arr.shape != tuple(expected_shape):
        raise ValueError(f"dout must have the output's shape {tuple(expected_shape)}, got {dout_arr.shape}")
    return dout_arr


def affine_forward(x, w, b):
    """Affine layer out = x @ w + b.

    Args:
        x: (N, D) inputs; w: (D, M) weights; b: (M,) biases.

    Returns:
        out: (N, M); cache: whatever affine_backward needs.
    """
    x_arr = _check_array("x", x, ndim=2)
    w_arr = _check_array("w", w, ndim=2)
    b_arr = _check_array("b", b, ndim=1)
    if x_arr.shape[1] != w_arr.shape[0]:
        raise ValueError(f"x has {x_arr.shape[1]} features but w has {w_arr.shape[0]} rows")
    if b_arr.shape[0] != w_arr.shape[1]:
        raise ValueError(f"b has {b_arr.shape[0]} entries but w has {w_arr.shape[1]} columns")
    out = x_arr @ w_arr + b_arr
    return out, _AffineCache(x=x_arr.copy(), w=w_arr.copy())


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: (N, M) upstream gradient dL/dout; cache: from affine_forward.

    Returns:
        dx: (N, D), dw: (D, M), db: (M,).
    """
    if not isinstance(cache, _AffineCache):
        raise ValueError("cache must be the cache returned by affine_forward")
    x, w = cache.x, cache.w
    dout_arr = _check_dout(dout, (x.shape[0], w.shape[1]))
    dx = dout_arr @ w.T
    dw = x.T @ dout_arr
    db = dout_arr.sum(axis=0)  # b was broadcast over the rows, so its gradient is a sum
    return dx, dw, db


def relu_forward(x):
    """ReLU layer out = max(0, x) elementwise. Returns (out, cache)."""
    x_arr = _check_array("x", x)
    mask = _positive_mask(x_arr)
    return np.where(mask, x_arr, 0.0), _ReluCache(mask=mask)


def relu_backward(dout, cache):
    """Backward pass of the ReLU layer: dx = dout where the input was > 0, else 0."""
    if not isinstance(cache, _ReluCache):
        raise ValueError("cache must be the cache returned by relu_forward")
    dout_arr = _check_dout(dout, cache.mask.shape)
    return np.where(cache.mask, dout_arr, 0.0)


# %% [gradcheck_solution]
DEFAULT_STEP = 1e-5


def _weighted_sum(output: Any, df: Any, name: str = "df") -> float:
    """sum(output * df), after checking that df has the shape of the output (a scalar df always fits)."""
    out_arr = np.asarray(output, dtype=np.float64)
    df_arr = np.asarray(df, dtype=np.float64)
    if df_arr.ndim != 0 and df_arr.shape != out_arr.shape:
        raise ValueError(f"{name} must have the shape of f(x), {out_arr.shape}, got {df_arr.shape}")
    return float(np.sum(out_arr * df_arr))


def numerical_gradient(f, x, df=None, h=DEFAULT_STEP):
    """Centered-difference gradient of sum(f(x) * df) with respect to x.

    Args:
        f: function called as f(x_perturbed), returning an array shaped like df
            (or a scalar when df is None).
        x: float array, the point where the gradient is taken. Must be left unchanged.
        df: upstream gradient shaped like f(x), or None for a scalar f (df = 1).
        h: the step.

    Returns:
        float64 array shaped like x: grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2 h).
    """
    if not callable(f):
        raise ValueError("f must be callable")
    if not h > 0:
        raise ValueError(f"h must be positive, got {h}")
    x_work = _check_array("x", x).copy()  # perturb a private copy, never the caller's array
    upstream = 1.0 if df is None else _check_array("df", df)

    grad = np.zeros_like(x_work)
    for index in np.ndindex(x_work.shape):
        original = x_work[index]
        x_work[index] = original + h
        f_plus = np.array(f(x_work), dtype=np.float64)  # np.array copies, in case f returns a view
        x_work[index] = original - h
        f_minus = np.array(f(x_work), dtype=np.float64)
        x_work[index] = original
        grad[index] = _weighted_sum(f_plus - f_minus, upstream) / (2.0 * h)
    return grad


# %% [two_layer_solution]
PARAM_KEYS = ("W1", "b1", "W2", "b2")


def _he_weights(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """He-initialised (fan_in, fan_out) weights: standard normal times sqrt(2 / fan_in)."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def _check_positive_int(name: str, value: Any) -> int:
    """Return value as an int, or raise ValueError if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_params(params: Any) -> dict:
    """Validate the parameter dict of the two-layer network; returns float64 views of the arrays."""
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict, got {type(params).__name__}")
    missing = [key for key in PARAM_KEYS if key not in params]
    if missing:
        raise ValueError(f"params is missing the key(s) {missing}")
    checked = {
        "W1": _check_array("params['W1']", params["W1"], ndim=2),
        "b1": _check_array("params['b1']", params["b1"], ndim=1),
        "W2": _check_array("params['W2']", params["W2"], ndim=2),
        "b2": _check_array("params['b2']", params["b2"], ndim=1),
    }
    return checked


def init_two_layer(input_dim, hidden_dim, num_classes, *, rng):
    """He-initialised parameters of a two-layer network.

    Returns:
        dict with "W1" (input_dim, hidden_dim), "b1" (hidden_dim,), "W2" (hidden_dim, num_classes),
        "b2" (num_classes,); weights ~ N(0, 2 / fan_in), biases 0.
    """
    d = _check_positive_int("input_dim", input_dim)
    h = _check_positive_int("hidden_dim", hidden_dim)
    c = _check_positive_int("num_classes", num_classes)
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a np.random.Generator, got {type(rng).__name__}")
    return {
        "W1": _he_weights(rng, d, h),
        "b1": np.zeros(h),
        "W2": _he_weights(rng, h, c),
        "b2": np.zeros(c),
    }


def two_layer_loss(params, X, y=None):
    """Scores, or loss and gradients, of the network affine - ReLU - affine - softmax cross-entropy.

    Args:
        params: dict with "W1", "b1", "W2", "b2" (see init_two_layer).
        X: (N, D) inputs.
        y: (N,) integer labels, or None.

    Returns:
        If y is None: the (N, C) scores. Otherwise (loss, grads): the mean cross-entropy (a float)
        and a dict of gradients with the keys and shapes of params.
    """
    p = _check_params(params)

    # Forward: affine -> ReLU -> affine.
    a1, affine1_cache = affine_forward(X, p["W1"], p["b1"])
    hidden, relu_cache = relu_forward(a1)
    scores, affine2_cache = affine_forward(hidden, p["W2"], p["b2"])
    if y is None:
        return scores

    # Backward: the same chain in reverse.
    loss, dscores = cross_entropy(scores, y)
    dhidden, dW2, db2 = affine_backward(dscores, affine2_cache)
    da1 = relu_backward(dhidden, relu_cache)
    _, dW1, db1 = affine_backward(da1, affine1_cache)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return loss, grads


# %% [training_solution]
HISTORY_KEYS = ("train_loss", "train_acc", "val_acc")


@dataclass
class _TrainingConfig:
    """Validated hyper-parameters of train_two_layer."""

    hidden_dim: int
    lr: float
    epochs: int
    batch_size: int
    seed: int

    def __post_init__(self) -> None:
        self.hidden_dim = _check_positive_int("hidden_dim", self.hidden_dim)
        self.batch_size = _check_positive_int("batch_size", self.batch_size)
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, (int, np.integer)) or self.epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")


def _minibatches(order: np.ndarray, batch_size: int):
    """Yield consecutive chunks of `order` of batch_size indices (the last one may be smaller)."""
    for start in range(0, len(order), batch_size):
        yield order[start:start + batch_size]


def _sgd_step(params: dict, grads: dict, lr: float) -> dict:
    """One plain SGD update; returns new arrays instead of writing into the old ones."""
    return {key: params[key] - lr * grads[key] for key in params}


def train_two_layer(data, *, hidden_dim=128, lr=0.2, epochs=40, batch_size=32, seed=0):
    """Train the two-layer network with minibatch SGD.

    Args:
        data: has X_train (N, D), y_train (N,), X_val, y_val and num_classes. Do not use X_test / y_test.
        hidden_dim: number of hidden units.
        lr: learning rate.
        epochs: number of passes over the training set.
        batch_size: samples per update (the last batch of an epoch may be smaller).
        seed: seed of the generator used for initialisation and shuffling.

    Returns:
        params: the trained parameters (dict as in init_two_layer).
        history: {"train_loss": [...], "train_acc": [...], "val_acc": [...]}, one entry per epoch.
    """
    config = _TrainingConfig(hidden_dim=hidden_dim, lr=lr, epochs=epochs, batch_size=batch_size, seed=seed)
    X_train = _check_array("data.X_train", data.X_train, ndim=2)
    y_train = np.asarray(data.y_train)
    _check_same_length("data.X_train", X_train, "data.y_train", y_train)

    rng = np.random.default_rng(config.seed)
    params = init_two_layer(X_train.shape[1], config.hidden_dim, data.num_classes, rng=rng)
    history = {key: [] for key in HISTORY_KEYS}

    for _ in range(config.epochs):
        order = rng.permutation(X_train.shape[0])
        batch_losses = []
        for batch in _minibatches(order, config.batch_size):
            loss, grads = two_layer_loss(params, X_train[batch], y_train[batch])
            params = _sgd_step(params, grads, config.lr)
            batch_losses.append(loss)
        history["train_loss"].append(float(np.mean(batch_losses)))
        history["train_acc"].append(accuracy(params, X_train, y_train))
        history["val_acc"].append(accuracy(params, data.X_val, data.y_val))
    return params, history
