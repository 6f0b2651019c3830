"""The student edition's replacement modules (dlcourse/edition/overrides/) against the instructor's.

The student edition ships ``dlcourse/numpy_ref/models.py`` and ``diagnostics.py`` rewritten on torch
autograd, because the instructor's versions are built from the withheld numpy layers.  Each override
is loaded here under a module name of its own and compared with the instructor's module: the same
API and error messages, bit-identical initial weights, the same dropout masks (the same draws from
``dropout_rng``) and batch-norm running statistics, and the same losses, gradients, training
histories and traces up to rounding.  Importing an override must not import torch, and an override
may import no withheld name.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import inspect
import pkgutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import dlcourse
from dlcourse.edition.build import withheld_definitions
from dlcourse.numpy_ref import diagnostics as instructor_diagnostics
from dlcourse.numpy_ref import models as instructor_models

ROOT = Path(__file__).resolve().parents[1]
OVERRIDES = ROOT / "dlcourse" / "edition" / "overrides" / "numpy_ref"
MODULE_NAMES = {"models.py": "dlcourse_edition_models", "diagnostics.py": "dlcourse_edition_diagnostics"}

RTOL = 1e-10  # relative, elementwise
ATOL_FACTOR = 1e-12  # absolute tolerance = ATOL_FACTOR * the largest magnitude of the compared quantity
HISTORY_RTOL = 1e-9

ACTIVATIONS = ["relu", "leaky_relu", "elu", "tanh", "sigmoid"]
INITS = ["he", "he_normal", "he_uniform", "xavier", "xavier_normal", "xavier_uniform", "fan_in_uniform", 0.3]

def _withheld_by_module() -> dict[str, set[str]]:
    """The names the student edition withholds with every assignment open, by module: derived as the
    edition derives them (``withheld_definitions``), plus every re-export of a withheld definition
    (``dlcourse.torch_ref.Adam``, ``dlcourse.numpy_ref.layers.batchnorm_forward``), so the list cannot
    fall behind the package."""
    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir())
    closure, _ = withheld_definitions(ROOT, ROOT / "dlcourse", assignments)
    by_module: dict[str, set[str]] = defaultdict(set)
    for module, name in closure:
        by_module[module].add(name)
    for info in pkgutil.walk_packages(dlcourse.__path__, "dlcourse."):
        if not info.name.startswith(("dlcourse.numpy_ref", "dlcourse.torch_ref", "dlcourse.demos")):
            continue
        for name, obj in vars(importlib.import_module(info.name)).items():
            if (getattr(obj, "__module__", None), getattr(obj, "__name__", None)) in closure:
                by_module[info.name].add(name)
    return dict(by_module)


#: the names the student edition withholds (all assignments open), by module
WITHHELD = _withheld_by_module()


def _load(filename: str):
    name = MODULE_NAMES[filename]
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, OVERRIDES / filename)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up in sys.modules
    dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # keep overrides/ plain
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = dont_write_bytecode
    return module


@pytest.fixture(scope="module")
def edition_models():
    return _load("models.py")


@pytest.fixture(scope="module")
def edition_diagnostics():
    return _load("diagnostics.py")


# -- comparisons whose failure names the worst element ---------------------------------------------


def _worst(bad_score: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(np.argmax(bad_score), bad_score.shape))


def assert_identical(actual, expected, what: str) -> None:
    """Bit-for-bit equality (same shape, same dtype kind, every element equal)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {actual.shape}"
    assert actual.dtype == expected.dtype, f"{what}: expected dtype {expected.dtype}, got {actual.dtype}"
    differ = actual != expected
    if differ.any():
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        i = _worst(np.where(differ, np.nan_to_num(diff, nan=np.inf), -1.0))
        raise AssertionError(f"{what}: expected bit-identical arrays, {int(differ.sum())} of {differ.size} "
                             f"element(s) differ; worst at {i}: expected {expected[i].item()!r}, "
                             f"got {actual[i].item()!r}")


