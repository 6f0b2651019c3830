# %% [perceptron_solution]
def perceptron_predict(X, w):
    """Perceptron predictions sign(X @ w), with sign(0) := +1.

    Args:
        X: (N, D) samples, one per row, bias column included.
        w: (D,) weights, bias weight included.

    Returns:
        (N,) integer array with values -1 and +1.
    """
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a matrix (N, D), got shape {X.shape}")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape ({X.shape[1]},), got {w.shape}")

    # (1.1)  z_n = w . x_n                      (the score of sample n)
    # (1.2)  y_hat_n = sign(z_n),  sign(0) := +1
    z = X @ w
    y_hat = np.where(z >= 0.0, 1, -1)
    return y_hat.astype(np.int64)


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
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    N, D = X.shape
    if y.shape != (N,):
        raise ValueError(f"y must have shape ({N},), got {y.shape}")
    alpha = float(lr)

    # w^(0) = w0 (a fresh copy, so that the caller's array is never touched), or 0
    if w0 is None:
        w = np.zeros(D)
    else:
        w = np.array(w0, dtype=np.float64)

    errors_per_epoch = []
    for epoch in range(epochs):
        mistakes = 0
        for n in range(N):
            x_n, y_n = X[n], y[n]
            # (1.3)  y_hat = sign(w . x_n)
            z = x_n @ w
            y_hat = 1.0 if z >= 0.0 else -1.0
            # (1.4)  e = y - y_hat  in {-2, 0, +2}
            e = y_n - y_hat
            if e != 0.0:
                mistakes = mistakes + 1
            # (1.5)  w <- w + alpha * e * x_n   (no change when e = 0)
            w = w + alpha * e * x_n
        errors_per_epoch.append(mistakes)
        # convergence theorem: an epoch without a mistake is a fixed point of (1.5)
        if mistakes == 0:
            break
    return w, errors_per_epoch


# %% [activations_solution]
def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    # (2.1)  z = exp(-|x|) in (0, 1]: never overflows
    # (2.2)  sigma(x) = 1 / (1 + z)  for x >= 0,   z / (1 + z)  for x < 0
    #        (the second is 1 / (1 + e^{-x}) multiplied above and below by e^{x})
    z = np.exp(-np.abs(x))
    return np.where(x >= 0.0, 1.0 / (1.0 + z), z / (1.0 + z))


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    # (2.3)  sigma'(x) = sigma(x) (1 - sigma(x))
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    x = np.asarray(x, dtype=np.float64)
    # (2.4)  tanh(x) = 2 sigma(2x) - 1; np.tanh is already stable
    return np.tanh(x)


def tanh_grad(x):
    """Derivative of tanh at x: 1 - tanh(x)**2."""
    # (2.5)  tanh'(x) = 1 - tanh(x)^2
    t = tanh(x)
    return 1.0 - t ** 2


def relu(x):
    """Rectified linear unit max(0, x), elementwise."""
    x = np.asarray(x, dtype=np.float64)
    # (2.6)  relu(x) = max(0, x)
    return np.where(x > 0.0, x, 0.0)


def relu_grad(x):
    """Derivative of ReLU at x: 1 where x > 0, else 0 (also 0 at x == 0)."""
    x = np.asarray(x, dtype=np.float64)
    # (2.7)  relu'(x) = 1[x > 0]   (subgradient 0 chosen at the kink, as autograd does)
    return (x > 0.0).astype(np.float64)


