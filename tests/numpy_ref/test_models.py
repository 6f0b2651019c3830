"""FullyConnectedNet against an equivalent torch float64 network, central differences,
and the training loop (accumulation, early stopping with restore, history, progress bar)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

from dlcourse.numpy_ref import lr_scheduler, optim
from dlcourse.numpy_ref.gradcheck import numerical_gradient
from dlcourse.numpy_ref.models import FullyConnectedNet, History, accuracy, train

from ._helpers import assert_close, tensor

TORCH_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "leaky_relu": TF.leaky_relu, "elu": TF.elu}


def torch_twin(model):
    """Float64 tensors of the model's parameters and a functional forward in torch."""
    tp = {name: tensor(p.data, requires_grad=True) for name, p in model.params.items()}
    buffers = {name: tensor(b) for name, b in model.buffers.items()}

    def forward(X, training):
        h = tensor(X)
        for l in range(1, model.num_layers):
            h = h @ tp[f"W{l}"] + tp[f"b{l}"]
            if model.batchnorm:
                h = TF.batch_norm(h, buffers[f"running_mean{l}"], buffers[f"running_var{l}"], tp[f"gamma{l}"],
                                  tp[f"beta{l}"], training=training, momentum=0.1, eps=1e-5)
            h = TORCH_ACT[model.activation](h)
        n = model.num_layers
        return h @ tp[f"W{n}"] + tp[f"b{n}"]

    return tp, buffers, forward


def data(n=40, d=6, c=4, seed=0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, d))
    y = g.integers(0, c, n)
    return X, y