def assert_close(actual, expected, what: str, *, rtol: float = RTOL, scale: float | None = None) -> None:
    """|actual - expected| <= rtol |expected| + ATOL_FACTOR * scale elementwise (scale: max |expected| by default)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: expected shape {expected.shape}, got {actual.shape}"
    if scale is None:
        scale = float(np.max(np.abs(expected), initial=0.0))
    diff = np.abs(actual - expected)
    bound = rtol * np.abs(expected) + ATOL_FACTOR * scale
    bad = ~(diff <= bound)
    if bad.any():
        i = _worst(np.where(bad, np.nan_to_num(diff - bound, nan=np.inf), -np.inf))
        raise AssertionError(
            f"{what}: expected agreement to rtol {rtol:g} (+ {ATOL_FACTOR:g} x scale {scale:.3g}), "
            f"{int(bad.sum())} of {bad.size} element(s) off; worst at {i}: expected {float(expected[i])!r}, "
            f"got {float(actual[i])!r} (|diff| {diff[i]:.3e}, allowed {bound[i]:.3e})")


def _raised(call, module) -> BaseException | None:
    try:
        call(module)
    except Exception as exc:  # noqa: BLE001 - any exception is compared
        return exc
    return None


def assert_same_error(call, edition, instructor, what: str) -> None:
    """``call(module)`` raises the same exception type and message for both modules."""
    expected = _raised(call, instructor)
    assert expected is not None, f"{what}: expected the instructor's module to raise (a broken test case)"
    got = _raised(call, edition)
    assert got is not None, f"{what}: expected {type(expected).__name__}({str(expected)!r}), got no exception"
    assert (type(got), str(got)) == (type(expected), str(expected)), (
        f"{what}: expected {type(expected).__name__}({str(expected)!r}), got {type(got).__name__}({str(got)!r})")


# -- FullyConnectedNet ---------------------------------------------------------------------------


def _pair(edition_models, *args, **kwargs):
    return edition_models.FullyConnectedNet(*args, **kwargs), instructor_models.FullyConnectedNet(*args, **kwargs)


def _compare_state(ours, theirs, what: str, *, exact: bool) -> None:
    assert list(ours.params) == list(theirs.params), f"{what}: expected parameters {list(theirs.params)}"
    assert list(ours.buffers) == list(theirs.buffers), f"{what}: expected buffers {list(theirs.buffers)}"
    # not exact: scaled by the largest parameter, because a bias before batch norm only ever moves by
    # rounding noise (its gradient is 0 up to rounding), which no relative tolerance can compare
    scale = max(float(np.max(np.abs(p.data))) for p in theirs.params.values())
    for name in theirs.params:
        if exact:
            assert_identical(ours.params[name].data, theirs.params[name].data, f"{what}: params[{name!r}].data")
        else:
            assert_close(ours.params[name].data, theirs.params[name].data, f"{what}: params[{name!r}].data",
                         scale=scale)
    check = assert_identical if exact else assert_close
    for name in theirs.buffers:
        check(ours.buffers[name], theirs.buffers[name], f"{what}: buffers[{name!r}]")
    assert ours.dropout_rng.bit_generator.state == theirs.dropout_rng.bit_generator.state, (
        f"{what}: expected the dropout generator in the instructor's state (the same mask draws)")


def _compare_loss(ours, theirs, X, y, what: str) -> None:
    loss_ours, loss_theirs = ours.loss(X, y), theirs.loss(X, y)
    assert isinstance(loss_ours, float), f"{what}: expected a float loss, got {type(loss_ours).__name__}"
    assert_close(loss_ours, loss_theirs, f"{what}: loss")
    scale = max(float(np.max(np.abs(p.grad))) for p in theirs.params.values())
    for name, p in theirs.params.items():
        grad = ours.params[name].grad
        assert isinstance(grad, np.ndarray) and grad.dtype == np.float64, (
            f"{what}: expected params[{name!r}].grad a float64 array, got {type(grad).__name__}")
        # scale: the largest gradient of the network, because a bias before batch norm has a gradient
        # that is 0 up to rounding noise, which no relative tolerance can compare
        assert_close(grad, p.grad, f"{what}: params[{name!r}].grad", scale=scale)
    _compare_state(ours, theirs, what, exact=False)


@pytest.mark.parametrize("init", INITS, ids=str)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_model_matches_instructor(edition_models, activation, init):
    g = np.random.default_rng(abs(hash((activation, str(init)))) % 2**32)
    X1, X2, X3 = (g.standard_normal((12, 6)) for _ in range(3))
    y1, y2, y3 = (g.integers(0, 4, 12) for _ in range(3))
    for batchnorm in (False, True):
        for keep_prob, weight_decay in ((1.0, 0.0), (0.7, 0.0), (1.0, 0.02), (0.6, 0.05)):
            what = f"{activation}, init={init}, batchnorm={batchnorm}, keep_prob={keep_prob}, wd={weight_decay}"
            ours, theirs = _pair(edition_models, 6, [7, 5], 4, activation=activation, init=init,
                                 batchnorm=batchnorm, keep_prob=keep_prob, weight_decay=weight_decay, seed=11)
            _compare_state(ours, theirs, f"{what}, initial", exact=True)
            # training mode: two steps of loss + gradients, a parameter update between them, then scores only
            _compare_loss(ours, theirs, X1, y1, f"{what}, train mode, batch 1")
            for model in (ours, theirs):
                for p in model.params.values():
                    p.data -= 0.1 * p.grad
            _compare_loss(ours, theirs, X2, y2, f"{what}, train mode, batch 2")
            assert_close(ours.loss(X3), theirs.loss(X3), f"{what}: train-mode scores (dropout on)")
            _compare_state(ours, theirs, f"{what}, after the training-mode scores", exact=False)
            # evaluation mode: running statistics, no dropout, no generator draws
            ours.eval(), theirs.eval()
            _compare_loss(ours, theirs, X3, y3, f"{what}, eval mode")
            assert_close(ours.loss(X1), theirs.loss(X1), f"{what}: eval-mode scores")
            assert ours.training is False
            ours.train(), theirs.train()
            np.testing.assert_array_equal(ours.predict(X2), theirs.predict(X2), err_msg=f"{what}: predict")
            assert ours.training is True, f"{what}: predict must restore training mode"
            assert edition_models.accuracy(ours, X1, y1) == instructor_models.accuracy(theirs, X1, y1)
            _compare_state(ours, theirs, f"{what}, at the end", exact=False)


def test_model_shapes_and_state_dict(edition_models):
    for hidden in ([], [3], [9, 8, 7, 6]):
        ours, theirs = _pair(edition_models, 5, hidden, 3, batchnorm=True, keep_prob=0.8, seed=4)
        assert repr(ours) == repr(theirs)
        assert ours.num_layers == theirs.num_layers
        assert vars(ours).keys() == vars(theirs).keys(), (
            f"expected the attributes {sorted(vars(theirs))}, got {sorted(vars(ours))}")
        assert [id(p) for p in ours.parameters()] == [id(p) for p in ours.params.values()]
        _compare_state(ours, theirs, f"hidden={hidden}, initial", exact=True)
        g = np.random.default_rng(len(hidden))
        X, y = g.standard_normal((10, 5)), g.integers(0, 3, 10)
        _compare_loss(ours, theirs, X, y, f"hidden={hidden}")
        state = theirs.state_dict()
        for name in state:
            state[name] = state[name] + 0.5
        ours.load_state_dict(state), theirs.load_state_dict(state)
        _compare_state(ours, theirs, f"hidden={hidden}, after load_state_dict", exact=True)
        _compare_loss(ours, theirs, X, y, f"hidden={hidden}, after load_state_dict")


class PlainSGD:
    """A minimal numpy optimizer: p.data -= lr * p.grad (what ``train`` needs: param_groups, step)."""

    def __init__(self, params, lr):
        self.params = list(params)
        self.param_groups = [{"params": self.params, "lr": lr}]

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.data -= self.param_groups[0]["lr"] * p.grad

    def zero_grad(self):
        for p in self.params:
            p.grad = None


class HalvingSchedule:
    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self):
        self.optimizer.param_groups[0]["lr"] *= 0.5


@pytest.fixture(scope="module")
def digits():
    from dlcourse.data import load_digits

    d = load_digits()
    return d.X_train[:150], d.y_train[:150], d.X_val[:60], d.y_val[:60]


TRAIN_CASES = [
    dict(model=dict(hidden_dims=[24, 16], batchnorm=True, keep_prob=0.8, weight_decay=1e-3, seed=3),
         train=dict(batch_size=32, accumulation_steps=2, schedule_interval="step", patience=1), val=True),
    dict(model=dict(hidden_dims=[20], activation="tanh", init="xavier_uniform", seed=5),
         train=dict(batch_size=25), val=False),
    dict(model=dict(hidden_dims=[16, 16], activation="elu", init=0.1, keep_prob=0.9, seed=7),
         train=dict(batch_size=40, accumulation_steps=3, schedule_interval="epoch"), val=True),
]


@pytest.mark.parametrize("case", range(len(TRAIN_CASES)))
def test_train_history_matches_instructor(edition_models, digits, case):
    spec = TRAIN_CASES[case]
    X, y, Xv, yv = digits
    data = (X, y, Xv, yv) if spec["val"] else {"X_train": X, "y_train": y}
    results = []
    for module in (edition_models, instructor_models):
        model = module.FullyConnectedNet(64, num_classes=10, **spec["model"])
        opt = PlainSGD(model.parameters(), lr=0.1)
        schedule = HalvingSchedule(opt) if "schedule_interval" in spec["train"] else None
        history = module.train(model, data, optimizer=opt, epochs=2, schedule=schedule, progress=False,
                               rng=np.random.default_rng(1), **spec["train"])
        results.append((model, history))
    (ours, h_ours), (theirs, h_theirs) = results
    assert type(h_ours) is type(h_theirs), f"expected a {type(h_theirs).__name__}, got {type(h_ours).__name__}"
    d_ours, d_theirs = h_ours.as_dict(), h_theirs.as_dict()
    for key, value in d_theirs.items():
        if isinstance(value, list):
            assert len(d_ours[key]) == len(value), f"History.{key}: expected {value}, got {d_ours[key]}"
            if value:
                assert_close(d_ours[key], value, f"case {case}: History.{key}", rtol=HISTORY_RTOL)
        else:
            assert d_ours[key] == value, f"case {case}: History.{key}: expected {value!r}, got {d_ours[key]!r}"
    scale = max(float(np.max(np.abs(p.data))) for p in theirs.params.values())  # see _compare_state
    for name, p in theirs.params.items():
        assert_close(ours.params[name].data, p.data, f"case {case}: trained params[{name!r}]", rtol=HISTORY_RTOL,
                     scale=scale)
    for name, b in theirs.buffers.items():
        assert_close(ours.buffers[name], b, f"case {case}: trained buffers[{name!r}]", rtol=HISTORY_RTOL)


# -- mlp_trace, layer_stats, dead_units -----------------------------------------------------------

TRACE_FIELDS = ["pre_activations", "activations", "grad_activations", "grad_pre_activations", "grad_weights",
                "grad_biases"]


def _compare_traces(ours, theirs, what: str) -> None:
    assert type(ours).__name__ == "MLPTrace", f"{what}: expected an MLPTrace, got {type(ours).__name__}"
    assert ours.num_hidden == theirs.num_hidden, f"{what}: expected {theirs.num_hidden} hidden layers"
    for field in TRACE_FIELDS:
        a, b = getattr(ours, field), getattr(theirs, field)
        assert len(a) == len(b), f"{what}: {field}: expected {len(b)} arrays, got {len(a)}"
        for k, (x, e) in enumerate(zip(a, b)):
            assert_close(x, e, f"{what}: {field}[{k}]")
    assert_close(ours.output, theirs.output, f"{what}: output")
    if theirs.loss is None:
        assert ours.loss is None, f"{what}: expected loss None, got {ours.loss!r}"
    else:
        assert isinstance(ours.loss, float), f"{what}: expected a float loss, got {ours.loss!r}"
        assert_close(ours.loss, theirs.loss, f"{what}: loss")


@pytest.mark.parametrize("activation", [*ACTIVATIONS, "identity"])
def test_mlp_trace_matches_instructor(edition_diagnostics, activation):
    g = np.random.default_rng(len(activation))
    dims = [5, 8, 6, 7, 3]
    X = g.standard_normal((9, dims[0]))
    ws = [g.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(dims[:-1], dims[1:])]
    bs = [0.1 * g.standard_normal(b) for b in dims[1:]]
    labels = g.integers(0, dims[-1], 9)
    dout = g.standard_normal((9, dims[-1]))
    for biases in (bs, None):
        kw = dict(activation=activation)
        _compare_traces(edition_diagnostics.mlp_trace(X, ws, biases, labels=labels, **kw),
                        instructor_diagnostics.mlp_trace(X, ws, biases, labels=labels, **kw),
                        f"{activation}, labels, biases={'given' if biases else None}")
        _compare_traces(edition_diagnostics.mlp_trace(X, ws, biases, dout=dout, **kw),
                        instructor_diagnostics.mlp_trace(X, ws, biases, dout=dout, **kw),
                        f"{activation}, dout, biases={'given' if biases else None}")
    # a single weight matrix: softmax regression (no hidden layer) / one hidden layer
    _compare_traces(edition_diagnostics.mlp_trace(X, ws[:1], labels=labels % dims[1], activation=activation),
                    instructor_diagnostics.mlp_trace(X, ws[:1], labels=labels % dims[1], activation=activation),
                    f"{activation}, one layer, labels")
    one_dout = g.standard_normal((9, dims[1]))
    _compare_traces(edition_diagnostics.mlp_trace(X, ws[:1], dout=one_dout, activation=activation),
                    instructor_diagnostics.mlp_trace(X, ws[:1], dout=one_dout, activation=activation),
                    f"{activation}, one layer, dout")


def test_layer_stats_and_dead_units_match_instructor(edition_diagnostics):
    g = np.random.default_rng(2)
    values = [np.maximum(g.standard_normal((20, 6)) - 1.0, 0.0), g.standard_normal((20, 4)), np.zeros((20, 3))]
    ours, theirs = edition_diagnostics.layer_stats(values), instructor_diagnostics.layer_stats(values)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert_identical(ours[key], theirs[key], f"layer_stats()[{key!r}]")
    for k, (a, b) in enumerate(zip(edition_diagnostics.dead_units(values), instructor_diagnostics.dead_units(values))):
        assert_identical(a, b, f"dead_units()[{k}]")


# -- API and error messages -----------------------------------------------------------------------


def _public_signatures(obj) -> dict[str, str]:
    out = {}
    for name, member in inspect.getmembers(obj):
        if name.startswith("_") and name != "__init__":
            continue
        if callable(member):
            try:
                out[name] = str(inspect.signature(member))
            except (TypeError, ValueError):
                out[name] = "<no signature>"
        else:
            out[name] = type(member).__name__
    return out


def test_api_matches_instructor(edition_models, edition_diagnostics):
    assert edition_models.__all__ == instructor_models.__all__
    for name in instructor_models.__all__:
        ours, theirs = getattr(edition_models, name), getattr(instructor_models, name)
        if name == "History":
            assert ours is theirs, "History must be dlcourse.history.History"
            continue
        assert _public_signatures(ours) == _public_signatures(theirs), f"models.{name}: API differs"
        if callable(ours):
            assert str(inspect.signature(ours)) == str(inspect.signature(theirs)), f"models.{name}: signature"
    expected_all = [n for n in instructor_diagnostics.__all__ if n != "ACTIVATIONS"]
    assert edition_diagnostics.__all__ == expected_all
    assert not hasattr(edition_diagnostics, "ACTIVATIONS"), "ACTIVATIONS is withheld: the override must not define it"
    for name in expected_all:
        ours, theirs = getattr(edition_diagnostics, name), getattr(instructor_diagnostics, name)
        assert str(inspect.signature(ours)) == str(inspect.signature(theirs)), f"diagnostics.{name}: signature"
    assert ([f.name for f in dataclasses.fields(edition_diagnostics.MLPTrace)]
            == [f.name for f in dataclasses.fields(instructor_diagnostics.MLPTrace)])
    assert edition_diagnostics.MLPTrace.__dataclass_params__.frozen


def _bad_model_calls():
    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    net = lambda m, **kw: m.FullyConnectedNet(3, [4], 2, **kw)  # noqa: E731
    return {
        "input_dim=0": lambda m: m.FullyConnectedNet(0, [4], 2),
        "hidden_dims=[0]": lambda m: m.FullyConnectedNet(3, [0], 2),
        "hidden_dims=4": lambda m: m.FullyConnectedNet(3, 4, 2),
        "hidden_dims=[2.5]": lambda m: m.FullyConnectedNet(3, [2.5], 2),
        "num_classes=0": lambda m: m.FullyConnectedNet(3, [4], 0),
        "activation": lambda m: net(m, activation="softplus"),
        "init name": lambda m: net(m, init="kaiming"),
        "init std < 0": lambda m: net(m, init=-0.1),
        "init std True": lambda m: net(m, init=True),
        "keep_prob=0": lambda m: net(m, keep_prob=0.0),
        "keep_prob=1.5": lambda m: net(m, keep_prob=1.5),
        "weight_decay<0": lambda m: net(m, weight_decay=-1.0),
        "seed=-1": lambda m: net(m, seed=-1),
        "X wrong width": lambda m: net(m).loss(np.ones((4, 5)), y),
        "X 1-d": lambda m: net(m).loss(np.ones(3)),
        "X strings": lambda m: net(m).loss(np.array([["a", "b", "c"]])),
        "y floats": lambda m: net(m).loss(X, y.astype(float)),
        "y bool": lambda m: net(m).loss(X, y.astype(bool)),
        "y wrong length": lambda m: net(m).loss(X, y[:3]),
        "y out of range": lambda m: net(m).loss(X, y + 1),
        "y negative": lambda m: net(m).loss(X, y - 1),
        "empty batch": lambda m: net(m).loss(np.ones((0, 3)), np.zeros(0, dtype=int)),
        "batch norm, one sample": lambda m: net(m, batchnorm=True).loss(X[:1], y[:1]),
        "load_state_dict keys": lambda m: net(m).load_state_dict({"W1": np.ones((3, 4))}),
        "load_state_dict shape": lambda m: net(m).load_state_dict(
            {**net(m).state_dict(), "b1": np.ones(5)}),
    }


def _bad_train_calls():
    X, y = np.ones((6, 3)), np.array([0, 1, 0, 1, 1, 0])

    def call(data=(X, y), **kw):
        def run(m):
            model = m.FullyConnectedNet(3, [4], 2)
            args = dict(optimizer=PlainSGD(model.parameters(), 0.1), epochs=1, batch_size=2,
                        rng=np.random.default_rng(0), progress=False)
            args.update(kw)
            return m.train(model, data, **args)
        return run

    return {
        "data of 3 items": call(data=(X, y, X)),
        "data without y": call(data={"X_train": X}),
        "data shapes": call(data=(X, y[:4])),
        "X_val without y_val": call(data={"X_train": X, "y_train": y, "X_val": X}),
        "epochs=0": call(epochs=0),
        "batch_size=0": call(batch_size=0),
        "accumulation_steps=0": call(accumulation_steps=0),
        "patience=0": call(data=(X, y, X, y), patience=0),
        "patience without val": call(patience=2),
        "rng": call(rng=0),
        "schedule_interval": call(schedule_interval="batch"),
        "schedule without step": call(schedule=object()),
        "optimizer": call(optimizer=object()),
        "y_train out of range": call(data=(X, y + 1)),
        "y_val out of range": call(data=(X, y, X, y + 5)),
    }


def _bad_diagnostics_calls():
    g = np.random.default_rng(0)
    X = g.standard_normal((4, 3))
    ws = [g.standard_normal((3, 5)), g.standard_normal((5, 2))]
    labels, dout = np.array([0, 1, 1, 0]), np.ones((4, 2))
    return {
        "activation": lambda m: m.mlp_trace(X, ws, activation="softplus", labels=labels),
        "neither labels nor dout": lambda m: m.mlp_trace(X, ws),
        "both labels and dout": lambda m: m.mlp_trace(X, ws, labels=labels, dout=dout),
        "X 1-d": lambda m: m.mlp_trace(X[0], ws, labels=labels),
        "X bool": lambda m: m.mlp_trace(X > 0, ws, labels=labels),
        "weights empty": lambda m: m.mlp_trace(X, [], labels=labels),
        "weights an array": lambda m: m.mlp_trace(X, ws[0], labels=labels),
        "weights chain": lambda m: m.mlp_trace(X, [ws[0], ws[0]], labels=labels),
        "biases length": lambda m: m.mlp_trace(X, ws, [np.zeros(5)], labels=labels),
        "biases shape": lambda m: m.mlp_trace(X, ws, [np.zeros(5), np.zeros(3)], labels=labels),
        "labels range": lambda m: m.mlp_trace(X, ws, labels=labels + 2),
        "labels dtype": lambda m: m.mlp_trace(X, ws, labels=labels * 1.0),
        "labels shape": lambda m: m.mlp_trace(X, ws, labels=labels[:2]),
        "empty batch": lambda m: m.mlp_trace(X[:0], ws, labels=labels[:0]),
        "dout shape": lambda m: m.mlp_trace(X, ws, dout=np.ones((4, 5))),
        "dout dtype": lambda m: m.mlp_trace(X, ws, dout=np.array([["x"]])),
        "layer_stats empty": lambda m: m.layer_stats([]),
        "layer_stats empty layer": lambda m: m.layer_stats([np.zeros(0)]),
        "dead_units 1-d": lambda m: m.dead_units([np.zeros(3)]),
    }


@pytest.mark.parametrize("kind", ["model", "train", "diagnostics"])
def test_errors_match_instructor(edition_models, edition_diagnostics, kind):
    if kind == "diagnostics":
        calls, edition, instructor = _bad_diagnostics_calls(), edition_diagnostics, instructor_diagnostics
    else:
        calls = _bad_model_calls() if kind == "model" else _bad_train_calls()
        edition, instructor = edition_models, instructor_models
    for what, call in calls.items():
        assert_same_error(call, edition, instructor, f"{kind}: {what}")


# -- no torch at import, no withheld name --------------------------------------------------------


def test_importing_the_overrides_does_not_import_torch():
    code = (
        "import importlib.util, sys\n"
        f"for name, path in {[(n, str(OVERRIDES / f)) for f, n in MODULE_NAMES.items()]!r}:\n"
        "    spec = importlib.util.spec_from_file_location(name, path)\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    sys.modules[name] = module\n"
        "    spec.loader.exec_module(module)\n"
        "loaded = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "assert not loaded, f'expected no torch module after importing the overrides, got {loaded[:5]}'\n"
        "sys.modules['dlcourse_edition_models'].FullyConnectedNet(4, [3], 2, batchnorm=True, keep_prob=0.5)\n"
        "assert 'torch' not in sys.modules, 'expected no torch after building a FullyConnectedNet'\n"
    )
    result = subprocess.run([sys.executable, "-B", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"expected a torch-free import, got:\n{result.stderr[-2000:]}"


def _withheld_module(module: str) -> str | None:
    """The withheld-names module that ``module`` is or lies inside (dlcourse.numpy_ref.optim._base -> ...optim)."""
    for name in sorted(WITHHELD, key=len, reverse=True):
        if module == name or module.startswith(name + "."):
            return name
    return None


def _is_withheld_module(dotted: str) -> bool:
    """Whether ``dotted`` names a module (not a class or function) that is or lies in a module of withheld names."""
    if not _withheld_module(dotted):
        return False
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:  # the parent is a module, not a package: dotted names an attribute
        return False


def withheld_imports(source: str) -> list[str]:
    """What ``source`` imports that it must not: withheld names, private names of their modules, whole
    modules that hold withheld names, relative imports (the file is copied elsewhere) and dynamic imports."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"line {node.lineno}: relative import (use absolute imports)")
                continue
            module = node.module or ""
            owner = _withheld_module(module)
            for alias in node.names:
                if owner and (alias.name == "*" or alias.name in WITHHELD[owner] or alias.name.startswith("_")):
                    problems.append(f"line {node.lineno}: from {module} import {alias.name}")
                elif module.startswith("dlcourse") and _is_withheld_module(f"{module}.{alias.name}"):
                    problems.append(f"line {node.lineno}: from {module} import {alias.name} (a module with "
                                    f"withheld names: import the names you need instead)")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if _withheld_module(alias.name) or alias.name == "importlib":
                    problems.append(f"line {node.lineno}: import {alias.name}")
        elif isinstance(node, ast.Name) and node.id == "__import__":
            problems.append(f"line {node.lineno}: __import__")
        elif isinstance(node, ast.Attribute):
            parts, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                parts.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name):
                dotted = ".".join([value.id, *reversed(parts)])
                owner = _withheld_module(dotted.rsplit(".", 1)[0])
                if dotted.startswith("dlcourse.") and owner and node.attr in WITHHELD[owner]:
                    problems.append(f"line {node.lineno}: {dotted}")
    return problems


