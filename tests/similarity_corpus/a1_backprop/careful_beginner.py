# %% [perceptron_solution]
def perceptron_predict(X, w):
    """Perceptron predictions sign(X @ w), with sign(0) := +1.

    Args:
        X: (N, D) samples, one per row, bias column included.
        w: (D,) weights, bias weight included.

    Returns:
        (N,) integer array with values -1 and +1.
    """
    # Step 0: turn the inputs into float arrays (this makes copies if needed, so we never change them)
    X_as_array = np.asarray(X, dtype=np.float64)
    w_as_array = np.asarray(w, dtype=np.float64)

    # Step 1: check the shapes one by one
    if X_as_array.ndim != 2:
        raise ValueError(f"X must be a 2-d array of shape (N, D), got shape {X_as_array.shape}")
    if w_as_array.ndim != 1:
        raise ValueError(f"w must be a 1-d array of shape (D,), got shape {w_as_array.shape}")
    if X_as_array.shape[1] != w_as_array.shape[0]:
        raise ValueError(
            f"X has {X_as_array.shape[1]} columns but w has {w_as_array.shape[0]} entries, they must be equal"
        )

    number_of_samples = X_as_array.shape[0]
    predicted_labels = np.zeros(number_of_samples, dtype=int)

    # Step 2: go through the samples one at a time and take the sign of the score
    for sample_index in range(number_of_samples):
        score_of_this_sample = np.dot(X_as_array[sample_index], w_as_array)
        if score_of_this_sample >= 0:
            # sign(0) counts as +1 (a point on the boundary is predicted positive)
            predicted_labels[sample_index] = 1
        else:
            predicted_labels[sample_index] = -1

    return predicted_labels


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
    # Step 0: convert the inputs (np.asarray does not change the caller's arrays)
    X_as_array = np.asarray(X, dtype=np.float64)
    y_as_array = np.asarray(y, dtype=np.float64)

    # Step 1: check the inputs one by one
    if X_as_array.ndim != 2:
        raise ValueError(f"X must be a 2-d array of shape (N, D), got shape {X_as_array.shape}")
    if y_as_array.ndim != 1:
        raise ValueError(f"y must be a 1-d array of shape (N,), got shape {y_as_array.shape}")
    if y_as_array.shape[0] != X_as_array.shape[0]:
        raise ValueError(f"y has {y_as_array.shape[0]} labels but X has {X_as_array.shape[0]} samples")
    for label in y_as_array:
        if label != 1.0 and label != -1.0:
            raise ValueError(f"y must only contain the labels -1 and +1, found {label}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if epochs < 0:
        raise ValueError(f"epochs must not be negative, got {epochs}")

    number_of_samples = X_as_array.shape[0]
    number_of_features = X_as_array.shape[1]

    # Step 2: the starting weights (a fresh copy, so that w0 is never modified)
    if w0 is None:
        weights = np.zeros(number_of_features, dtype=np.float64)
    else:
        weights = np.array(w0, dtype=np.float64)  # np.array makes a copy
        if weights.shape != (number_of_features,):
            raise ValueError(f"w0 must have shape ({number_of_features},), got shape {weights.shape}")

    errors_per_epoch = []

    # Step 3: the epochs
    for epoch_index in range(epochs):
        mistakes_in_this_epoch = 0

        # visit every sample in the given order
        for sample_index in range(number_of_samples):
            current_sample = X_as_array[sample_index]
            true_label = y_as_array[sample_index]

            # prediction with sign(0) := +1
            score = np.dot(current_sample, weights)
            if score >= 0:
                predicted_label = 1.0
            else:
                predicted_label = -1.0

            # the error is 0 when right and 2 * y when wrong
            error = true_label - predicted_label
            if error != 0:
                mistakes_in_this_epoch = mistakes_in_this_epoch + 1
                # not in place, so that w0 (if it was passed) can never be touched
                weights = weights + lr * error * current_sample

        errors_per_epoch.append(mistakes_in_this_epoch)

        # Step 4: stop after the first epoch without a mistake
        if mistakes_in_this_epoch == 0:
            break

    return weights, errors_per_epoch


# %% [activations_solution]
def _to_float_array(x):
    """Helper: a new float64 array with the values of x (so we never modify x itself)."""
    return np.array(x, dtype=np.float64)  # np.array always copies


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise, without overflow for large |x|."""
    x_values = _to_float_array(x)

    # z = exp(-|x|) is always between 0 and 1, so it can never overflow
    exp_of_minus_abs_x = np.exp(-np.abs(x_values))

    result = np.zeros_like(x_values)
    positive_mask = x_values >= 0
    negative_mask = x_values < 0

    # for x >= 0: sigmoid(x) = 1 / (1 + exp(-x))
    result[positive_mask] = 1.0 / (1.0 + exp_of_minus_abs_x[positive_mask])
    # for x < 0: sigmoid(x) = exp(x) / (1 + exp(x)), and exp(x) = exp(-|x|) here
    result[negative_mask] = exp_of_minus_abs_x[negative_mask] / (1.0 + exp_of_minus_abs_x[negative_mask])
    return result


def sigmoid_grad(x):
    """Derivative of the sigmoid at x: sigmoid(x) * (1 - sigmoid(x))."""
    sigmoid_values = sigmoid(x)
    derivative = sigmoid_values * (1.0 - sigmoid_values)
    return derivative


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    x_values = _to_float_array(x)
    # np.tanh is stable: it gives exactly -1 / +1 for very large |x|
    return np.tanh(x_values)


def tanh_grad(x):
    """Derivative of tanh at x: 1 - tanh(x)**2."""
    tanh_values = tanh(x)
    derivative = 1.0 - tanh_values * tanh_values
    return derivative


def relu(x):
    """Rectified linear unit max(0, x), elementwise."""
    x_values = _to_float_array(x)
    result = np.zeros_like(x_values)
    positive_mask = x_values > 0
    result[positive_mask] = x_values[positive_mask]
    return result


def relu_grad(x):
    """Derivative of ReLU at x: 1 where x > 0, else 0 (also 0 at x == 0)."""
    x_values = _to_float_array(x)
    derivative = np.zeros_like(x_values)
    positive_mask = x_values > 0
    derivative[positive_mask] = 1.0
    return derivative


def leaky_relu(x, negative_slope=0.01):
    """Leaky ReLU: x where x > 0, else negative_slope * x."""
    x_values = _to_float_array(x)
    result = np.zeros_like(x_values)
    positive_mask = x_values > 0
    not_positive_mask = np.logical_not(positive_mask)
    result[positive_mask] = x_values[positive_mask]
    result[not_positive_mask] = negative_slope * x_values[not_positive_mask]
    return result


def leaky_relu_grad(x, negative_slope=0.01):
    """Derivative of leaky ReLU at x: 1 where x > 0, else negative_slope (also at x == 0)."""
    x_values = _to_float_array(x)
    derivative = np.zeros_like(x_values)
    positive_mask = x_values > 0
    not_positive_mask = np.logical_not(positive_mask)
    derivative[positive_mask] = 1.0
    derivative[not_positive_mask] = negative_slope
    return derivative


def elu(x, alpha=1.0):
    """ELU: x where x > 0, else alpha * (exp(x) - 1); no overflow for large x."""
    x_values = _to_float_array(x)
    result = np.zeros_like(x_values)
    positive_mask = x_values > 0
    not_positive_mask = np.logical_not(positive_mask)
    result[positive_mask] = x_values[positive_mask]
    # only the non-positive values are exponentiated, so exp never overflows
    result[not_positive_mask] = alpha * np.expm1(x_values[not_positive_mask])
    return result


def elu_grad(x, alpha=1.0):
    """Derivative of ELU at x: 1 where x > 0, else alpha * exp(x) (alpha at x == 0)."""
    x_values = _to_float_array(x)
    derivative = np.zeros_like(x_values)
    positive_mask = x_values > 0
    not_positive_mask = np.logical_not(positive_mask)
    derivative[positive_mask] = 1.0
    # again only exp of values <= 0, so no overflow (exp(-1000) is just 0)
    derivative[not_positive_mask] = alpha * np.exp(x_values[not_positive_mask])
    return derivative


# %% [softmax_ce_solution]
def softmax(x, axis=-1):
    """Softmax of x along `axis`, stable for large values.

    Args:
        x: array with at least one dimension, e.g. (N, C) scores.
        axis: the axis along which the probabilities sum to 1.

    Returns:
        Array shaped like x with positive entries; every slice along `axis` sums to 1.
    """
    x_values = np.array(x, dtype=np.float64)  # a copy, x stays unchanged

    if x_values.ndim == 0:
        raise ValueError("x must have at least one dimension, got a scalar")

    # Step 1: subtract the largest value of every slice so that all exponents are <= 0
    largest_value = np.max(x_values, axis=axis, keepdims=True)
    shifted_values = x_values - largest_value

    # Step 2: exponentiate (no overflow now) and normalise
    exponentials = np.exp(shifted_values)
    sum_of_exponentials = np.sum(exponentials, axis=axis, keepdims=True)
    probabilities = exponentials / sum_of_exponentials
    return probabilities


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of a batch, and its gradient.

    Args:
        logits: (N, C) unnormalised class scores.
        labels: (N,) integer class indices in [0, C).

    Returns:
        loss: the mean over the batch of -log softmax(logits)[n, labels[n]], a Python float.
        dlogits: (N, C) gradient of the loss, (softmax(logits) - onehot(labels)) / N.
    """
    logits_values = np.array(logits, dtype=np.float64)
    labels_values = np.asarray(labels)

    # Step 0: check the inputs one by one
    if logits_values.ndim != 2:
        raise ValueError(f"logits must be a 2-d array of shape (N, C), got shape {logits_values.shape}")
    if labels_values.ndim != 1:
        raise ValueError(f"labels must be a 1-d array of shape (N,), got shape {labels_values.shape}")
    if not np.issubdtype(labels_values.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels_values.dtype}")
    number_of_samples = logits_values.shape[0]
    number_of_classes = logits_values.shape[1]
    if labels_values.shape[0] != number_of_samples:
        raise ValueError(f"labels has {labels_values.shape[0]} entries but logits has {number_of_samples} rows")
    if number_of_samples == 0:
        raise ValueError("logits must contain at least one sample")
    for label in labels_values:
        if label < 0 or label >= number_of_classes:
            raise ValueError(f"labels must be in [0, {number_of_classes}), found {label}")

    # Step 1: the log-sum-exp trick, shift every row by its maximum
    row_maximum = np.max(logits_values, axis=1, keepdims=True)
    shifted_logits = logits_values - row_maximum
    sum_of_exponentials = np.sum(np.exp(shifted_logits), axis=1)
    log_of_sum = np.log(sum_of_exponentials)

    # Step 2: the loss of every sample, -log o_k = log(sum_j exp(v_j - m)) - (v_k - m)
    total_loss = 0.0
    for sample_index in range(number_of_samples):
        true_class = labels_values[sample_index]
        loss_of_this_sample = log_of_sum[sample_index] - shifted_logits[sample_index, true_class]
        total_loss = total_loss + loss_of_this_sample
    mean_loss = float(total_loss / number_of_samples)

    # Step 3: the gradient (o - y) / N
    probabilities = softmax(logits_values, axis=1)
    dlogits = probabilities.copy()
    for sample_index in range(number_of_samples):
        true_class = labels_values[sample_index]
        dlogits[sample_index, true_class] = dlogits[sample_index, true_class] - 1.0
    dlogits = dlogits / number_of_samples

    return mean_loss, dlogits


# %% [layers_solution]
def affine_forward(x, w, b):
    """Affine layer out = x @ w + b.

    Args:
        x: (N, D) inputs; w: (D, M) weights; b: (M,) biases.

    Returns:
        out: (N, M); cache: whatever affine_backward needs.
    """
    x_values = np.asarray(x, dtype=np.float64)
    w_values = np.asarray(w, dtype=np.float64)
    b_values = np.asarray(b, dtype=np.float64)

    # check the shapes one by one
    if x_values.ndim != 2:
        raise ValueError(f"x must be a 2-d array of shape (N, D), got shape {x_values.shape}")
    if w_values.ndim != 2:
        raise ValueError(f"w must be a 2-d array of shape (D, M), got shape {w_values.shape}")
    if b_values.ndim != 1:
        raise ValueError(f"b must be a 1-d array of shape (M,), got shape {b_values.shape}")
    if x_values.shape[1] != w_values.shape[0]:
        raise ValueError(f"x has {x_values.shape[1]} columns but w has {w_values.shape[0]} rows")
    if w_values.shape[1] != b_values.shape[0]:
        raise ValueError(f"w has {w_values.shape[1]} columns but b has {b_values.shape[0]} entries")

    # out[n, j] = sum_i x[n, i] * w[i, j] + b[j]
    out = x_values @ w_values + b_values

    # keep copies of the inputs for the backward pass
    cache = (x_values.copy(), w_values.copy(), b_values.copy())
    return out, cache


def affine_backward(dout, cache):
    """Backward pass of the affine layer.

    Args:
        dout: (N, M) upstream gradient dL/dout; cache: from affine_forward.

    Returns:
        dx: (N, D), dw: (D, M), db: (M,).
    """
    x_values, w_values, b_values = cache
    dout_values = np.asarray(dout, dtype=np.float64)

    expected_shape = (x_values.shape[0], w_values.shape[1])
    if dout_values.shape != expected_shape:
        raise ValueError(f"dout must have shape {expected_shape}, got shape {dout_values.shape}")

    # dL/dx = dout @ w^T  -> shape (N, D)
    dx = dout_values @ w_values.T
    # dL/dw = x^T @ dout  -> shape (D, M)
    dw = x_values.T @ dout_values

    # dL/db = sum of dout over the batch (b was broadcast to every row, so we add the rows up)
    number_of_samples = dout_values.shape[0]
    db = np.zeros(b_values.shape[0], dtype=np.float64)
    for sample_index in range(number_of_samples):
        db = db + dout_values[sample_index]

    return dx, dw, db


def relu_forward(x):
    """ReLU layer out = max(0, x) elementwise. Returns (out, cache)."""
    x_values = np.array(x, dtype=np.float64)  # a copy we can keep in the cache
    out = np.zeros_like(x_values)
    positive_mask = x_values > 0
    out[positive_mask] = x_values[positive_mask]
    cache = x_values
    return out, cache


def relu_backward(dout, cache):
    """Backward pass of the ReLU layer: dx = dout where the input was > 0, else 0."""
    x_values = cache
    dout_values = np.asarray(dout, dtype=np.float64)
    if dout_values.shape != x_values.shape:
        raise ValueError(f"dout must have shape {x_values.shape}, got shape {dout_values.shape}")

    # the gradient only goes through where the input was strictly positive
    dx = np.zeros_like(dout_values)
    positive_mask = x_values > 0
    dx[positive_mask] = dout_values[positive_mask]
    return dx


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
    if h <= 0:
        raise ValueError(f"h must be positive, got {h}")

    # a private float copy of x: we only ever perturb copies, never the caller's x
    x_copy = np.array(x, dtype=np.float64)

    # df = 1 when f returns a scalar
    if df is None:
        upstream_gradient = 1.0
    else:
        upstream_gradient = np.asarray(df, dtype=np.float64)

    numerical_grad = np.zeros_like(x_copy)

    # go through every element of x, whatever the shape of x is
    for element_index in np.ndindex(x_copy.shape):
        # x + h e_i
        x_plus = x_copy.copy()
        x_plus[element_index] = x_plus[element_index] + h
        f_plus = np.asarray(f(x_plus), dtype=np.float64)
        weighted_sum_plus = np.sum(f_plus * upstream_gradient)

        # x - h e_i
        x_minus = x_copy.copy()
        x_minus[element_index] = x_minus[element_index] - h
        f_minus = np.asarray(f(x_minus), dtype=np.float64)
        weighted_sum_minus = np.sum(f_minus * upstream_gradient)

        # centered difference
        numerical_grad[element_index] = (weighted_sum_plus - weighted_sum_minus) / (2.0 * h)

    return numerical_grad


# %% [two_layer_solution]
def init_two_layer(input_dim, hidden_dim, num_classes, *, rng):
    """He-initialised parameters of a two-layer network.

    Returns:
        dict with "W1" (input_dim, hidden_dim), "b1" (hidden_dim,), "W2" (hidden_dim, num_classes),
        "b2" (num_classes,); weights ~ N(0, 2 / fan_in), biases 0.
    """
    # check the sizes one by one
    if input_dim <= 0:
        raise ValueError(f"input_dim must be positive, got {input_dim}")
    if hidden_dim <= 0:
        raise ValueError(f"hidden_dim must be positive, got {hidden_dim}")
    if num_classes <= 0:
        raise ValueError(f"num_classes must be positive, got {num_classes}")

    # He initialisation: standard deviation sqrt(2 / fan_in)
    standard_deviation_layer_1 = np.sqrt(2.0 / input_dim)
    standard_deviation_layer_2 = np.sqrt(2.0 / hidden_dim)

    params = {}
    params["W1"] = rng.standard_normal((input_dim, hidden_dim)) * standard_deviation_layer_1
    params["b1"] = np.zeros(hidden_dim, dtype=np.float64)
    params["W2"] = rng.standard_normal((hidden_dim, num_classes)) * standard_deviation_layer_2
    params["b2"] = np.zeros(num_classes, dtype=np.float64)
    return params


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
    # check that all the parameters are there
    for needed_key in ["W1", "b1", "W2", "b2"]:
        if needed_key not in params:
            raise ValueError(f"params is missing the key {needed_key!r}")

    W1 = params["W1"]
    b1 = params["b1"]
    W2 = params["W2"]
    b2 = params["b2"]

    # ---- forward pass ----
    # first layer: A1 = X W1 + b1
    hidden_pre_activation, cache_first_affine = affine_forward(X, W1, b1)
    # ReLU: H = max(0, A1)
    hidden_activation, cache_relu = relu_forward(hidden_pre_activation)
    # second layer: S = H W2 + b2
    scores, cache_second_affine = affine_forward(hidden_activation, W2, b2)

    # without labels we only want the scores
    if y is None:
        return scores

    # ---- loss ----
    loss, dscores = cross_entropy(scores, y)

    # ---- backward pass, the same chain in reverse ----
    dhidden_activation, dW2, db2 = affine_backward(dscores, cache_second_affine)
    dhidden_pre_activation = relu_backward(dhidden_activation, cache_relu)
    dX_not_needed, dW1, db1 = affine_backward(dhidden_pre_activation, cache_first_affine)

    grads = {}
    grads["W1"] = dW1
    grads["b1"] = db1
    grads["W2"] = dW2
    grads["b2"] = db2
    return loss, grads


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
    # check the settings one by one
    if hidden_dim <= 0:
        raise ValueError(f"hidden_dim must be positive, got {hidden_dim}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if epochs < 0:
        raise ValueError(f"epochs must not be negative, got {epochs}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")

    X_train = data.X_train
    y_train = data.y_train
    X_val = data.X_val
    y_val = data.y_val

    number_of_training_samples = X_train.shape[0]
    input_dimension = X_train.shape[1]

    # Step 1: one generator for the initialisation and for the shuffling
    rng = np.random.default_rng(seed)
    params = init_two_layer(input_dimension, hidden_dim, data.num_classes, rng=rng)

    history = {"train_loss": [], "train_acc": [], "val_acc": []}

    for epoch_index in range(epochs):
        # Step 2: shuffle the training set at the start of the epoch
        shuffled_indices = rng.permutation(number_of_training_samples)

        losses_of_this_epoch = []

        # Step 3: consecutive batches of batch_size samples (the last one may be smaller)
        for batch_start in range(0, number_of_training_samples, batch_size):
            batch_end = batch_start + batch_size
            batch_indices = shuffled_indices[batch_start:batch_end]
            X_batch = X_train[batch_indices]
            y_batch = y_train[batch_indices]

            batch_loss, batch_grads = two_layer_loss(params, X_batch, y_batch)
            losses_of_this_epoch.append(batch_loss)

            # Step 4: plain SGD update for every parameter (new arrays, nothing in place)
            for parameter_name in ["W1", "b1", "W2", "b2"]:
                params[parameter_name] = params[parameter_name] - lr * batch_grads[parameter_name]

        # Step 5: record the history of this epoch
        mean_loss_of_this_epoch = float(np.mean(losses_of_this_epoch))
        training_accuracy = accuracy(params, X_train, y_train)
        validation_accuracy = accuracy(params, X_val, y_val)
        history["train_loss"].append(mean_loss_of_this_epoch)
        history["train_acc"].append(training_accuracy)
        history["val_acc"].append(validation_accuracy)

    return params, history
