"""Batch norm against torch.nn.functional.batch_norm (float64 autograd) and central differences.

Running statistics are compared with torch's buffers after several steps;
the staged (graph) backward and the simplified closed form must agree.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import layers
from dlcourse.numpy_ref.gradcheck import numerical_gradient

from ._helpers import assert_close, strict_numerics, tensor, torch_forward_backward

BACKWARDS = {"closed_form": layers.batchnorm_backward, "staged": layers.batchnorm_backward_staged}


def bn_case(n, d, seed=0):
    g = np.random.default_rng(seed)
    x = 3.0 * g.standard_normal((n, d)) + g.standard_normal(d)  # per-feature offsets
    gamma = g.uniform(0.5, 2.0, d)
    beta = g.standard_normal(d)
    dout = g.standard_normal((n, d))
    return x, gamma, beta, dout


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("n, d", [(2, 1), (7, 4), (32, 5)])
def test_batchnorm_matches_torch(backward, training, n, d):
    x, gamma, beta, dout = bn_case(n, d, seed=n)
    g = np.random.default_rng(100 + n)
    rm, rv = g.standard_normal(d), g.uniform(0.5, 2.0, d)
    momentum, eps = 0.3, 1e-3
    copies = [a.copy() for a in (x, gamma, beta, dout)]
    rm_t, rv_t = tensor(rm), tensor(rv)

    out, cache = layers.batchnorm_forward(x, gamma, beta, rm, rv, training=training, momentum=momentum, eps=eps)
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    expected_out, (ex_dx, ex_dgamma, ex_dbeta) = torch_forward_backward(
        lambda xt, gt, bt: TF.batch_norm(xt, rm_t, rv_t, gt, bt, training=training, momentum=momentum, eps=eps),
        [x, gamma, beta],
        dout,
    )
    assert_close(out, expected_out, rtol=1e-12, atol=1e-13, name="batchnorm out")
    assert_close(dx, ex_dx, rtol=1e-10, atol=1e-12, name=f"batchnorm dx ({backward})")
    assert_close(dgamma, ex_dgamma, rtol=1e-11, atol=1e-12, name="batchnorm dgamma")
    assert_close(dbeta, ex_dbeta, rtol=1e-12, atol=1e-13, name="batchnorm dbeta")
    assert_close(rm, rm_t.numpy(), rtol=1e-13, atol=1e-14, name="running_mean")
    assert_close(rv, rv_t.numpy(), rtol=1e-13, atol=1e-14, name="running_var")
    for before, after, name in zip(copies, (x, gamma, beta, dout), ("x", "gamma", "beta", "dout")):
        np.testing.assert_array_equal(after, before, err_msg=f"batchnorm modified {name}")


def test_running_statistics_follow_batchnorm1d_over_many_steps():
    """Unbiased variance in the running average, momentum weighting the new batch."""
    d = 3
    module = torch.nn.BatchNorm1d(d, momentum=0.2, eps=1e-5, dtype=torch.float64)
    gamma, beta = module.weight.detach().numpy().copy(), module.bias.detach().numpy().copy()
    rm, rv = np.zeros(d), np.ones(d)
    g = np.random.default_rng(3)
    for step in range(6):
        x = g.standard_normal((5 + step, d)) * (1 + step) + step
        layers.batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.2)
        module.train()
        module(tensor(x))
        assert_close(rm, module.running_mean.numpy(), rtol=1e-13, atol=1e-14, name=f"running_mean step {step}")
        assert_close(rv, module.running_var.numpy(), rtol=1e-13, atol=1e-14, name=f"running_var step {step}")
    x = g.standard_normal((4, d))
    module.eval()
    out, _ = layers.batchnorm_forward(x, gamma, beta, rm, rv, training=False, momentum=0.2)
    assert_close(out, module(tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-13, name="eval out")


def test_running_variance_known_value_is_unbiased():
    x = np.array([[0.0], [2.0]])  # biased var 1, unbiased var 2
    rm, rv = np.zeros(1), np.ones(1)
    out, _ = layers.batchnorm_forward(x, np.ones(1), np.zeros(1), rm, rv, training=True, momentum=0.5, eps=1e-12)
    assert_close(out, [[-1.0], [1.0]], rtol=1e-10, atol=0, name="normalized with the biased variance")
    assert_close(rm, [0.5], rtol=0, atol=0, name="running_mean = 0.5*0 + 0.5*1")
    assert_close(rv, [1.5], rtol=0, atol=1e-15, name="running_var = 0.5*1 + 0.5*2 (unbiased)")


def test_eval_mode_leaves_running_statistics_unchanged():
    x, gamma, beta, _ = bn_case(6, 3)
    rm, rv = np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 3.0])
    layers.batchnorm_forward(x, gamma, beta, rm, rv, training=False)
    np.testing.assert_array_equal(rm, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(rv, [1.0, 2.0, 3.0])


@pytest.mark.parametrize("backward", BACKWARDS)
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_central_differences(backward, training):
    x, gamma, beta, dout = bn_case(6, 4, seed=11)
    rm0, rv0 = np.zeros(4), np.full(4, 1.5)

    def fwd(x_, g_, b_):  # fresh running buffers each call: numerical_gradient calls it many times
        return layers.batchnorm_forward(x_, g_, b_, rm0.copy(), rv0.copy(), training=training)[0]

    _, cache = layers.batchnorm_forward(x, gamma, beta, rm0.copy(), rv0.copy(), training=training)
    dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    assert_close(dx, numerical_gradient(lambda a: fwd(a, gamma, beta), x, df=dout), rtol=1e-6, atol=1e-8, name="dx")
    assert_close(dgamma, numerical_gradient(lambda a: fwd(x, a, beta), gamma, df=dout), rtol=1e-6, atol=1e-8, name="dgamma")
    assert_close(dbeta, numerical_gradient(lambda a: fwd(x, gamma, a), beta, df=dout), rtol=1e-6, atol=1e-8, name="dbeta")


def test_staged_and_closed_form_backward_agree():
    x, gamma, beta, dout = bn_case(64, 10, seed=5)
    _, cache = layers.batchnorm_forward(x, gamma, beta, np.zeros(10), np.ones(10), training=True)
    closed = layers.batchnorm_backward(dout, cache)
    staged = layers.batchnorm_backward_staged(dout, cache)
    for a, b, name in zip(closed, staged, ("dx", "dgamma", "dbeta")):
        assert_close(a, b, rtol=1e-11, atol=1e-13, name=f"closed form vs staged {name}")


def test_training_gradient_sums_to_zero_per_feature():
    """Shifting every sample of a feature by a constant does not change the output."""
    x, gamma, beta, dout = bn_case(9, 3, seed=2)
    _, cache = layers.batchnorm_forward(x, gamma, beta, np.zeros(3), np.ones(3), training=True)
    dx, _, _ = layers.batchnorm_backward(dout, cache)
    assert_close(dx.sum(axis=0), np.zeros(3), rtol=0, atol=1e-12, name="sum_n dx")


@pytest.mark.parametrize("backward", BACKWARDS)
def test_zero_variance_feature_stays_finite(backward):
    x = np.column_stack([np.full(5, 3.0), np.arange(5.0)])  # feature 0 is constant
    gamma, beta, dout = np.array([2.0, 1.0]), np.array([0.5, -0.5]), np.random.default_rng(0).standard_normal((5, 2))
    rm, rv = np.zeros(2), np.ones(2)
    with strict_numerics():
        out, cache = layers.batchnorm_forward(x, gamma, beta, rm, rv, training=True)
        dx, dgamma, dbeta = BACKWARDS[backward](dout, cache)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    assert_close(out[:, 0], np.full(5, 0.5), rtol=0, atol=1e-12, name="constant feature -> beta")
    expected_out, (ex_dx, _, _) = torch_forward_backward(
        lambda xt, gt, bt: TF.batch_norm(xt, None, None, gt, bt, training=True), [x, gamma, beta], dout
    )
    assert_close(out, expected_out, rtol=1e-12, atol=1e-12, name="out with a constant feature")
    assert_close(dx, ex_dx, rtol=1e-9, atol=1e-9, name="dx with a constant feature")


def test_batchnorm_bad_arguments_are_rejected():
    x, gamma, beta, _ = bn_case(4, 3)
    rm, rv = np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="x"):
        layers.batchnorm_forward(x[0], gamma, beta, rm, rv, training=True)
    with pytest.raises(ValueError, match="gamma"):
        layers.batchnorm_forward(x, gamma[:2], beta, rm, rv, training=True)
    with pytest.raises(ValueError, match="beta"):
        layers.batchnorm_forward(x, gamma, beta[None], rm, rv, training=True)
    with pytest.raises(ValueError, match="running_mean"):
        layers.batchnorm_forward(x, gamma, beta, np.zeros(4), rv, training=True)
    with pytest.raises(ValueError, match="running_var"):
        layers.batchnorm_forward(x, gamma, beta, rm, [1.0, 1.0, 1.0], training=True)
    with pytest.raises(ValueError, match="momentum"):
        layers.batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="eps"):
        layers.batchnorm_forward(x, gamma, beta, rm, rv, training=True, eps=0.0)
    with pytest.raises(ValueError, match="x"):
        layers.batchnorm_forward(x[:1], gamma, beta, rm, rv, training=True)
    with pytest.raises(ValueError, match="training"):
        layers.batchnorm_forward(x, gamma, beta, rm, rv, training="yes")
    _, cache = layers.batchnorm_forward(x, gamma, beta, rm, rv, training=True)
    with pytest.raises(ValueError, match="dout"):
        layers.batchnorm_backward(np.zeros((3, 4)), cache)
    with pytest.raises(ValueError, match="dout"):
        layers.batchnorm_backward_staged(np.zeros((3, 4)), cache)