def test_the_withheld_check_catches_violations():
    bad = {
        "from dlcourse.numpy_ref.layers import affine_forward": 1,
        "from dlcourse.numpy_ref import layers": 1,
        "from dlcourse.numpy_ref.optim import sgd": 1,
        "from dlcourse.numpy_ref.init import _checked": 1,
        "from dlcourse.numpy_ref.losses import cross_entropy, mse_loss": 1,
        "import dlcourse.numpy_ref.functional as F": 1,
        "from .layers import relu_forward": 1,
        "from dlcourse.numpy_ref.optim.sgd import SGD": 1,
        "import dlcourse\ndlcourse.numpy_ref.layers.relu_forward": 1,
        "from dlcourse.numpy_ref.diagnostics import ACTIVATIONS": 1,
    }
    for source, count in bad.items():
        assert len(withheld_imports(source)) >= count, f"expected {source!r} to be flagged"
    ok = ("from dlcourse.numpy_ref.optim import Parameter\nfrom dlcourse.numpy_ref._checks import check_keep_prob\n"
          "from dlcourse.numpy_ref.losses import mse_loss\nimport torch.nn.functional as F\nF.relu\n"
          "from dlcourse.validation import as_float_array")
    assert withheld_imports(ok) == [], f"expected no problem, got {withheld_imports(ok)}"