CONFIGS = [
    dict(hidden_dims=[7, 5], activation="relu"),
    dict(hidden_dims=[8], activation="tanh", weight_decay=0.1, init="xavier"),
    dict(hidden_dims=[7, 6, 5], activation="elu", batchnorm=True, weight_decay=0.05),
    dict(hidden_dims=[5, 5], activation="sigmoid", batchnorm=True, init="he_uniform"),
    dict(hidden_dims=[], activation="relu", weight_decay=0.2),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_loss_gradients_and_running_stats_match_torch(cfg):
    X, y = data()
    model = FullyConnectedNet(6, cfg["hidden_dims"], 4, seed=3, **{k: v for k, v in cfg.items() if k != "hidden_dims"})
    tp, buffers, forward = torch_twin(model)
    X_before = X.copy()
    loss = model.loss(X, y)
    scores_t = forward(X, training=True)
    loss_t = TF.cross_entropy(scores_t, torch.tensor(y))
    loss_t = loss_t + 0.5 * model.weight_decay * sum((tp[f"W{l}"] ** 2).sum() for l in range(1, model.num_layers + 1))
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    for name, p in model.params.items():
        assert_close(p.grad, tp[name].grad.numpy(), rtol=1e-10, atol=1e-12, name=f"grad {name}")
    for name, b in model.buffers.items():
        assert_close(b, buffers[name].numpy(), rtol=1e-12, atol=1e-14, name=name)
    # evaluation mode uses the running statistics
    model.eval()
    assert_close(model.loss(X), forward(X, training=False).detach().numpy(), rtol=1e-11, atol=1e-12, name="eval scores")
    np.testing.assert_array_equal(X, X_before)


@pytest.mark.parametrize("cfg", [dict(batchnorm=True, keep_prob=0.7, weight_decay=0.1), dict(keep_prob=0.5, activation="tanh")])
def test_loss_gradients_match_central_differences_with_dropout(cfg):
    X, y = data(n=10, d=4, c=3, seed=1)
    model = FullyConnectedNet(4, [6, 5], 3, seed=0, **cfg)

    def loss_with(name, value):
        old = model.params[name].data
        model.params[name].data = value
        model.dropout_rng = np.random.default_rng(42)  # the same masks every call
        stats = {k: b.copy() for k, b in model.buffers.items()}
        try:
            return model.loss(X, y)
        finally:
            model.params[name].data = old
            for k, b in stats.items():
                model.buffers[k][...] = b

    loss_with("W1", model.params["W1"].data)  # fills the grads with dropout masks from seed 42
    grads = {name: p.grad.copy() for name, p in model.params.items()}
    for name, p in model.params.items():
        num = numerical_gradient(lambda v: loss_with(name, v), p.data)
        assert_close(grads[name], num, rtol=1e-6, atol=1e-8, name=f"{name} vs central differences")


def test_parameter_names_init_and_modes():
    model = FullyConnectedNet(5, [4, 3], 2, batchnorm=True, seed=1)
    assert list(model.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert model.params["W1"].shape == (5, 4) and model.params["W3"].shape == (3, 2)
    assert set(model.buffers) == {"running_mean1", "running_var1", "running_mean2", "running_var2"}
    np.testing.assert_array_equal(model.params["gamma1"].data, np.ones(4))
    same = FullyConnectedNet(5, [4, 3], 2, batchnorm=True, seed=1)
    other = FullyConnectedNet(5, [4, 3], 2, batchnorm=True, seed=2)
    np.testing.assert_array_equal(model.params["W2"].data, same.params["W2"].data)
    assert np.any(model.params["W2"].data != other.params["W2"].data)
    big = FullyConnectedNet(400, [300], 2, init="he")
    assert abs(big.params["W1"].data.std() - np.sqrt(2 / 400)) < 0.02 * np.sqrt(2 / 400)
    small = FullyConnectedNet(400, [300], 2, init=0.01)
    assert abs(small.params["W1"].data.std() - 0.01) < 0.0002
    assert model.eval() is model and not model.training
    X = np.random.default_rng(0).standard_normal((6, 5))
    stats = {k: b.copy() for k, b in model.buffers.items()}
    model.loss(X)
    for k in stats:
        np.testing.assert_array_equal(model.buffers[k], stats[k], err_msg="eval must not update running stats")
    model.train()
    model.loss(X)
    assert np.any(model.buffers["running_mean1"] != stats["running_mean1"])


def test_dropout_is_off_in_eval_and_on_in_training():
    model = FullyConnectedNet(5, [50], 3, keep_prob=0.5, seed=0)
    X = np.random.default_rng(0).standard_normal((4, 5))
    model.eval()
    np.testing.assert_array_equal(model.loss(X), model.loss(X))
    model.train()
    assert np.any(model.loss(X) != model.loss(X))


class RecordingSGD(optim.SGD):
    """SGD with lr 0 that records the gradients it was given at every step."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.seen = []

    def step(self, closure=None):
        self.seen.append([p.grad.copy() for p in self.param_groups[0]["params"]])
        return super().step(closure)


@pytest.mark.parametrize("accumulation_steps, batch_size", [(4, 16), (3, 7)])
def test_gradient_accumulation_gives_the_full_batch_gradient(accumulation_steps, batch_size):
    """50 samples in minibatches of uneven size; one optimizer step sees the mean-loss gradient."""
    X, y = data(n=50 if batch_size == 16 else 21, d=5, c=3, seed=4)
    model = FullyConnectedNet(5, [8, 6], 3, activation="tanh", weight_decay=0.3, seed=0)
    opt = RecordingSGD(model.parameters())
    train(model, (X, y), optimizer=opt, epochs=1, batch_size=batch_size, accumulation_steps=accumulation_steps,
          rng=np.random.default_rng(0), progress=False)
    assert len(opt.seen) == 1
    model.loss(X, y)
    for (name, p), got in zip(model.params.items(), opt.seen[0]):
        assert_close(got, p.grad, rtol=1e-12, atol=1e-14, name=f"accumulated {name} vs full batch")


def test_accumulation_groups_and_step_count():
    X, y = data(n=50, d=5, c=3)
    model = FullyConnectedNet(5, [4], 3)
    opt = RecordingSGD(model.parameters())
    train(model, (X, y), optimizer=opt, epochs=2, batch_size=8, accumulation_steps=3, rng=np.random.default_rng(0), progress=False)
    assert len(opt.seen) == 2 * 3  # 7 minibatches per epoch -> groups of 3, 3, 1


def separable(n, seed):
    g = np.random.default_rng(seed)
    centers = np.array([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    y = g.integers(0, 3, n)
    return centers[y] + g.standard_normal((n, 4)), y


def test_training_learns_and_records_history():
    X, y = separable(300, 0)
    Xv, yv = separable(100, 1)
    model = FullyConnectedNet(4, [16], 3, seed=0)
    opt = optim.Adam(model.parameters(), lr=0.01)
    sched = lr_scheduler.Scheduler(opt, lr_scheduler.step_lr, step_size=2, gamma=0.5)
    hist = train(model, {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}, optimizer=opt, epochs=6,
                 batch_size=32, schedule=sched, rng=np.random.default_rng(0), progress=False)
    assert isinstance(hist, History)
    assert hist.lr == [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025]
    assert len(hist.train_loss) == len(hist.train_acc) == len(hist.val_loss) == len(hist.val_acc) == 6
    assert hist.train_loss[-1] < hist.train_loss[0]
    assert hist.val_acc[-1] > 0.9 and accuracy(model, Xv, yv) == hist.val_acc[-1]
    assert hist.stopped_epoch is None and model.training
    # reproducible: same seeds, same history
    model2 = FullyConnectedNet(4, [16], 3, seed=0)
    opt2 = optim.Adam(model2.parameters(), lr=0.01)
    sched2 = lr_scheduler.Scheduler(opt2, lr_scheduler.step_lr, step_size=2, gamma=0.5)
    hist2 = train(model2, (X, y, Xv, yv), optimizer=opt2, epochs=6, batch_size=32, schedule=sched2,
                  rng=np.random.default_rng(0), progress=False)
    assert hist2.as_dict() == hist.as_dict()


def test_early_stopping_restores_the_best_weights():
    """Random validation labels: the validation loss soon rises as the model fits the training set."""
    X, y = separable(200, 2)
    Xv, _ = separable(60, 3)
    yv = np.random.default_rng(5).integers(0, 3, 60)
    model = FullyConnectedNet(4, [32], 3, seed=0, batchnorm=True)
    opt = optim.Adam(model.parameters(), lr=0.03)
    hist = train(model, (X, y, Xv, yv), optimizer=opt, epochs=50, batch_size=20, patience=3,
                 rng=np.random.default_rng(0), progress=False)
    assert hist.stopped_epoch is not None and hist.stopped_epoch < 49
    assert len(hist.val_loss) == hist.stopped_epoch + 1
    assert hist.best_epoch == int(np.argmin(hist.val_loss)) and hist.stopped_epoch - hist.best_epoch == 3
    assert hist.restored_best
    model.eval()
    from dlcourse.numpy_ref.losses import cross_entropy

    restored_loss, _ = cross_entropy(model.loss(Xv), yv)
    assert restored_loss == pytest.approx(hist.val_loss[hist.best_epoch], rel=1e-12)
    assert restored_loss < hist.val_loss[-1]


def test_progress_bar_can_be_switched_off(capsys):
    X, y = data(n=20, d=3, c=2)
    for progress in (False, True):
        model = FullyConnectedNet(3, [4], 2)
        train(model, (X, y), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=2, batch_size=10,
              rng=np.random.default_rng(0), progress=progress)
        err = capsys.readouterr().err
        assert ("epochs" in err) == progress


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="hidden_dims"):
        FullyConnectedNet(3, [4, 0], 2)
    with pytest.raises(ValueError, match="activation"):
        FullyConnectedNet(3, [4], 2, activation="swish")
    with pytest.raises(ValueError, match="init"):
        FullyConnectedNet(3, [4], 2, init="orthogonal")
    with pytest.raises(ValueError, match="keep_prob"):
        FullyConnectedNet(3, [4], 2, keep_prob=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        FullyConnectedNet(3, [4], 2, weight_decay=-1.0)
    model = FullyConnectedNet(3, [4], 2)
    with pytest.raises(ValueError, match="X"):
        model.loss(np.ones((5, 4)))
    with pytest.raises(ValueError, match="labels"):
        model.loss(np.ones((5, 3)), np.array([0, 1, 2, 0, 1]))
    X, y = data(n=10, d=3, c=2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    kwargs = dict(optimizer=opt, epochs=1, batch_size=4, rng=np.random.default_rng(0), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(model, (X, y), **{**kwargs, "batch_size": 0})
    with pytest.raises(ValueError, match="accumulation_steps"):
        train(model, (X, y), **kwargs, accumulation_steps=0)
    with pytest.raises(ValueError, match="patience"):
        train(model, (X, y), **kwargs, patience=2)
    with pytest.raises(ValueError, match="rng"):
        train(model, (X, y), **{**kwargs, "rng": 0})
    with pytest.raises(ValueError, match="data"):
        train(model, (X, y[:-1]), **kwargs)


# ---------------------------------------------------------------------------
# History: one torch-free class for the numpy train loop and torch_ref.fit
# ---------------------------------------------------------------------------


def test_history_is_one_class_under_every_import_path():
    import dlcourse.history
    from dlcourse.torch_ref import History as TorchHistory
    from dlcourse.torch_ref.training import History as TrainingHistory

    assert History is dlcourse.history.History is TorchHistory is TrainingHistory


def test_history_module_and_numpy_ref_import_without_torch():
    import subprocess
    import sys

    code = ("import sys; import dlcourse.history, dlcourse.numpy_ref, dlcourse.numpy_ref.models; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_history_fields_properties_and_dicts():
    h = History()
    assert (h.epochs, h.stopped_early, h.best_epoch, h.restored_best, h.monitor) == (0, False, None, False, None)
    h.train_loss += [1.0, 0.5, 0.7]
    h.val_acc += [0.2, 0.6, 0.5]
    h.stopped_epoch, h.best_epoch = 2, 1
    assert h.epochs == 3 and h.stopped_early
    with pytest.raises(AttributeError):
        h.stopped_early = False  # read-only: derived from stopped_epoch
    with pytest.raises(AttributeError):
        h.epochs = 5
    assert h.series() == {"train_loss": [1.0, 0.5, 0.7], "val_acc": [0.2, 0.6, 0.5]}
    d = h.as_dict()
    assert d["stopped_epoch"] == 2 and d["train_acc"] == [] and "epochs" not in d
    d["train_loss"].append(9.0)
    assert h.train_loss == [1.0, 0.5, 0.7], "as_dict copies the lists"
    assert h["val_acc"] is h.val_acc
    with pytest.raises(KeyError):
        h["val_accuracy"]
    assert "epochs=3" in repr(h)


def test_train_fills_the_history():
    X, y = data(n=40, d=4, c=3)
    Xv, yv = data(n=20, d=4, c=3, seed=1)
    model = FullyConnectedNet(4, [5], 3)
    hist = train(model, (X, y, Xv, yv), optimizer=optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=8,
                 rng=np.random.default_rng(0), progress=False)
    assert hist.epochs == 3 and not hist.stopped_early
    assert [len(s) for s in (hist.train_loss, hist.train_acc, hist.val_loss, hist.val_acc, hist.lr)] == [3] * 5
    assert hist.epoch_time == [] and hist.batch_loss == [] and hist.monitor is None
