"""Inverted dropout: keep probability, scaling, the injected generator, eval identity.

Statistical checks use fixed seeds and 6-sigma bands (failure probability < 1e-8).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import layers
from dlcourse.numpy_ref.gradcheck import numerical_gradient

from ._helpers import assert_close, torch_forward_backward


@pytest.mark.parametrize("keep_prob", [0.2, 0.5, 0.9])
def test_fraction_kept_and_mean_are_right(keep_prob):
    n = 200_000
    x = np.full(n, 2.0)
    out, _ = layers.dropout_forward(x, keep_prob, training=True, rng=np.random.default_rng(0))
    kept = out != 0
    sigma = np.sqrt(keep_prob * (1 - keep_prob) / n)
    assert abs(kept.mean() - keep_prob) < 6 * sigma, f"kept fraction {kept.mean()} vs keep_prob {keep_prob}"
    # inverted dropout: survivors are scaled by 1/keep_prob, so E[out] = x
    assert_close(out[kept], np.full(kept.sum(), 2.0 / keep_prob), rtol=1e-15, atol=0, name="survivor scale")
    assert abs(out.mean() - 2.0) < 6 * 2.0 / keep_prob * sigma, f"mean of out {out.mean()} should be 2"


def test_generator_is_injected_and_reproducible():
    x = np.random.default_rng(1).standard_normal((50, 20))
    a, _ = layers.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(7))
    b, _ = layers.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(7))
    c, _ = layers.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert np.any(a != c)
    # the mask is exactly rng.random(shape) < keep_prob
    expected_mask = np.random.default_rng(7).random(x.shape) < 0.5
    np.testing.assert_array_equal(a != 0, expected_mask)


def test_backward_uses_the_forward_mask_and_matches_torch_autograd():
    g = np.random.default_rng(2)
    x, dout = g.standard_normal((6, 7)), g.standard_normal((6, 7))
    x_before = x.copy()
    keep_prob = 0.6
    out, cache = layers.dropout_forward(x, keep_prob, training=True, rng=np.random.default_rng(3))
    dx = layers.dropout_backward(dout, cache)
    mask = (out != 0).astype(float)
    # torch with the same mask: x * mask / keep_prob
    expected_out, (ex_dx,) = torch_forward_backward(lambda t: t * torch.tensor(mask) / keep_prob, [x], dout)
    assert_close(out, expected_out, rtol=1e-15, atol=0, name="dropout out")
    assert_close(dx, ex_dx, rtol=1e-15, atol=0, name="dropout dx")
    dx_num = numerical_gradient(
        lambda x_: layers.dropout_forward(x_, keep_prob, training=True, rng=np.random.default_rng(3))[0], x, df=dout
    )
    assert_close(dx, dx_num, rtol=1e-8, atol=1e-9, name="dropout dx vs central differences")
    np.testing.assert_array_equal(x, x_before)


def test_torch_dropout_uses_the_same_scaling():
    """torch's p is the drop probability: kept values are x / (1 - p) = x / keep_prob."""
    torch.manual_seed(0)
    x = torch.ones(10_000, dtype=torch.float64)
    out_t = TF.dropout(x, p=0.25, training=True).numpy()
    out, _ = layers.dropout_forward(x.numpy(), 0.75, training=True, rng=np.random.default_rng(0))
    assert set(np.unique(out_t)) == set(np.unique(out)) == {0.0, 1.0 / 0.75}


@pytest.mark.parametrize("training, keep_prob", [(False, 0.5), (True, 1.0)])
def test_identity_cases_do_not_draw(training, keep_prob):
    x = np.random.default_rng(4).standard_normal((3, 4))
    dout = np.random.default_rng(5).standard_normal((3, 4))
    gen = np.random.default_rng(9)
    state = gen.bit_generator.state
    out, cache = layers.dropout_forward(x, keep_prob, training=training, rng=gen)
    np.testing.assert_array_equal(out, x)
    assert out is not x
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)
    assert gen.bit_generator.state == state, "the identity must not consume random numbers"
    layers.dropout_forward(x, 0.5, training=False, rng=None)  # eval needs no generator


def test_dropout_bad_arguments_are_rejected():
    x = np.ones((2, 3))
    for bad in (0.0, -0.1, 1.5, np.nan):
        with pytest.raises(ValueError, match="keep_prob"):
            layers.dropout_forward(x, bad, training=True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng"):
        layers.dropout_forward(x, 0.5, training=True, rng=0)
    with pytest.raises(ValueError, match="training"):
        layers.dropout_forward(x, 0.5, training=None, rng=np.random.default_rng(0))
    _, cache = layers.dropout_forward(x, 0.5, training=True, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="dout"):
        layers.dropout_backward(np.ones((3, 2)), cache)