def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU: x where x > 0, else negative_slope * x."""
    x = np.asarray(x, dtype=np.float64)
    alpha = negative_slope
    # (2.8)  phi(x) = x  (x > 0),   alpha x  (x <= 0)
    return np.where(x > 0.0, x, alpha * x)


def leaky_relu_grad(x, negative_slope=0.01):
    """Derivative of leaky ReLU at x: 1 where x > 0, else negative_slope (also at x == 0)."""
    x = np.asarray(x, dtype=np.float64)
    alpha = negative_slope
    # (2.9)  phi'(x) = 1  (x > 0),   alpha  (x <= 0)
    return np.where(x > 0.0, 1.0, alpha).astype(np.float64)


def elu(x, alpha=1.0):
    """ELU: x where x > 0, else alpha * (exp(x) - 1); no overflow for large x."""
    x = np.asarray(x, dtype=np.float64)
    # (2.10)  phi(x) = x  (x > 0),   alpha (e^{x} - 1)  (x <= 0)
    #         only the non-positive part a = min(x, 0) is ever exponentiated, so e^{a} <= 1
    a = np.minimum(x, 0.0)
    return np.where(x > 0.0, x, alpha * np.expm1(a))


def elu_grad(x, alpha=1.0):
    """Derivative of ELU at x: 1 where x > 0, else alpha * exp(x) (alpha at x == 0)."""
    x = np.asarray(x, dtype=np.float64)
    # (2.11)  phi'(x) = 1  (x > 0),   alpha e^{x}  (x <= 0),   again with a = min(x, 0)
    a = np.minimum(x, 0.0)
    return np.where(x > 0.0, 1.0, alpha * np.exp(a))


# %% [softmax_ce_solution]
def softmax(x, axis=-1):
    """Softmax of x along `axis`, stable for large values.

    Args:
        x: array with at least one dimension, e.g. (N, C) scores.
        axis: the axis along which the probabilities sum to 1.

    Returns:
        Array shaped like x with positive entries; every slice along `axis` sums to 1.
    """
    v = np.asarray(x, dtype=np.float64)
    if v.ndim == 0:
        raise ValueError("x must have at least one dimension")
    # (3.1)  o_i = e^{v_i - m} / sum_j e^{v_j - m},   m = max_j v_j   (invariant under the shift)
    m = np.max(v, axis=axis, keepdims=True)
    z = v - m
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of a batch, and its gradient.

    Args:
        logits: (N, C) unnormalised class scores.
        labels: (N,) integer class indices in [0, C).

    Returns:
        loss: the mean over the batch of -log softmax(logits)[n, labels[n]], a Python float.
        dlogits: (N, C) gradient of the loss, (softmax(logits) - onehot(labels)) / N.
    """
    V = np.asarray(logits, dtype=np.float64)
    k = np.asarray(labels)
    if V.ndim != 2:
        raise ValueError(f"logits must have shape (N, C), got {V.shape}")
    N, C = V.shape
    if k.shape != (N,):
        raise ValueError(f"labels must have shape ({N},), got {k.shape}")
    if not np.issubdtype(k.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {k.dtype}")
    if N > 0 and (k.min() < 0 or k.max() >= C):
        raise ValueError(f"labels must lie in [0, {C})")

    # forward
    # (3.2)  log o_{ni} = (v_{ni} - m_n) - log sum_j e^{v_{nj} - m_n}      (log-sum-exp)
    m = np.max(V, axis=1, keepdims=True)
    z = V - m
    log_o = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    # (3.3)  L = (1/N) sum_n -log o_{n, k_n}
    n = np.arange(N)
    L = -np.mean(log_o[n, k])

    # backward
    # (3.4)  dL/dv_{ni} = (o_{ni} - y_{ni}) / N,   y = onehot(k)   (derivation: o_i - y_i per sample)
    O = np.exp(log_o)
    Y = np.eye(C)[k]
    dV = (O - Y) / N
    return float(L), dV


# %% [layers_solution]
def affine_forward(x, w, b):
    """Affine layer out = x @ w + b.

    Args:
        x: (N, D) inputs; w: (D, M) weights; b: (M,) biases.

    Returns:
        out: (N, M); cache: whatever affine_backward needs.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, D), got {x.shape}")
    if w.ndim != 2 or w.shape[0] != x.shape[1]:
        raise ValueError(f"w must have shape ({x.shape[1]}, M), got {w.shape}")
    if b.shape != (w.shape[1],):
        raise ValueError(f"b must have shape ({w.shape[1]},), got {b.shape}")
    # (4.1)  out_{nj} = sum_i x_{ni} W_{ij} + b_j
    out = x @ w + b
    cache = (x, w)
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: (N, M) upstream gradient dL/dout; cache: from affine_forward.

    Returns:
        dx: (N, D), dw: (D, M), db: (M,).
    """
    x, w = cache
    delta = np.asarray(dout, dtype=np.float64)
    # (4.2)  dL/dx_{ni} = sum_j delta_{nj} W_{ij}     ->  dx = delta W^T
    # (4.3)  dL/dW_{ij} = sum_n x_{ni} delta_{nj}     ->  dW = x^T delta
    # (4.4)  dL/db_j    = sum_n delta_{nj}            (broadcast forward = sum backward)
    dx = delta @ w.T
    dw = x.T @ delta
    db = np.sum(delta, axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU layer out = max(0, x) elementwise. Returns (out, cache)."""
    a = np.asarray(x, dtype=np.float64)
    # (4.5)  h = max(0, a)
    h = np.where(a > 0.0, a, 0.0)
    return h, a


def relu_backward(dout, cache):
    """Backward pass of the ReLU layer: dx = dout where the input was > 0, else 0."""
    a = cache
    delta = np.asarray(dout, dtype=np.float64)
    # (4.6)  dL/da = dL/dh (.) 1[a > 0]
    return delta * (a > 0.0)


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
    x = np.array(x, dtype=np.float64)     # our own copy: the caller's x is never perturbed
    if df is None:
        df = 1.0
    df = np.asarray(df, dtype=np.float64)

    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        # (5.1)  x^{+} = x + h e_i,   x^{-} = x - h e_i
        x_plus = x.copy()
        x_minus = x.copy()
        x_plus[i] = x[i] + h
        x_minus[i] = x[i] - h
        f_plus = np.asarray(f(x_plus), dtype=np.float64)
        f_minus = np.asarray(f(x_minus), dtype=np.float64)
        # (5.2)  dL/dx_i ~ sum_k df_k (f_k(x^{+}) - f_k(x^{-})) / (2h)  + O(h^2)
        grad[i] = np.sum((f_plus - f_minus) * df) / (2.0 * h)
    return grad


# %% [two_layer_solution]
def init_two_layer(input_dim, hidden_dim, num_classes, *, rng):
    """He-initialised parameters of a two-layer network.

    Returns:
        dict with "W1" (input_dim, hidden_dim), "b1" (hidden_dim,), "W2" (hidden_dim, num_classes),
        "b2" (num_classes,); weights ~ N(0, 2 / fan_in), biases 0.
    """
    D, H, C = input_dim, hidden_dim, num_classes
    # (6.1)  W ~ N(0, 2 / fan_in),  i.e.  W = sqrt(2 / fan_in) * xi,  xi ~ N(0, 1)
    W1 = rng.standard_normal((D, H)) * np.sqrt(2.0 / D)
    W2 = rng.standard_normal((H, C)) * np.sqrt(2.0 / H)
    # (6.2)  b = 0
    b1 = np.zeros(H)
    b2 = np.zeros(C)
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


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
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]

    # forward
    # (6.3)  A1 = X W1 + b1
    # (6.4)  H  = max(0, A1)
    # (6.5)  S  = H W2 + b2
    a1, cache1 = affine_forward(X, W1, b1)
    h, cache_relu = relu_forward(a1)
    s, cache2 = affine_forward(h, W2, b2)
    if y is None:
        return s
    # (6.6)  L = CE(S, y),   delta3 = dL/dS = (O - Y) / N
    L, delta3 = cross_entropy(s, y)

    # backward
    # (6.7)  dW2 = H^T delta3,   db2 = sum_n delta3,   dL/dH = delta3 W2^T
    # (6.8)  delta1 = dL/dA1 = dL/dH (.) 1[A1 > 0]
    # (6.9)  dW1 = X^T delta1,   db1 = sum_n delta1
    delta2, dW2, db2 = affine_backward(delta3, cache2)
    delta1 = relu_backward(delta2, cache_relu)
    _, dW1, db1 = affine_backward(delta1, cache1)

    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    return L, grads


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
    X, y = data.X_train, data.y_train
    N, D = X.shape
    eta = lr
    rng = np.random.default_rng(seed)
    theta = init_two_layer(D, hidden_dim, data.num_classes, rng=rng)

    history = {"train_loss": [], "train_acc": [], "val_acc": []}
    for epoch in range(epochs):
        pi = rng.permutation(N)
        batch_losses = []
        for start in range(0, N, batch_size):
            B = pi[start:start + batch_size]
            # (7.1)  L_B(theta) = (1/|B|) sum_{n in B} L_n(theta)
            L_B, grad_theta = two_layer_loss(theta, X[B], y[B])
            # (7.2)  theta <- theta - eta grad_theta L_B      for theta in {W1, b1, W2, b2}
            theta = {name: theta[name] - eta * grad_theta[name] for name in theta}
            batch_losses.append(L_B)
        history["train_loss"].append(float(np.mean(batch_losses)))
        history["train_acc"].append(accuracy(theta, X, y))
        history["val_acc"].append(accuracy(theta, data.X_val, data.y_val))
    return theta, history
