"""dlcourse.numpy_ref.functional against torch float64 and finite differences."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import functional as F

from ._helpers import EXTREMES, assert_close, strict_numerics, torch_forward_backward

# name -> (numpy function, numpy derivative, torch function, keyword arguments)
ACTIVATIONS = {
    "sigmoid": (F.sigmoid, F.sigmoid_grad, torch.sigmoid, {}),
    "tanh": (F.tanh, F.tanh_grad, torch.tanh, {}),
    "relu": (F.relu, F.relu_grad, torch.relu, {}),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_grad, TF.leaky_relu, {}),
    "leaky_relu_slope0.2": (F.leaky_relu, F.leaky_relu_grad, TF.leaky_relu, {"negative_slope": 0.2}),
    "elu": (F.elu, F.elu_grad, TF.elu, {}),
    "elu_alpha1.7": (F.elu, F.elu_grad, TF.elu, {"alpha": 1.7}),
}

SHAPES = [(), (7,), (3, 4), (2, 3, 5)]


def inputs(shape, seed):
    """Random inputs of ``shape``, scaled so that both signs and |x| > 5 occur."""
    return 4.0 * np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES)
def test_activation_and_grad_match_torch(name, shape):
    fn, grad_fn, torch_fn, kwargs = ACTIVATIONS[name]
    x = inputs(shape, seed=len(shape))
    dout = np.random.default_rng(100 + len(shape)).standard_normal(shape)
    x_before = x.copy()

    with strict_numerics():
        out = fn(x, **kwargs)
        grad = grad_fn(x, **kwargs)
    expected_out, (expected_dx,) = torch_forward_backward(lambda t: torch_fn(t, **kwargs), [x], dout)

    assert out.dtype == np.float64 and grad.dtype == np.float64
    assert_close(out, expected_out, rtol=1e-12, atol=1e-300, name=f"{name}(x)")
    # atol: 1 - tanh(x)**2 cancels for large |x| in torch as here, so the
    # derivatives agree to ~1e-16 absolutely, not relatively.
    assert_close(dout * grad, expected_dx, rtol=1e-12, atol=1e-15, name=f"dout * {name}_grad(x) vs torch autograd")
    np.testing.assert_array_equal(x, x_before, err_msg=f"{name} modified its input")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_extremes_and_kinks_match_torch(name):
    """|x| up to 1e4 and exactly 0 / -0.0: no warnings, no NaN, torch's values and kink convention."""
    fn, grad_fn, torch_fn, kwargs = ACTIVATIONS[name]
    x = EXTREMES.copy()
    dout = np.random.default_rng(1).uniform(0.5, 2.0, x.shape) * np.random.default_rng(2).choice([-1, 1], x.shape)

    with strict_numerics():
        out = fn(x, **kwargs)
        grad = grad_fn(x, **kwargs)
    expected_out, (expected_dx,) = torch_forward_backward(lambda t: torch_fn(t, **kwargs), [x], dout)

    assert np.isfinite(out).all() and np.isfinite(grad).all(), f"{name}: non-finite values at extremes"
    assert_close(out, expected_out, rtol=1e-12, atol=1e-300, name=f"{name}(extremes)")
    assert_close(dout * grad, expected_dx, rtol=1e-12, atol=1e-300, name=f"{name}_grad(extremes) vs torch")


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_grad_matches_central_differences(name):
    fn, grad_fn, _, kwargs = ACTIVATIONS[name]
    x = inputs((50,), seed=7)
    x = x[np.abs(x) > 1e-3]  # stay away from the kink at 0
    h = 1e-6
    numerical = (fn(x + h, **kwargs) - fn(x - h, **kwargs)) / (2 * h)
    assert_close(grad_fn(x, **kwargs), numerical, rtol=1e-7, atol=1e-9, name=f"{name}_grad vs central differences")


def test_kink_conventions():
    """The derivative chosen at x = 0 is torch's: relu 0, leaky relu the slope, elu alpha."""
    zero = np.array([0.0, -0.0])
    assert_close(F.relu_grad(zero), [0.0, 0.0], rtol=0, atol=0, name="relu_grad(0)")
    assert_close(F.leaky_relu_grad(zero, 0.3), [0.3, 0.3], rtol=0, atol=0, name="leaky_relu_grad(0)")
    assert_close(F.elu_grad(zero, alpha=1.7), [1.7, 1.7], rtol=0, atol=0, name="elu_grad(0)")


