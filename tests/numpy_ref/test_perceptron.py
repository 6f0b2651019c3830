"""dlcourse.numpy_ref.perceptron: hand-computed updates, separable data, XOR."""

import numpy as np
import pytest

from dlcourse.data import make_xor
from dlcourse.numpy_ref.perceptron import add_bias, perceptron_predict, perceptron_train

from ._helpers import assert_close

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([-1, 1, 1, -1])


def test_add_bias_appends_ones():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    X_before = X.copy()
    Xb = add_bias(X)
    assert_close(Xb, [[1, 2, 1], [3, 4, 1], [5, 6, 1]], rtol=0, atol=0, name="add_bias")
    np.testing.assert_array_equal(X, X_before, err_msg="add_bias modified X")
    with pytest.raises(ValueError, match="X"):
        add_bias(np.ones(3))


def test_predict_uses_sign_zero_is_plus_one():
    X = np.array([[1.0, 2.0, 1.0], [-1.0, 0.0, 1.0], [1.0, -1.0, 0.0]])
    w = np.array([1.0, 0.5, 0.0])  # scores 2, -1, 0.5
    pred = perceptron_predict(X, w)
    np.testing.assert_array_equal(pred, [1, -1, 1])
    assert pred.dtype == np.int64
    np.testing.assert_array_equal(perceptron_predict(X, np.zeros(3)), [1, 1, 1], err_msg="sign(0) must be +1")


def test_single_update_by_hand():
    # w0 . x = 2*1 + 1*(-1) + 1*0.5 = 1.5 > 0 -> y_hat = +1, but y = -1:
    # w = w0 + lr (y - y_hat) x = [1, -1, 0.5] + 0.1 * (-2) * [2, 1, 1] = [0.6, -1.2, 0.3]
    w0 = np.array([1.0, -1.0, 0.5])
    w, errors = perceptron_train(np.array([[2.0, 1.0, 1.0]]), np.array([-1]), lr=0.1, epochs=1, w0=w0)
    assert_close(w, [0.6, -1.2, 0.3], rtol=1e-15, atol=1e-15, name="w after one update")
    assert errors == [1]
    np.testing.assert_array_equal(w0, [1.0, -1.0, 0.5], err_msg="perceptron_train modified w0")


def test_two_epochs_by_hand_from_zero():
    # epoch 1: x1=[1,0,1], y=-1: score 0 -> +1, wrong: w = 0 - 2*x1 = [-2, 0, -2]
    #          x2=[0,1,1], y=+1: score -2 -> -1, wrong: w = [-2, 0, -2] + 2*x2 = [-2, 2, 0]
    # epoch 2: x1: score -2 -> -1 right; x2: score 2 -> +1 right -> 0 errors, stop.
    X = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    w, errors = perceptron_train(X, np.array([-1, 1]), lr=1.0, epochs=10)
    assert_close(w, [-2.0, 2.0, 0.0], rtol=0, atol=0, name="w after two epochs")
    assert errors == [2, 0], f"expected errors [2, 0] (early stop), got {errors}"


def test_converges_on_separable_data():
    g = np.random.default_rng(0)
    X = g.uniform(-1, 1, (400, 2))
    scores = X @ np.array([1.0, -2.0]) + 0.3
    keep = np.abs(scores) > 0.2  # a margin guarantees convergence
    X, y = add_bias(X[keep]), np.where(scores[keep] > 0, 1, -1)

    w, errors = perceptron_train(X, y, lr=1.0, epochs=100)
    assert errors[-1] == 0, f"expected to reach zero errors within 100 epochs, errors per epoch: {errors}"
    assert all(e > 0 for e in errors[:-1]), "training must stop at the first error-free epoch"
    np.testing.assert_array_equal(perceptron_predict(X, w), y, err_msg="final w must classify every sample")


@pytest.mark.parametrize("dataset", ["truth-table", "blobs"])
def test_never_converges_on_xor(dataset):
    if dataset == "truth-table":
        X, y = add_bias(XOR_X), XOR_Y
    else:
        X, labels = make_xor(40, seed=1)
        X, y = add_bias(X), 2 * labels - 1
    w, errors = perceptron_train(X, y, lr=1.0, epochs=100)
    assert len(errors) == 100, f"XOR is not linearly separable, yet training stopped after {len(errors)} epochs"
    assert min(errors) > 0, f"an epoch without errors on XOR is impossible, got {errors}"


def test_bad_arguments_are_rejected():
    X = add_bias(XOR_X)
    with pytest.raises(ValueError, match="y"):
        perceptron_train(X, np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="y"):
        perceptron_train(X, XOR_Y[:3])
    with pytest.raises(ValueError, match="lr"):
        perceptron_train(X, XOR_Y, lr=0.0)
    with pytest.raises(ValueError, match="epochs"):
        perceptron_train(X, XOR_Y, epochs=0)
    with pytest.raises(ValueError, match="epochs"):
        perceptron_train(X, XOR_Y, epochs=2.5)
    with pytest.raises(ValueError, match="w0"):
        perceptron_train(X, XOR_Y, w0=np.zeros(2))
    with pytest.raises(ValueError, match="X"):
        perceptron_train(XOR_X[0], XOR_Y)
    with pytest.raises(ValueError, match="w"):
        perceptron_predict(X, np.zeros(2))