@pytest.mark.parametrize("filename", sorted(MODULE_NAMES))
def test_overrides_import_no_withheld_name(filename):
    problems = withheld_imports((OVERRIDES / filename).read_text())
    assert not problems, f"{filename}: expected no withheld import, found: {problems}"


def test_overrides_folder_holds_plain_files_only():
    folder = OVERRIDES.parent
    assert not (folder / "__init__.py").exists(), "the overrides are data files, not a package"
    assert (folder / "README.md").exists(), "expected a README.md saying what the overrides are"
    for path in folder.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.suffix in (".py", ".md"), f"expected only .py files and the README, found {path}"
            assert path.name != "__init__.py", f"expected no __init__.py in the overrides, found {path}"


def test_the_withheld_names_follow_the_assignments_and_their_re_exports():
    expected = {
        "dlcourse.numpy_ref.layers": {"affine_forward", "batchnorm_forward", "dropout_backward"},  # re-exports
        "dlcourse.numpy_ref.models": {"FullyConnectedNet"},  # why the edition ships an override
        "dlcourse.torch_ref": {"Adam", "BatchNorm1d", "freeze", "extract_features"},  # re-exports
        "dlcourse.torch_ref.transfer_experiment": {"finetune_depth_accuracy", "finetune_top_blocks",
                                                   "run_depth_experiment"},  # L11's depth experiment uses a5's
    }
    for module, names in expected.items():
        missing = names - WITHHELD.get(module, set())
        assert not missing, f"expected {module} to withhold {sorted(names)}; not withheld: {sorted(missing)}"
    kept = {"dlcourse.numpy_ref.training", "dlcourse.numpy_ref.network"} & set(WITHHELD)  # no exercise in them
    assert not kept, f"expected no withheld names in {sorted(kept)}; got {[sorted(WITHHELD[m]) for m in kept]}"
