"""dlcourse.numpy_ref.layers against torch float64 autograd and numerical gradients.

Every backward pass is driven by a random upstream gradient ``dout`` (never all
ones, which would hide a transposed or mis-summed gradient).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import layers
from dlcourse.numpy_ref.gradcheck import numerical_gradient

from ._helpers import EXTREMES, assert_close, strict_numerics, torch_forward_backward


def rng(seed):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# affine
# ---------------------------------------------------------------------------

AFFINE_SHAPES = [(1, 1, 1), (4, 5, 3), (10, 3, 7)]


def affine_case(n, d_in, d_out, seed=0):
    g = rng(seed)
    x = g.standard_normal((n, d_in))
    w = g.standard_normal((d_in, d_out))
    b = g.standard_normal(d_out)
    dout = g.standard_normal((n, d_out))
    return x, w, b, dout


@pytest.mark.parametrize("n, d_in, d_out", AFFINE_SHAPES)
def test_affine_matches_torch(n, d_in, d_out):
    x, w, b, dout = affine_case(n, d_in, d_out)
    copies = [a.copy() for a in (x, w, b, dout)]

    out, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)
    expected_out, (ex_dx, ex_dw, ex_db) = torch_forward_backward(
        lambda xt, wt, bt: TF.linear(xt, wt.T, bt), [x, w, b], dout
    )

    assert_close(out, expected_out, rtol=1e-12, atol=1e-14, name="affine out")
    assert_close(dx, ex_dx, rtol=1e-12, atol=1e-14, name="affine dx")
    assert_close(dw, ex_dw, rtol=1e-12, atol=1e-14, name="affine dw")
    assert_close(db, ex_db, rtol=1e-12, atol=1e-14, name="affine db")
    for before, after, name in zip(copies, (x, w, b, dout), ("x", "w", "b", "dout")):
        np.testing.assert_array_equal(after, before, err_msg=f"affine modified {name}")


@pytest.mark.parametrize("n, d_in, d_out", AFFINE_SHAPES)
def test_affine_matches_numerical_gradient(n, d_in, d_out):
    x, w, b, dout = affine_case(n, d_in, d_out, seed=1)
    _, cache = layers.affine_forward(x, w, b)
    dx, dw, db = layers.affine_backward(dout, cache)

    dx_num = numerical_gradient(lambda x_: layers.affine_forward(x_, w, b)[0], x, df=dout)
    dw_num = numerical_gradient(lambda w_: layers.affine_forward(x, w_, b)[0], w, df=dout)
    db_num = numerical_gradient(lambda b_: layers.affine_forward(x, w, b_)[0], b, df=dout)
    assert_close(dx, dx_num, rtol=1e-8, atol=1e-9, name="affine dx vs central differences")
    assert_close(dw, dw_num, rtol=1e-8, atol=1e-9, name="affine dw vs central differences")
    assert_close(db, db_num, rtol=1e-8, atol=1e-9, name="affine db vs central differences")


def test_affine_known_values():
    x = np.array([[1.0, 2.0]])
    w = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    b = np.array([0.5, 0.0, 1.0])
    out, cache = layers.affine_forward(x, w, b)
    assert_close(out, [[5.5, 2.0, 0.0]], rtol=0, atol=0, name="x @ w + b")
    dx, dw, db = layers.affine_backward(np.array([[1.0, -1.0, 2.0]]), cache)
    assert_close(dx, [[-1.0, 1.0]], rtol=0, atol=0, name="dout @ w.T")
    assert_close(dw, [[1.0, -1.0, 2.0], [2.0, -2.0, 4.0]], rtol=0, atol=0, name="x.T @ dout")
    assert_close(db, [1.0, -1.0, 2.0], rtol=0, atol=0, name="dout summed over the batch")


def test_affine_bad_shapes_are_rejected():
    x, w, b, _ = affine_case(4, 5, 3)
    with pytest.raises(ValueError, match="x"):
        layers.affine_forward(x[0], w, b)
    with pytest.raises(ValueError, match="w"):
        layers.affine_forward(x, w.T, b)
    with pytest.raises(ValueError, match="w"):
        layers.affine_forward(x, w[0], b)
    with pytest.raises(ValueError, match="b"):
        layers.affine_forward(x, w, b[:2])
    with pytest.raises(ValueError, match="b"):
        layers.affine_forward(x, w, b[None, :])
    _, cache = layers.affine_forward(x, w, b)
    with pytest.raises(ValueError, match="dout"):
        layers.affine_backward(np.zeros((4, 5)), cache)


# ---------------------------------------------------------------------------
# activation layers
# ---------------------------------------------------------------------------

# name -> (forward, backward, torch function, keyword arguments)
ACTIVATION_LAYERS = {
    "relu": (layers.relu_forward, layers.relu_backward, torch.relu, {}),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward, torch.sigmoid, {}),
    "tanh": (layers.tanh_forward, layers.tanh_backward, torch.tanh, {}),
    "leaky_relu": (layers.leaky_relu_forward, layers.leaky_relu_backward, TF.leaky_relu, {}),
    "leaky_relu_slope0.3": (layers.leaky_relu_forward, layers.leaky_relu_backward, TF.leaky_relu, {"negative_slope": 0.3}),
    "elu": (layers.elu_forward, layers.elu_backward, TF.elu, {}),
    "elu_alpha0.5": (layers.elu_forward, layers.elu_backward, TF.elu, {"alpha": 0.5}),
}


@pytest.mark.parametrize("name", ACTIVATION_LAYERS)
@pytest.mark.parametrize("shape", [(5,), (4, 6), (2, 3, 4)])
def test_activation_layer_matches_torch(name, shape):
    forward, backward, torch_fn, kwargs = ACTIVATION_LAYERS[name]
    x = 3 * rng(len(shape)).standard_normal(shape)
    x.flat[:3] = [0.0, 1000.0, -1000.0]  # a kink and the extremes, in every shape
    dout = rng(10 + len(shape)).standard_normal(shape)
    x_before, dout_before = x.copy(), dout.copy()

    with strict_numerics():
        out, cache = forward(x, **kwargs)
        dx = backward(dout, cache)
    expected_out, (expected_dx,) = torch_forward_backward(lambda t: torch_fn(t, **kwargs), [x], dout)

    assert_close(out, expected_out, rtol=1e-12, atol=1e-300, name=f"{name}_forward")
    assert_close(dx, expected_dx, rtol=1e-12, atol=1e-15, name=f"{name}_backward dx")
    np.testing.assert_array_equal(x, x_before, err_msg=f"{name}_forward modified x")
    np.testing.assert_array_equal(dout, dout_before, err_msg=f"{name}_backward modified dout")


@pytest.mark.parametrize("name", ACTIVATION_LAYERS)
def test_activation_layer_extremes_match_torch(name):
    forward, backward, torch_fn, kwargs = ACTIVATION_LAYERS[name]
    x = EXTREMES.reshape(3, 6)
    dout = rng(4).standard_normal(x.shape)
    with strict_numerics():
        out, cache = forward(x, **kwargs)
        dx = backward(dout, cache)
    expected_out, (expected_dx,) = torch_forward_backward(lambda t: torch_fn(t, **kwargs), [x], dout)
    assert_close(out, expected_out, rtol=1e-12, atol=1e-300, name=f"{name}_forward(extremes)")
    assert_close(dx, expected_dx, rtol=1e-12, atol=1e-300, name=f"{name}_backward(extremes)")


@pytest.mark.parametrize("name", ACTIVATION_LAYERS)
def test_activation_layer_matches_numerical_gradient(name):
    forward, backward, _, kwargs = ACTIVATION_LAYERS[name]
    x = rng(5).uniform(0.1, 3.0, (4, 5)) * rng(6).choice([-1.0, 1.0], (4, 5))  # away from the kink
    dout = rng(7).standard_normal(x.shape)
    _, cache = forward(x, **kwargs)
    dx = backward(dout, cache)
    dx_num = numerical_gradient(lambda x_: forward(x_, **kwargs)[0], x, df=dout)
    assert_close(dx, dx_num, rtol=1e-7, atol=1e-9, name=f"{name}_backward vs central differences")


def test_two_layer_chain_matches_torch():
    """affine -> relu -> affine, backpropagated by hand, against autograd."""
    g = rng(8)
    x, w1, b1 = g.standard_normal((6, 4)), g.standard_normal((4, 5)), g.standard_normal(5)
    w2, b2 = g.standard_normal((5, 3)), g.standard_normal(3)
    dout = g.standard_normal((6, 3))

    h, cache1 = layers.affine_forward(x, w1, b1)
    a, cache2 = layers.relu_forward(h)
    out, cache3 = layers.affine_forward(a, w2, b2)
    da, dw2, db2 = layers.affine_backward(dout, cache3)
    dx, dw1, db1 = layers.affine_backward(layers.relu_backward(da, cache2), cache1)

    def net(xt, w1t, b1t, w2t, b2t):
        return torch.relu(xt @ w1t + b1t) @ w2t + b2t

    expected_out, expected = torch_forward_backward(net, [x, w1, b1, w2, b2], dout)
    assert_close(out, expected_out, rtol=1e-12, atol=1e-13, name="two-layer out")
    for got, want, name in zip((dx, dw1, db1, dw2, db2), expected, ("dx", "dw1", "db1", "dw2", "db2")):
        assert_close(got, want, rtol=1e-11, atol=1e-13, name=f"two-layer {name}")


@pytest.mark.parametrize("name", ACTIVATION_LAYERS)
def test_activation_backward_rejects_wrong_dout_shape(name):
    forward, backward, _, kwargs = ACTIVATION_LAYERS[name]
    _, cache = forward(np.ones((2, 3)), **kwargs)
    with pytest.raises(ValueError, match="dout"):
        backward(np.ones((3, 2)), cache)


def test_activation_hyperparameters_are_validated():
    with pytest.raises(ValueError, match="negative_slope"):
        layers.leaky_relu_forward(np.ones(3), negative_slope="big")
    with pytest.raises(ValueError, match="alpha"):
        layers.elu_forward(np.ones(3), alpha=np.nan)


# ---------------------------------------------------------------------------
# typed caches: one NamedTuple per layer, read by name, still unpacking in the old order
# ---------------------------------------------------------------------------

CACHE_CASES = {
    "affine": (lambda: layers.affine_forward(np.ones((2, 3)), np.ones((3, 4)), np.zeros(4)),
               layers.AffineCache, ("x", "w", "b")),
    "relu": (lambda: layers.relu_forward(np.ones((2, 3))), layers.ReLUCache, ("x",)),
    "sigmoid": (lambda: layers.sigmoid_forward(np.ones((2, 3))), layers.SigmoidCache, ("x",)),
    "tanh": (lambda: layers.tanh_forward(np.ones((2, 3))), layers.TanhCache, ("x",)),
    "leaky_relu": (lambda: layers.leaky_relu_forward(np.ones((2, 3)), 0.2), layers.LeakyReLUCache,
                   ("x", "negative_slope")),
    "elu": (lambda: layers.elu_forward(np.ones((2, 3)), 0.5), layers.ELUCache, ("x", "alpha")),
    "batchnorm": (lambda: layers.batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), np.zeros(2),
                                                   np.ones(2), training=True),
                  layers.BatchNormCache, ("training", "x_hat", "xmu", "var", "inv_std", "gamma", "eps")),
    "dropout": (lambda: layers.dropout_forward(np.ones((2, 3)), 0.5, training=True, rng=rng(0)),
                layers.DropoutCache, ("mask", "shape")),
}


@pytest.mark.parametrize("name", CACHE_CASES)
def test_caches_are_named_tuples_with_documented_fields(name):
    forward, cache_type, fields = CACHE_CASES[name]
    _, cache = forward()
    assert type(cache) is cache_type and isinstance(cache, tuple)
    assert cache_type._fields == fields, "field order is part of the API: caches unpack positionally"
    assert not cache_type.__doc__.startswith(f"{cache_type.__name__}("), "a docstring of its own, naming the fields"


def test_affine_and_parametrised_caches_unpack_positionally():
    x, w, b = np.ones((2, 3)), np.full((3, 4), 2.0), np.zeros(4)
    _, cache = layers.affine_forward(x, w, b)
    cx, cw, cb = cache
    assert cx is cache.x and cw is cache.w and cb is cache.b
    _, (cx, slope) = layers.leaky_relu_forward(x, 0.3)
    assert slope == 0.3 and cx.shape == x.shape
    _, (cx, alpha) = layers.elu_forward(x, 2.0)
    assert alpha == 2.0


@pytest.mark.parametrize("training, keep_prob", [(True, 0.5), (True, 1.0), (False, 0.5)])
def test_dropout_cache_holds_the_scaled_mask_and_the_shape(training, keep_prob):
    x = np.ones((4, 5))
    out, cache = layers.dropout_forward(x, keep_prob, training=training, rng=rng(1))
    mask, shape = cache
    assert shape == x.shape == cache.shape
    if training and keep_prob < 1:
        assert_close(out, x * cache.mask, rtol=0, atol=0, name="out = x * mask")
        assert set(np.unique(mask)) <= {0.0, 1.0 / keep_prob}
    else:
        assert mask is None, "nothing dropped: no mask, dx = dout"


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_cache_fields(training):
    x = rng(2).standard_normal((5, 3))
    rv = np.full(3, 2.0)
    _, cache = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), np.zeros(3), rv, training=training, eps=1e-3)
    assert cache.training is training and cache.eps == 1e-3
    assert_close(cache.inv_std, 1.0 / np.sqrt(cache.var + 1e-3), rtol=1e-15, atol=0, name="inv_std")
    assert_close(cache.x_hat, cache.xmu * cache.inv_std, rtol=1e-15, atol=0, name="x_hat")
    if not training:
        assert_close(cache.var, rv, rtol=0, atol=0, name="eval var = running_var")
        assert cache.var is not rv, "a copy: later running-statistics updates must not change the cache"


def test_layers_reexports_the_split_modules():
    from dlcourse.numpy_ref import batchnorm, dropout

    assert layers.batchnorm_forward is batchnorm.batchnorm_forward
    assert layers.batchnorm_backward_staged is batchnorm.batchnorm_backward_staged
    assert layers.dropout_backward is dropout.dropout_backward
    assert set(layers.__all__) >= {"batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward"}
    assert all(hasattr(layers, name) for name in layers.__all__)
