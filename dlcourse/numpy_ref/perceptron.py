"""The single-layer perceptron of lecture 1, in float64 numpy.

Prediction and training rule (Rosenblatt, 1958)::

    y_hat = sign(w . x)
    w <- w + lr * (y - y_hat) * x        (labels y in {-1, +1})

The bias is folded into ``w`` by giving every sample a constant feature 1
(see :func:`add_bias`).  Training visits one sample per update; one pass over
the data is an epoch.  The weights stop changing once every sample is
classified correctly, which happens after finitely many updates when the
data are linearly separable — and never happens on XOR.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from dlcourse.validation import Array, as_float_array, check_integer, check_positive

__all__ = ["add_bias", "perceptron_predict", "perceptron_train"]


def add_bias(X: Array) -> Array:
    """Append a column of ones to ``X`` so that ``w`` can hold the bias.

    Math:
        [x_1, ..., x_d] -> [x_1, ..., x_d, 1]; then w . x = sum_j w_j x_j + w_{d+1},
        and w_{d+1} plays the role of the bias b.

    Args:
        X: samples, one per row.

    Returns:
        A new float64 array with one more column.

    Shape:
        X: (N, D); output: (N, D + 1).

    PyTorch counterpart: ``torch.cat([X, torch.ones(N, 1)], dim=1)``.
    """
    X = as_float_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D), got {X.shape}")
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _check_X_w(X: Any, w: Any) -> tuple[Array, Array]:
    X = as_float_array(X, "X")
    w = as_float_array(w, "w")
    if X.ndim != 2:
        raise ValueError(f"X must have shape (N, D), got {X.shape}")
    if w.shape != (X.shape[1],):
        raise ValueError(f"w must have shape (D,) = ({X.shape[1]},), got {w.shape}")
    return X, w


def perceptron_predict(X: Array, w: Array) -> npt.NDArray[np.int64]:
    """Perceptron predictions.

    Math:
        y_hat = sign(X @ w) with sign(0) := +1, so every sample gets a label
        in {-1, +1} (a point exactly on the decision boundary counts as +1).

    Args:
        X: samples, one per row, already including a bias column
            (see :func:`add_bias`).
        w: weights, including the bias weight.

    Returns:
        int64 array of labels in {-1, +1}.

    Shape:
        X: (N, D); w: (D,); output: (N,).

    PyTorch counterpart: none built in; ``torch.where(X @ w >= 0, 1, -1)``.
    """
    X, w = _check_X_w(X, w)
    return np.where(X @ w >= 0, 1, -1).astype(np.int64)  # sign with sign(0) = +1


def perceptron_train(X: Array, y: Array, lr: float = 1.0, epochs: int = 10,
                     w0: Array | None = None) -> tuple[Array, list[int]]:
    """Train a perceptron with Rosenblatt's update rule (lecture L01).

    Math:
        For each sample (x, y) in the given order:
        y_hat = sign(w . x) (sign(0) := +1) and w <- w + lr * (y - y_hat) * x.
        A correct prediction gives y - y_hat = 0 (no change); a mistake
        gives y - y_hat = 2y, i.e. w moves by 2 * lr * y * x.

    Args:
        X: samples, one per row, already including a bias column
            (see :func:`add_bias`).
        y: labels, each -1 or +1.
        lr: learning rate (often written alpha), > 0.
        epochs: maximum number of passes over the data, >= 1.
        w0: initial weights; ``None`` means zeros.  Never modified.

    Returns:
        ``(w, errors_per_epoch)``: the final weights and a list with the
        number of misclassified samples met during each epoch (counted
        before each sample's update).  Training stops early after the first
        epoch with zero errors — the weights can no longer change — so the
        list can be shorter than ``epochs``, and it ends in 0 exactly when
        the final ``w`` classifies every training sample correctly.

    Shape:
        X: (N, D); y: (N,); w0: (D,); w: (D,).

    PyTorch counterpart: none (the perceptron rule is not gradient descent).
    """
    X = as_float_array(X, "X")
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, D) with N >= 1, got {X.shape}")
    n, d = X.shape
    y = as_float_array(y, "y")
    if y.shape != (n,):
        raise ValueError(f"y must have shape (N,) = ({n},), got {y.shape}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("y must only contain the labels -1 and +1")
    lr = check_positive(lr, "lr")
    epochs = check_integer(epochs, "epochs", minimum=1)
    if w0 is None:
        w = np.zeros(d)
    else:
        w = as_float_array(w0, "w0").copy()  # copy: the caller's w0 is never modified
        if w.shape != (d,):
            raise ValueError(f"w0 must have shape (D,) = ({d},), got {w.shape}")

    errors_per_epoch: list[int] = []
    for _ in range(epochs):
        errors = 0
        for x_i, y_i in zip(X, y):
            y_hat = 1.0 if x_i @ w >= 0 else -1.0
            if y_hat != y_i:
                errors += 1
            w = w + lr * (y_i - y_hat) * x_i
        errors_per_epoch.append(errors)
        if errors == 0:
            break
    return w, errors_per_epoch
