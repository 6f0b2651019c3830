"""Initializers: shape (fan_in, fan_out), torch.nn.init's formulas, and the distribution.

Every statistical check uses a fixed seed and a 6-sigma band (a correct
implementation fails with probability < 1e-8); each one fails for a plausible
bug: fans swapped, a missing sqrt(2) or sqrt(3), uniform vs normal.
"""

import math

import numpy as np
import pytest
import torch

from dlcourse.numpy_ref import init

FAN_IN, FAN_OUT = 300, 100  # unequal, so that swapping the fans changes every variance
N = FAN_IN * FAN_OUT

# name -> (our function, kwargs, torch initializer of an (out, in) tensor, expected variance, "uniform"/"normal")
CASES = {
    "xavier_uniform": (init.xavier_uniform, {}, lambda t: torch.nn.init.xavier_uniform_(t), 2 / (FAN_IN + FAN_OUT), "uniform"),
    "xavier_uniform_gain": (init.xavier_uniform, {"gain": 2.0}, lambda t: torch.nn.init.xavier_uniform_(t, gain=2.0), 8 / (FAN_IN + FAN_OUT), "uniform"),
    "xavier_normal": (init.xavier_normal, {}, lambda t: torch.nn.init.xavier_normal_(t), 2 / (FAN_IN + FAN_OUT), "normal"),
    "he_normal": (init.he_normal, {}, lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"), 2 / FAN_IN, "normal"),
    "he_normal_leaky": (init.he_normal, {"a": 0.2}, lambda t: torch.nn.init.kaiming_normal_(t, a=0.2), 2 / (1.04 * FAN_IN), "normal"),
    "he_uniform": (init.he_uniform, {}, lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"), 2 / FAN_IN, "uniform"),
    "fan_in_uniform": (init.fan_in_uniform, {}, lambda t: torch.nn.init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / (3 * FAN_IN), "uniform"),
    "normal": (init.normal, {"std": 0.05}, lambda t: torch.nn.init.normal_(t, 0.0, 0.05), 0.05**2, "normal"),
}


def second_moment_band(values, var, kind):
    """6-sigma band for mean(w**2) around var: Var(w**2) is 2 var**2 (normal) or 4/5 var**2 (uniform)."""
    var_of_square = 2 * var**2 if kind == "normal" else 0.8 * var**2
    return 6 * math.sqrt(var_of_square / values.size)


@pytest.mark.parametrize("name", CASES)
def test_shape_variance_and_distribution(name):
    fn, kwargs, _, var, kind = CASES[name]
    w = fn(FAN_IN, FAN_OUT, rng=np.random.default_rng(0), **kwargs)
    assert w.shape == (FAN_IN, FAN_OUT) and w.dtype == np.float64
    std = math.sqrt(var)
    assert abs(w.mean()) < 6 * std / math.sqrt(N), f"{name}: mean {w.mean()} is not 0"
    m2 = np.mean(w**2)
    assert abs(m2 - var) < second_moment_band(w, var, kind), f"{name}: variance {m2} vs expected {var}"
    # the shape of the distribution: a uniform with this variance ends at sqrt(3) std = 1.73 std,
    # a normal puts 7.2% of its mass beyond 1.8 std
    beyond = np.mean(np.abs(w) > 1.8 * std)
    if kind == "uniform":
        bound = math.sqrt(3 * var)
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > bound * (1 - 1e-3), "the support should reach the bound"
        assert beyond == 0.0
    else:
        p = math.erfc(1.8 / math.sqrt(2))  # P(|z| > 1.8) = 0.0719
        assert abs(beyond - p) < 6 * math.sqrt(p * (1 - p) / N), f"{name}: tail mass {beyond} vs normal {p}"


@pytest.mark.parametrize("name", CASES)
def test_variance_matches_torch_nn_init(name):
    """torch's weight is (fan_out, fan_in); its empirical variance must match ours within the bands."""
    fn, kwargs, torch_init, var, kind = CASES[name]
    torch.manual_seed(0)
    wt = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch_init(wt)
    wt = wt.numpy()
    w = fn(FAN_IN, FAN_OUT, rng=np.random.default_rng(1), **kwargs)
    band = second_moment_band(w, var, kind)
    assert abs(np.mean(wt**2) - np.mean(w**2)) < 2 * band, f"{name}: torch var {np.mean(wt**2)} vs ours {np.mean(w**2)}"
    if kind == "uniform":  # same support
        assert np.abs(w).max() <= np.abs(wt).max() * (1 + 2e-3) and np.abs(wt).max() <= np.abs(w).max() * (1 + 2e-3)


def test_generator_is_injected():
    a = init.he_normal(5, 4, rng=np.random.default_rng(3))
    b = init.he_normal(5, 4, rng=np.random.default_rng(3))
    c = init.he_normal(5, 4, rng=np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert np.any(a != c)


def test_bad_arguments_are_rejected():
    rng = np.random.default_rng(0)
    for fn in (init.xavier_uniform, init.xavier_normal, init.he_normal, init.he_uniform, init.fan_in_uniform):
        with pytest.raises(ValueError, match="fan_in"):
            fn(0, 3, rng=rng)
        with pytest.raises(ValueError, match="fan_out"):
            fn(3, 2.5, rng=rng)
        with pytest.raises(ValueError, match="rng"):
            fn(3, 3, rng=0)
    with pytest.raises(ValueError, match="std"):
        init.normal(3, 3, std=-1.0, rng=rng)
    with pytest.raises(ValueError, match="gain"):
        init.xavier_uniform(3, 3, rng=rng, gain=0.0)
    with pytest.raises(ValueError, match="a"):
        init.he_normal(3, 3, rng=rng, a=-0.1)
