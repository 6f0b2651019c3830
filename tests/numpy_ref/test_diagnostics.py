"""dlcourse.numpy_ref.diagnostics: the traced MLP pass against torch float64 autograd
(retain_grad on every intermediate) and central differences; layer_stats and dead_units."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import diagnostics as D
from dlcourse.numpy_ref.gradcheck import numerical_gradient

from ._helpers import assert_close

TORCH_ACT = {
    "relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "leaky_relu": lambda t: TF.leaky_relu(t, 0.01), "elu": TF.elu, "identity": lambda t: t,
}
RTOL, ATOL = 1e-7, 1e-12


def make_net(dims, seed):
    g = np.random.default_rng(seed)
    X = g.standard_normal((7, dims[0]))
    ws = [g.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(dims[:-1], dims[1:])]
    bs = [0.1 * g.standard_normal(b) for b in dims[1:]]
    return g, X, ws, bs


def torch_trace(X, ws, bs, activation, *, labels=None, dout=None):
    """Oracle: the same network in torch float64, intermediates kept with retain_grad."""
    Wt = [torch.tensor(w, requires_grad=True) for w in ws]
    Bt = [torch.tensor(b, requires_grad=True) for b in bs]
    n_hidden = len(ws) - 1 if labels is not None else len(ws)
    h = torch.tensor(X)
    pre, post = [], []
    for k in range(n_hidden):
        a = h @ Wt[k] + Bt[k]
        h = TORCH_ACT[activation](a)
        a.retain_grad()
        h.retain_grad()
        pre.append(a)
        post.append(h)
    if labels is not None:
        out = h @ Wt[-1] + Bt[-1]
        loss = TF.cross_entropy(out, torch.tensor(labels))
        loss.backward()
    else:
        out, loss = h, None
        h.backward(torch.tensor(dout))
    return dict(
        pre=[t.detach().numpy() for t in pre], post=[t.detach().numpy() for t in post],
        grad_pre=[t.grad.numpy() for t in pre], grad_post=[t.grad.numpy() for t in post],
        grad_w=[t.grad.numpy() for t in Wt], grad_b=[t.grad.numpy() for t in Bt],
        out=out.detach().numpy(), loss=None if loss is None else loss.item(),
    )


def compare(trace, oracle):
    for name, ours, theirs in [
        ("pre_activations", trace.pre_activations, oracle["pre"]),
        ("activations", trace.activations, oracle["post"]),
        ("grad_pre_activations", trace.grad_pre_activations, oracle["grad_pre"]),
        ("grad_activations", trace.grad_activations, oracle["grad_post"]),
        ("grad_weights", trace.grad_weights, oracle["grad_w"]),
        ("grad_biases", trace.grad_biases, oracle["grad_b"]),
    ]:
        assert len(ours) == len(theirs), f"{name}: expected {len(theirs)} layers, got {len(ours)}"
        for k, (a, b) in enumerate(zip(ours, theirs)):
            assert_close(a, b, rtol=RTOL, atol=ATOL, name=f"{name}[{k}]")
    assert_close(trace.output, oracle["out"], rtol=RTOL, atol=ATOL, name="output")


@pytest.mark.parametrize("activation", sorted(D.ACTIVATIONS))
@pytest.mark.parametrize("dims", [(5, 6, 4, 3), (3, 2)])
def test_classifier_mode_matches_torch(activation, dims):
    g, X, ws, bs = make_net(dims, seed=len(dims))
    labels = g.integers(0, dims[-1], size=X.shape[0])
    trace = D.mlp_trace(X, ws, bs, activation=activation, labels=labels)
    oracle = torch_trace(X, ws, bs, activation, labels=labels)
    assert trace.num_hidden == len(dims) - 2
    compare(trace, oracle)
    assert trace.loss == pytest.approx(oracle["loss"], rel=1e-12), (
        f"loss: expected {oracle['loss']!r}, got {trace.loss!r}")


@pytest.mark.parametrize("activation", sorted(D.ACTIVATIONS))
def test_dout_mode_matches_torch(activation):
    g, X, ws, bs = make_net((4, 5, 6, 3), seed=11)
    dout = g.standard_normal((X.shape[0], 3))        # random upstream gradient, never all ones
    trace = D.mlp_trace(X, ws, bs, activation=activation, dout=dout)
    compare(trace, torch_trace(X, ws, bs, activation, dout=dout))
    assert trace.num_hidden == 3 and trace.loss is None


def test_weight_gradients_match_central_differences():
    g, X, ws, bs = make_net((4, 5, 3), seed=3)
    labels = g.integers(0, 3, size=X.shape[0])
    trace = D.mlp_trace(X, ws, bs, activation="tanh", labels=labels)
    for k in range(len(ws)):
        def f(w_k, k=k):
            new = list(ws)
            new[k] = w_k
            return D.mlp_trace(X, new, bs, activation="tanh", labels=labels).loss
        assert_close(trace.grad_weights[k], numerical_gradient(f, ws[k]), rtol=1e-6, atol=1e-9,
                     name=f"grad_weights[{k}] vs central differences")


def test_zero_biases_by_default_and_inputs_untouched():
    g, X, ws, bs = make_net((4, 5, 3), seed=5)
    dout = g.standard_normal((X.shape[0], 3))
    copies = [X.copy()] + [w.copy() for w in ws]
    t0 = D.mlp_trace(X, ws, None, activation="relu", dout=dout)
    t1 = D.mlp_trace(X, ws, [np.zeros(5), np.zeros(3)], activation="relu", dout=dout)
    for k in range(2):
        assert_close(t0.grad_weights[k], t1.grad_weights[k], rtol=0, atol=0, name=f"grad_weights[{k}]")
    for orig, now in zip(copies, [X] + ws):
        assert np.array_equal(orig, now), "an input was modified"


@pytest.mark.parametrize("kwargs, match", [
    (dict(activation="softplus", dout=np.zeros((2, 3))), "activation"),
    (dict(activation="tanh"), "exactly one"),
    (dict(activation="tanh", labels=np.zeros(2, int), dout=np.zeros((2, 3))), "exactly one"),
    (dict(activation="tanh", dout=np.zeros((2, 4))), "dout"),
    (dict(activation="tanh", labels=np.zeros(3, int)), "labels"),
    (dict(activation="tanh", labels=np.array([0, 7])), "labels"),
])
def test_mlp_trace_bad_arguments(kwargs, match):
    X = np.ones((2, 4))
    ws = [np.ones((4, 5)), np.ones((5, 3))]
    with pytest.raises(ValueError, match=match):
        D.mlp_trace(X, ws, **kwargs)


@pytest.mark.parametrize("X, ws, bs, match", [
    (np.ones(4), [np.ones((4, 3))], None, "X"),
    (np.ones((2, 4)), [], None, "weights"),
    (np.ones((2, 4)), np.ones((4, 3)), None, "weights"),
    (np.ones((2, 4)), [np.ones((4, 3)), np.ones((4, 2))], None, r"weights\[1\]"),
    (np.ones((2, 4)), [np.ones((4, 3))], [np.ones(4)], r"biases\[0\]"),
    (np.ones((2, 4)), [np.ones((4, 3))], [np.ones(3), np.ones(3)], "biases"),
])
def test_mlp_trace_bad_shapes(X, ws, bs, match):
    with pytest.raises(ValueError, match=match):
        D.mlp_trace(X, ws, bs, activation="tanh", dout=np.ones((2, 3)))


def test_layer_stats_values():
    a = np.array([[0.0, 1.0], [2.0, -3.0]])
    b = np.array([0.5, 0.0, 0.0, -0.5])
    s = D.layer_stats([a, b])
    expected = {
        "mean": [0.0, 0.0], "std": [np.std(a), np.std(b)],
        "abs_mean": [1.5, 0.25], "fraction_zero": [0.25, 0.5],
    }
    assert set(s) == set(expected)
    for key, want in expected.items():
        assert_close(s[key], np.array(want), rtol=1e-15, atol=0, name=f"layer_stats[{key!r}]")


@pytest.mark.parametrize("values", [[], np.ones((2, 3)), [np.ones(2), np.array([])], [np.array(["a"])]])
def test_layer_stats_bad_input(values):
    with pytest.raises(ValueError, match="values"):
        D.layer_stats(values)


def test_dead_units():
    h1 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    h2 = np.array([[-1.0, 2.0], [-0.5, -3.0], [0.0, 0.1]])
    masks = D.dead_units([h1, h2])
    assert [m.tolist() for m in masks] == [[True, False, True], [True, False]]
    with pytest.raises(ValueError, match="values"):
        D.dead_units([np.ones(3)])


def test_dead_units_get_zero_weight_gradient():
    g = np.random.default_rng(0)
    X = g.standard_normal((20, 6))
    ws = [g.standard_normal((6, 8)), g.standard_normal((8, 3))]
    bs = [np.r_[-100.0, -100.0, np.zeros(6)], np.zeros(3)]       # two units pushed far negative
    trace = D.mlp_trace(X, ws, bs, activation="relu", labels=g.integers(0, 3, 20))
    dead = D.dead_units(trace.activations)[0]
    assert dead[:2].all(), "units with bias -100 must be dead"
    assert np.all(trace.grad_weights[0][:, dead] == 0.0), "a dead unit's incoming weights got a gradient"
    assert np.all(trace.grad_weights[1][dead, :] == 0.0), "a dead unit's outgoing weights got a gradient"
