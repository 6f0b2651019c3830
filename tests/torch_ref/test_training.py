"""fit / evaluate / History / plot_history."""

import copy

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn
from torch.testing import assert_close
from torch.utils.data import DataLoader, TensorDataset

from dlcourse.plots import plot_history
from dlcourse.torch_ref import SGD, Adam, History, evaluate, fit
from tests.torch_ref._helpers import DEVICES


def _data(n=96, d=5, classes=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    W = torch.randn(d, classes, generator=g, dtype=dtype)
    y = (X @ W).argmax(1)
    return X, y


def _model(seed=0, d=5, classes=3, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 16), nn.Tanh(), nn.Dropout(0.0), nn.Linear(16, classes)).to(dtype)


class _RecordingSGD(SGD):
    """Plain SGD that records the gradient it was given at every step."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.grads = []

    def step(self, closure=None):
        self.grads.append([p.grad.detach().clone() for g in self.param_groups for p in g["params"]])
        return super().step(closure)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("k,B,n", [(4, 8, 96), (3, 10, 90), (3, 7, 80)])
def test_accumulating_k_minibatches_of_B_gives_the_gradient_of_one_batch_of_kB(device, k, B, n):
    """Mean loss: k micro-batches of B accumulate to the big batch's gradient, step by step,
    including a short last group (n not a multiple of k*B)."""
    X, y = _data(n=n)
    ds = TensorDataset(X, y)
    small, big = _model(), _model()
    opt_small, opt_big = _RecordingSGD(small.parameters(), 0.1), _RecordingSGD(big.parameters(), 0.1)
    fit(small, DataLoader(ds, batch_size=B), optimizer=opt_small, epochs=2, device=device,
        accumulation_steps=k, progress=False)
    fit(big, DataLoader(ds, batch_size=k * B), optimizer=opt_big, epochs=2, device=device, progress=False)
    assert len(opt_small.grads) == len(opt_big.grads), "one optimizer step per k micro-batches"
    for step, (gs, gb) in enumerate(zip(opt_small.grads, opt_big.grads)):
        for i, (a, b) in enumerate(zip(gs, gb)):
            assert_close(a, b, rtol=1e-10, atol=1e-12,
                         msg=lambda m: f"gradient of parameter {i} at optimizer step {step}: {m}")
    for a, b in zip(small.parameters(), big.parameters()):
        assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_gradient_accumulation_without_rescaling_would_fail_the_test():
    """Guard for the test above: summing micro-batch mean losses (a common bug) differs."""
    X, y = _data(n=32)
    m = _model()
    loss_fn = nn.CrossEntropyLoss()
    for xb, yb in zip(X.split(8), y.split(8)):
        loss_fn(m(xb), yb).backward()
    summed = m[0].weight.grad.clone()
    m.zero_grad()
    loss_fn(m(X), y).backward()
    assert not torch.allclose(summed, m[0].weight.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_fit_learns_and_evaluate_uses_eval_mode_and_no_grad(device):
    X, y = _data(n=256, seed=1, dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = _model(dtype=torch.float32)
    before = evaluate(model, loader, device=device)
    history = fit(model, loader, optimizer=Adam(model.parameters(), lr=0.02), epochs=15,
                  val_loader=loader, device=device, progress=False)
    assert isinstance(history, History) and history.epochs == 15
    assert next(model.parameters()).device.type == torch.device(device).type
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_acc[-1] > 0.9 > before["accuracy"], f"accuracy {before['accuracy']} -> {history.val_acc}"
    # evaluate: eval mode inside, the previous mode restored, no graph built
    seen = {}

    class Probe(nn.Module):
        def forward(self, x):
            seen["training"], seen["grad"] = self.training, torch.is_grad_enabled()
            return x

    probe_model = nn.Sequential(model, Probe()).train()
    result = evaluate(probe_model, loader, device=device)
    assert seen == {"training": False, "grad": False}
    assert probe_model.training, "evaluate must restore training mode"
    assert set(result) == {"loss", "accuracy"} and result["accuracy"] == pytest.approx(history.val_acc[-1])


def test_fit_trains_in_train_mode_with_grad():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append((self.training, torch.is_grad_enabled()))
            return x

    X, y = _data(n=16, dtype=torch.float32)
    model = nn.Sequential(nn.Linear(5, 3), Probe())
    model.eval()
    fit(model, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=SGD(model.parameters(), lr=0.1),
        val_loader=DataLoader(TensorDataset(X, y), batch_size=8), device="cpu", progress=False)
    assert seen[:2] == [(True, True)] * 2 and seen[2:] == [(False, False)] * 2


@pytest.mark.parametrize("interval,expected_steps", [("batch", 12), ("epoch", 3)])
def test_scheduler_stepped_per_batch_or_per_epoch(interval, expected_steps):
    X, y = _data(n=32, dtype=torch.float32)
    model = _model(dtype=torch.float32)
    opt = SGD(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 0.5**t)
    history = fit(model, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=opt, epochs=3,
                  scheduler=sched, scheduler_interval=interval, device="cpu", progress=False)
    assert sched.last_epoch == expected_steps
    assert history.lr[-1] == pytest.approx(0.5**expected_steps)


def test_gradient_clipping_bounds_the_update():
    X, y = _data(n=8, dtype=torch.float32)
    model = _model(dtype=torch.float32)
    start = [p.detach().clone() for p in model.parameters()]
    fit(model, DataLoader(TensorDataset(X * 100, y), batch_size=8), optimizer=SGD(model.parameters(), lr=1.0),
        clip_grad_norm=0.01, device="cpu", progress=False)
    step = torch.cat([(p.detach() - s).flatten() for p, s in zip(model.parameters(), start)])
    assert step.norm().item() == pytest.approx(0.01, rel=1e-4), "lr=1 SGD step = clipped gradient, norm 0.01"


def test_early_stopping_stops_and_restores_the_best_weights():
    # noisy, overfitting setup: 8 training points, validation labels unrelated
    X, y = _data(n=8, d=5, seed=2, dtype=torch.float32)
    Xv, yv = _data(n=64, d=5, seed=3, dtype=torch.float32)
    yv = (yv + 1) % 3
    model = _model(dtype=torch.float32)
    snapshots = []

    class Snap(torch.optim.lr_scheduler.LambdaLR):
        def step(self, *a, **k):
            snapshots.append(copy.deepcopy(model.state_dict()))
            super().step(*a, **k)

    opt = Adam(model.parameters(), lr=0.05)
    sched = Snap(opt, lambda t: 1.0)
    snapshots.clear()  # the scheduler steps once on construction
    history = fit(model, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=opt, epochs=100,
                  val_loader=DataLoader(TensorDataset(Xv, yv), batch_size=64), early_stopping_patience=3,
                  scheduler=sched, device="cpu", progress=False)
    assert history.stopped_early and history.epochs < 100
    best = history.best_epoch
    assert history.val_loss[best] == min(history.val_loss)
    assert history.epochs == best + 1 + 3, "stops after `patience` epochs without improvement"
    assert history.restored_best
    for key, value in model.state_dict().items():
        assert_close(value, snapshots[best][key], msg=lambda m: f"restored weights {key} = epoch {best}'s: {m}")
    assert not torch.equal(snapshots[-1]["0.weight"], snapshots[best]["0.weight"])


def test_mixed_precision_warns_off_cuda_and_bad_arguments_raise():
    X, y = _data(n=8, dtype=torch.float32)
    model = _model(dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    with pytest.warns(UserWarning, match="mixed_precision"):
        fit(model, loader, optimizer=SGD(model.parameters(), lr=0.1), mixed_precision=True, device="cpu",
            progress=False)
    for kwargs, name in [({"epochs": 0}, "epochs"), ({"accumulation_steps": 0}, "accumulation_steps"),
                         ({"scheduler_interval": "step"}, "scheduler_interval"),
                         ({"monitor": "val_loss"}, "val_loader")]:
        with pytest.raises(ValueError, match=name):
            fit(model, loader, optimizer=SGD(model.parameters(), lr=0.1), device="cpu", progress=False, **kwargs)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="mixed precision needs CUDA")
def test_mixed_precision_on_cuda_learns():
    X, y = _data(n=256, seed=1, dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, y), batch_size=32)
    model = _model(dtype=torch.float32)
    history = fit(model, loader, optimizer=Adam(model.parameters(), lr=0.02), epochs=10, device="cuda",
                  mixed_precision=True, progress=False)
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]


def test_progress_bar_and_plot_history(capsys):
    X, y = _data(n=16, dtype=torch.float32)
    model = _model(dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, y), batch_size=4)
    history = fit(model, loader, optimizer=SGD(model.parameters(), lr=0.1), epochs=2, val_loader=loader,
                  device="cpu", progress=True, early_stopping_patience=5)
    assert "epoch" in capsys.readouterr().err, "a tqdm bar labelled with the epoch"
    axes = plot_history(history, metrics=("loss", "accuracy", "lr"))
    assert [ax.get_ylabel() for ax in axes] == ["loss", "accuracy", "learning rate"]
    assert all(ax.get_xlabel() == "epoch" for ax in axes)
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels[:2] == ["training", "validation"]
    line = axes[0].get_lines()[0]
    assert list(line.get_ydata()) == history.train_loss and list(line.get_xdata()) == [1, 2]
    assert plot_history({"train_loss": [3.0, 2.0]}, metrics=("loss",))[0].get_ylabel() == "loss"
    with pytest.raises(ValueError, match="metrics"):
        plot_history({"train_loss": [1.0]}, metrics=("accuracy",))
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("monitor, field", [("val_acc", "val_acc"), ("val_accuracy", "val_acc"),
                                            ("train_loss", "train_loss"), ("train_accuracy", "train_acc")])
def test_fit_fills_the_shared_history_fields(monitor, field):
    """fit returns the History numpy_ref.models.train returns: the same field names, filled."""
    from dlcourse.numpy_ref.models import History as NumpyHistory

    X, y = _data(n=32, dtype=torch.float32)
    loader = DataLoader(TensorDataset(X, y), batch_size=8)
    model = _model(dtype=torch.float32)
    history = fit(model, loader, optimizer=SGD(model.parameters(), lr=0.0), epochs=10, val_loader=loader,
                  device="cpu", progress=False, early_stopping_patience=2, monitor=monitor)
    assert type(history) is NumpyHistory
    assert history.monitor == field
    assert history.stopped_epoch == 2 and history.stopped_early and history.epochs == 3, "lr 0: never improves"
    assert history.best_epoch == 0 and history.restored_best
    for name in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time"):
        assert len(getattr(history, name)) == 3, name
    assert len(history.batch_loss) == 3 * 4


def test_fit_without_early_stop_leaves_stopped_epoch_unset():
    X, y = _data(n=16, dtype=torch.float32)
    model = _model(dtype=torch.float32)
    history = fit(model, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=SGD(model.parameters(), lr=0.1),
                  epochs=2, device="cpu", progress=False)
    assert history.stopped_epoch is None and not history.stopped_early and history.monitor == "train_loss"
    with pytest.raises(ValueError, match="monitor"):
        fit(model, DataLoader(TensorDataset(X, y), batch_size=8), optimizer=SGD(model.parameters(), lr=0.1),
            device="cpu", progress=False, monitor="accuracy")
