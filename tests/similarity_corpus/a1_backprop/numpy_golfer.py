# %% [perceptron_solution]
def perceptron_predict(X, w):
    """Perceptron predictions sign(X @ w), with sign(0) := +1.

    Args:
        X: (N, D) samples, one per row, bias column included.
        w: (D,) weights, bias weight included.

    Returns:
        (N,) integer array with values -1 and +1.
    """
    return np.where(np.asarray(X, np.float64) @ np.asarray(w, np.float64) >= 0, 1, -1)


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
    X, y = np.asarray(X, np.float64), np.asarray(y, np.float64)
    w = np.zeros(X.shape[1]) if w0 is None else np.array(w0, np.float64)
    E = []
    for _ in range(epochs):
        e = 0
        for x, t in zip(X, y):
            d = t - (1. if x @ w >= 0 else -1.)
            w, e = w + lr * d * x, e + (d != 0)
        E.append(int(e))
        if not e:
            break
    return w, E

# %% [activations_solution]
_fl = lambda x: np.asarray(x, np.float64)
_ez = lambda x: np.exp(-np.abs(_fl(x)))  # in (0, 1], never overflows


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    x, z = _fl(x), _ez(x)
    return np.where(x >= 0, 1, z) / (1 + z)


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    z = _ez(x)
    return z / (1 + z) ** 2


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return np.tanh(_fl(x))


def tanh_grad(x):
    """Derivative of tanh at x: 1 - tanh(x)**2."""
    return 1 - np.tanh(_fl(x)) ** 2


def relu(x):
    """Rectified linear unit max(0, x), elementwise."""
    x = _fl(x)
    return np.where(x > 0, x, 0.)


def relu_grad(x):
    """Derivative of ReLU at x: 1 where x > 0, else 0 (also 0 at x == 0)."""
    return (_fl(x) > 0).astype(np.float64)


def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU: x where x > 0, else negative_slope * x."""
    x = _fl(x)
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x, negative_slope=0.01):
    """Derivative of leaky ReLU at x: 1 where x > 0, else negative_slope (also at x == 0)."""
    return np.where(_fl(x) > 0, 1., negative_slope)


def elu(x, alpha=1.0):
    """ELU: x where x > 0, else alpha * (exp(x) - 1); no overflow for large x."""
    x = _fl(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))


def elu_grad(x, alpha=1.0):
    """Derivative of ELU at x: 1 where x > 0, else alpha * exp(x) (alpha at x == 0)."""
    x = _fl(x)
    return np.where(x > 0, 1., alpha * np.exp(np.minimum(x, 0)))

# %% [softmax_ce_solution]
_lse = lambda v, a=-1: np.logaddexp.reduce(v, axis=a, keepdims=True)


def softmax(x, axis=-1):
    """Softmax of x along `axis`, stable for large values.

    Args:
        x: array with at least one dimension, e.g. (N, C) scores.
        axis: the axis along which the probabilities sum to 1.

    Returns:
        Array shaped like x with positive entries; every slice along `axis` sums to 1.
    """
    x = np.asarray(x, np.float64)
    return np.exp(x - _lse(x, axis))


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of a batch, and its gradient.

    Args:
        logits: (N, C) unnormalised class scores.
        labels: (N,) integer class indices in [0, C).

    Returns:
        loss: the mean over the batch of -log softmax(logits)[n, labels[n]], a Python float.
        dlogits: (N, C) gradient of the loss, (softmax(logits) - onehot(labels)) / N.
    """
    v, y = np.asarray(logits, np.float64), np.asarray(labels, np.int64)
    n, c = v.shape
    lp = v - _lse(v)  # log-probabilities
    return float(-lp[np.arange(n), y].mean()), (np.exp(lp) - np.eye(c)[y]) / n

# %% [layers_solution]
def affine_forward(x, w, b):
    """Affine layer out = x @ w + b.

    Args:
        x: (N, D) inputs; w: (D, M) weights; b: (M,) biases.

    Returns:
        out: (N, M); cache: whatever affine_backward needs.
    """
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: (N, M) upstream gradient dL/dout; cache: from affine_forward.

    Returns:
        dx: (N, D), dw: (D, M), db: (M,).
    """
    x, w = cache
    return dout @ w.T, np.einsum("nd,nm->dm", x, dout), dout.sum(0)


def relu_forward(x):
    """ReLU layer out = max(0, x) elementwise. Returns (out, cache)."""
    return np.maximum(x, 0.), x


def relu_backward(dout, cache):
    """Backward pass of the ReLU layer: dx = dout where the input was > 0, else 0."""
    return np.where(cache > 0, dout, 0.)

# %% [gradcheck_solution]
def numerical_gradient(f, x, df=None, h=1e-5):
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
    x = np.array(x, np.float64)
    s = lambda z: np.sum(f(z) * (1. if df is None else df))

    def e(i):  # h in slot i, 0 elsewhere
        u = np.zeros_like(x)
        u.flat[i] = h
        return u

    return np.array([s(x + e(i)) - s(x - e(i)) for i in range(x.size)]).reshape(x.shape) / (2 * h)

# %% [two_layer_solution]
def init_two_layer(input_dim, hidden_dim, num_classes, *, rng):
    """He-initialised parameters of a two-layer network.

    Returns:
        dict with "W1" (input_dim, hidden_dim), "b1" (hidden_dim,), "W2" (hidden_dim, num_classes),
        "b2" (num_classes,); weights ~ N(0, 2 / fan_in), biases 0.
    """
    he = lambda i, o: rng.standard_normal((i, o)) * np.sqrt(2 / i)
    return dict(W1=he(input_dim, hidden_dim), b1=np.zeros(hidden_dim),
                W2=he(hidden_dim, num_classes), b2=np.zeros(num_classes))


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
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    a, c1 = affine_forward(np.asarray(X, np.float64), W1, b1)
    h, c2 = relu_forward(a)
    s, c3 = affine_forward(h, W2, b2)
    if y is None:
        return s
    L, g = cross_entropy(s, y)
    g, gW2, gb2 = affine_backward(g, c3)
    _, gW1, gb1 = affine_backward(relu_backward(g, c2), c1)
    return L, dict(W1=gW1, b1=gb1, W2=gW2, b2=gb2)

# %% [training_solution]
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
    rng = np.random.default_rng(seed)
    X, y = data.X_train, data.y_train
    n = len(X)
    w = init_two_layer(X.shape[1], hidden_dim, data.num_classes, rng=rng)
    H = dict(train_loss=[], train_acc=[], val_acc=[])
    for _ in range(epochs):
        L = []
        for b in np.split(rng.permutation(n), np.arange(batch_size, n, batch_size)):
            l, g = two_layer_loss(w, X[b], y[b])
            w = {k: w[k] - lr * g[k] for k in w}
            L.append(l)
        H["train_loss"].append(float(np.mean(L)))
        H["train_acc"].append(accuracy(w, X, y))
        H["val_acc"].append(accuracy(w, data.X_val, data.y_val))
    return w, H