def test_known_values():
    assert F.sigmoid(0.0) == 0.5 and F.sigmoid(0.0).shape == ()
    assert_close(F.sigmoid([-1000.0, 1000.0]), [0.0, 1.0], rtol=0, atol=0, name="sigmoid saturation")
    assert_close(F.tanh(1.0), np.tanh(1.0), rtol=0, atol=0, name="tanh(1)")
    assert_close(F.sigmoid_grad(0.0), 0.25, rtol=0, atol=0, name="sigmoid_grad(0)")
    assert_close(F.elu([-1e4]), [-1.0], rtol=0, atol=0, name="elu saturates at -alpha")
    assert F.relu(np.array([-2, 3])).dtype == np.float64, "integer input must give float64 output"


def test_tanh_is_rescaled_sigmoid():
    """The identity tanh(z) = 2 sigmoid(2z) - 1 from the lecture notes."""
    z = inputs((20,), seed=3)
    assert_close(F.tanh(z), 2 * F.sigmoid(2 * z) - 1, rtol=1e-12, atol=1e-15, name="tanh vs 2 sigmoid(2z) - 1")


# ---------------------------------------------------------------------------
# softmax / log_softmax
# ---------------------------------------------------------------------------

SOFTMAX_CASES = [((6,), 0), ((6,), -1), ((4, 7), 0), ((4, 7), 1), ((4, 7), -1), ((2, 3, 5), 0), ((2, 3, 5), 1), ((2, 3, 5), -2)]


@pytest.mark.parametrize("shape, axis", SOFTMAX_CASES)
def test_softmax_and_log_softmax_match_torch(shape, axis):
    x = inputs(shape, seed=11)
    x_before = x.copy()
    with strict_numerics():
        p = F.softmax(x, axis=axis)
        log_p = F.log_softmax(x, axis=axis)
    t = torch.tensor(x)
    assert_close(p, torch.softmax(t, dim=axis).numpy(), rtol=1e-12, atol=1e-300, name=f"softmax axis={axis}")
    assert_close(log_p, torch.log_softmax(t, dim=axis).numpy(), rtol=1e-12, atol=1e-14, name=f"log_softmax axis={axis}")
    assert_close(p.sum(axis=axis), np.ones(np.delete(shape, axis % len(shape))), rtol=1e-14, atol=0, name="softmax sums")
    np.testing.assert_array_equal(x, x_before, err_msg="softmax modified its input")


def test_softmax_huge_logits_match_torch():
    x = np.array(
        [
            [1000.0, -1000.0, 0.0],
            [500.0, 500.0, 499.0],
            [-1000.0, -1000.0, -1000.0],
            [1e4, 1e4 - 1.0, -1e4],
            [0.0, 710.0, -710.0],
        ]
    )
    with strict_numerics():
        p = F.softmax(x)
        log_p = F.log_softmax(x)
        p0 = F.softmax(x, axis=0)
    t = torch.tensor(x)
    assert np.isfinite(p).all() and np.isfinite(log_p).all()
    assert_close(p, torch.softmax(t, dim=-1).numpy(), rtol=1e-12, atol=1e-300, name="softmax(huge)")
    assert_close(log_p, torch.log_softmax(t, dim=-1).numpy(), rtol=1e-12, atol=1e-12, name="log_softmax(huge)")
    assert_close(p0, torch.softmax(t, dim=0).numpy(), rtol=1e-12, atol=1e-300, name="softmax(huge, axis=0)")
    assert log_p[0, 1] == -2000.0, "log_softmax must not go through log(0)"


def test_softmax_is_shift_invariant():
    x = inputs((3, 5), seed=5)
    assert_close(F.softmax(x + 1000.0), F.softmax(x), rtol=1e-12, atol=1e-300, name="softmax(x + 1000)")


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [F.sigmoid, F.tanh, F.relu, F.leaky_relu, F.elu, F.relu_grad, F.softmax])
def test_non_numeric_input_is_rejected(fn):
    with pytest.raises(ValueError, match="x"):
        fn(np.array(["a", "b"]))


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="negative_slope"):
        F.leaky_relu(np.ones(3), negative_slope="0.1")
    with pytest.raises(ValueError, match="negative_slope"):
        F.leaky_relu_grad(np.ones(3), negative_slope=np.nan)
    with pytest.raises(ValueError, match="alpha"):
        F.elu(np.ones(3), alpha=np.inf)
    with pytest.raises(ValueError, match="alpha"):
        F.elu_grad(np.ones(3), alpha=None)


def test_softmax_bad_axis_or_scalar_is_rejected():
    with pytest.raises(ValueError, match="axis"):
        F.softmax(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="axis"):
        F.log_softmax(np.ones((2, 3)), axis=-3)
    with pytest.raises(ValueError, match="axis"):
        F.softmax(np.ones(3), axis=0.0)
    with pytest.raises(ValueError, match="x"):
        F.softmax(1.0)
