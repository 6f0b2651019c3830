"""plot_decision_boundary (headless, Agg backend): labels, per-class scores, binary scores, torch output."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from dlcourse.plots import plot_decision_boundary


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _blobs(seed=0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(-1.5, 0.4, size=(20, 2)), rng.normal(1.5, 0.4, size=(20, 2))]
    y = np.r_[np.zeros(20, int), np.ones(20, int)]
    return X, y


class Recorder:
    """A predict function that records its input and returns labels x1 + x2 > 0."""

    def __init__(self, kind="labels"):
        self.kind = kind
        self.inputs = []

    def __call__(self, P):
        self.inputs.append(P)
        s = P[:, 0] + P[:, 1]
        if self.kind == "labels":
            return (s > 0).astype(int)
        if self.kind == "scores":
            return s
        if self.kind == "proba2":
            p = 1 / (1 + np.exp(-s))
            return np.c_[1 - p, p]
        if self.kind == "column":
            return s[:, None]
        raise AssertionError(self.kind)


@pytest.mark.parametrize("kind", ["labels", "scores", "proba2", "column"])
def test_all_output_kinds_draw_the_same_boundary(kind):
    X, y = _blobs()
    f = Recorder(kind)
    ax = plot_decision_boundary(f, X, y, resolution=30, padding=0.5, title="t")
    (P,) = f.inputs
    assert P.shape == (900, 2) and P.dtype == np.float64
    assert P[:, 0].min() == pytest.approx(X[:, 0].min() - 0.5)
    assert P[:, 1].max() == pytest.approx(X[:, 1].max() + 0.5)
    assert ax.get_xlim() == pytest.approx((X[:, 0].min() - 0.5, X[:, 0].max() + 0.5))
    assert ax.get_title() == "t" and ax.get_xlabel() == "$x_1$" and ax.get_ylabel() == "$x_2$"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]
    # the boundary line x1 + x2 = 0 is drawn: a contour line whose vertices satisfy it (up to a grid cell)
    lines = [c for c in ax.collections if hasattr(c, "get_paths") and c.get_paths() and
             type(c).__name__ in ("QuadContourSet", "ContourSet") and not c.filled]
    assert lines, "expected a contour line at the class boundary"
    verts = np.concatenate([p.vertices for p in lines[0].get_paths() if len(p.vertices)])
    cell = (P[:, 0].max() - P[:, 0].min()) / 29
    assert np.abs(verts.sum(axis=1)).max() <= 2 * cell + 1e-9


def test_multiclass_argmax_and_float_labels_and_pm1_labels():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    y3 = rng.integers(0, 3, size=30)
    centers = np.array([[-1, 0], [1, 0], [0, 1.5]])
    ax = plot_decision_boundary(lambda P: -((P[:, None, :] - centers) ** 2).sum(-1), X, y3, resolution=20)
    assert len(ax.get_legend().get_texts()) == 3
    # float labels that are all among y's labels are used as labels
    ax = plot_decision_boundary(lambda P: (P[:, 0] > 0).astype(float) * 2.0, X, y3, resolution=20)
    assert ax is not None
    # +-1 labels with a score: threshold 0 maps to -1 / +1
    ypm = np.where(X[:, 0] > 0, 1, -1)
    ax = plot_decision_boundary(lambda P: P[:, 0] * 3.0, X, ypm, resolution=20)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class -1", "class 1"]


def test_probability_threshold():
    X, y = _blobs()
    seen = {}

    def proba(P):
        p = 1 / (1 + np.exp(-(P[:, 0] - 1.0)))
        seen["p"] = p
        return p

    ax = plot_decision_boundary(proba, X, y, resolution=25, threshold=0.5)
    lines = [c for c in ax.collections if type(c).__name__ in ("QuadContourSet", "ContourSet") and not c.filled]
    verts = np.concatenate([p.vertices for p in lines[0].get_paths() if len(p.vertices)])
    assert np.abs(verts[:, 0] - 1.0).max() < 0.3, "the boundary is at p = 0.5, i.e. x1 = 1"


def test_torch_model_output_and_given_axes():
    X, y = _blobs(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    fig, ax = plt.subplots()
    out = plot_decision_boundary(lambda P: model(torch.as_tensor(P, dtype=torch.float32)), X, y, ax=ax,
                                 resolution=15)
    assert out is ax


def test_single_class_prediction_draws_no_boundary():
    X, y = _blobs()
    ax = plot_decision_boundary(lambda P: np.zeros(len(P), int), X, y, resolution=10)
    lines = [c for c in ax.collections if type(c).__name__ in ("QuadContourSet", "ContourSet") and not c.filled]
    assert not lines


def test_input_not_modified():
    X, y = _blobs()
    Xc, yc = X.copy(), y.copy()
    plot_decision_boundary(Recorder(), X, y, resolution=10)
    assert np.array_equal(X, Xc) and np.array_equal(y, yc)


@pytest.mark.parametrize("kwargs, match", [
    (dict(predict=None), "predict"),
    (dict(X=np.ones((5, 3))), "X"),
    (dict(X=np.ones(5)), "X"),
    (dict(X=np.full((40, 2), np.nan)), "X"),
    (dict(y=np.zeros(3, int)), "y"),
    (dict(y=np.full(40, 0.5)), "y"),
    (dict(resolution=1), "resolution"),
    (dict(resolution=10.0), "resolution"),
    (dict(padding=-1.0), "padding"),
    (dict(predict=lambda P: np.zeros((len(P) - 1,))), "predict"),
    (dict(predict=lambda P: np.zeros((len(P), 2, 2))), "predict"),
    (dict(predict=lambda P: np.array(["a"] * len(P))), "predict"),
])
def test_bad_input(kwargs, match):
    X, y = _blobs()
    args = dict(predict=Recorder(), X=X, y=y, resolution=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plot_decision_boundary(args.pop("predict"), args.pop("X"), args.pop("y"), **args)


def test_one_score_for_many_classes_is_rejected():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = np.arange(12) % 3
    with pytest.raises(ValueError, match="predict"):
        plot_decision_boundary(lambda P: P[:, 0] + 0.123, X, y, resolution=10)
