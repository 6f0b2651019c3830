"""Out-of-process probes for a4_pytorch_gpu (see dlcourse.grading.probes). Instructor only: never released.

Each probe runs the student's code on inputs drawn for that student in a fresh interpreter
(where dlcourse.numpy_ref / dlcourse.torch_ref cannot be imported) and returns plain arrays;
the expected values are computed here, in the grader's process, with PyTorch in float64 (and
the course reference where it has the function). The re-implementation exercises (BatchNorm1d,
Dropout, Adam) are run with ``forbid=``: a call of PyTorch's own implementation fails the probe.
The functions whose tests run them on every device run here on a simulated CUDA device
(dlcourse.grading.simulated_device, on any grader, GPU or not): the CPU computes, with the CPU's exact
numbers, but a tensor left behind by a forgotten ``.to(device)`` fails as it would on a GPU.

A probe takes only the points of the cells whose behaviour it checks: a probe on typical inputs, checking what
the visible test asserts, names both test cells of its exercise; a probe of what only the hidden test checks
(a non-default eps, a parameter without gradient, MPS, ...) names only the hidden cell.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.data import load_digits_images
from dlcourse.grading.forbidden import TORCH_ADAM, TORCH_BATCHNORM, TORCH_DROPOUT
from dlcourse.grading.probe_helpers import TORCH_SETUP, exercise_cells, run_setup
from dlcourse.grading.probe_helpers import close_message as _close, first_problem as _first
from dlcourse.grading.probes import Probe
from dlcourse.grading.tensors import float64_tensor as _t
from dlcourse.torch_ref import evaluate as ref_evaluate

PART1, PART2, PART3, PART4, PART5, PART6, PART7, PART8 = (exercise_cells(f"part{i}") for i in range(1, 9))

# The course's references are hidden from the probe run (the default FORBIDDEN); calls of torch's own
# implementations of the re-implemented features fail their probes (Probe(forbid=...)).
CALL_TIMEOUT = 180
# The test accuracy train_digits must reach in the probe's run (6 epochs, batches of 64, no accumulation: the visible
# test's run with this student's seed). Measured with the solution over 150 seeds: min 0.889, mean 0.961. (The earlier
# run, 4 epochs of 32 with accumulation 2, had min 0.872 against its threshold of 0.88: 2 correct solutions in 150 failed.)
TRAIN_DIGITS_ACCURACY = 0.85

# Helpers defined in the probe runner after the student's cells. They build inputs from plain
# arrays, call the student's code, and return plain arrays (nothing they return is trusted).
SETUP = TORCH_SETUP + r'''
import torch.nn.functional as _F
from unittest import mock as _mock
from dlcourse.grading.simulated_device import simulated_cuda as _simulated_cuda

_CUDA = "cuda"  # the simulated CUDA device: a tensor left on the CPU fails there as on a GPU


def _on_device(what, *tensors):
    for t in tensors:
        if not (isinstance(t, _torch.Tensor) and t.device.type == _CUDA):
            raise RuntimeError(f"{what} is on {getattr(t, 'device', type(t).__name__)}, not on the device of the inputs (cuda)")


def _probe_two_layer_manual(x, y, w1, w2):
    with _simulated_cuda(), _torch.inference_mode():
        loss, g1, g2 = two_layer_manual(*(_t(a).to(_CUDA) for a in (x, y, w1, w2)))
        _on_device("a result of two_layer_manual", loss, g1, g2)
        return float(loss), _n(g1), _n(g2)


def _probe_train_two_layer_autograd(x, y, w1, w2, lr, steps):
    with _simulated_cuda():
        x_t, y_t, w1_t, w2_t = (_t(a).to(_CUDA) for a in (x, y, w1, w2))
        n1, n2, losses = train_two_layer_autograd(x_t, y_t, w1_t, w2_t, lr=lr, steps=steps)
        _on_device("the weights returned by train_two_layer_autograd", n1, n2)
        return _n(n1), _n(n2), [float(v) for v in losses], bool(_np.array_equal(_n(w1_t), w1))


def _probe_choose_device():
    found = []
    for cuda, mps in [(True, False), (True, True), (False, True), (False, False)]:
        with _mock.patch("torch.cuda.is_available", return_value=cuda), \
                _mock.patch("torch.backends.mps.is_available", return_value=mps):
            d = choose_device()
        found.append(d.type if isinstance(d, _torch.device) else repr(d))
    return found


def _probe_train_on_device(state, x, y, lr, steps):
    d_in, hid, d_out = state["linear1.weight"].shape[1], state["linear1.weight"].shape[0], state["linear2.weight"].shape[0]
    model = TwoLayerNet(d_in, hid, d_out).double()
    model.load_state_dict({k: _t(v) for k, v in state.items()})
    model.eval()
    with _simulated_cuda():
        losses = train_on_device(model, _t(x), _t(y), device=_CUDA, lr=lr, steps=steps)
        places = sorted({p.device.type for p in model.parameters()})
        return ([float(v) for v in losses], {k: _n(v) for k, v in model.state_dict().items()}, places,
                bool(model.training))


def _probe_batchnorm(c, eps, momentum, weight, bias, batches, ups, x_eval):
    bn = (BatchNorm1d(c, momentum=momentum) if eps is None else BatchNorm1d(c, eps=eps, momentum=momentum)).double()
    keys = list(bn.state_dict())
    params = sorted(name for name, _ in bn.named_parameters())
    with _torch.no_grad():
        bn.weight.copy_(_t(weight))
        bn.bias.copy_(_t(bias))
    with _simulated_cuda():
        bn.to(_CUDA)
        outs, grads = [], []
        for x, up in zip(batches, ups):
            xt = _t(x).to(_CUDA).requires_grad_(True)
            out = bn(xt)
            (out * _t(up).to(_CUDA)).sum().backward()
            _on_device("the output of BatchNorm1d", out)
            outs.append(_n(out))
            grads.append((_n(xt.grad), _n(bn.weight.grad), _n(bn.bias.grad)))
            bn.weight.grad = None
            bn.bias.grad = None
        stats = (_n(bn.running_mean), _n(bn.running_var), float(bn.num_batches_tracked))
        bn.eval()
        with _torch.no_grad():
            evaluated = _n(bn(_t(x_eval).to(_CUDA)))
        return {"keys": keys, "params": params, "outs": outs, "grads": grads, "stats": stats, "eval": evaluated}


def _probe_dropout(p, x, up, seed):
    drop = Dropout(p)
    with _simulated_cuda():  # the simulated device draws the CPU's random numbers: torch's CPU Dropout is the reference
        xt = _t(x).to(_CUDA).requires_grad_(True)
        _torch.manual_seed(seed)
        out = drop(xt)
        (out * _t(up).to(_CUDA)).sum().backward()
        _on_device("the output of Dropout", out)
        drop.eval()
        evaluated = drop(_t(x).to(_CUDA))
        edges = [_n(Dropout(1.0)(_t(x).to(_CUDA))), _n(Dropout(0.0)(_t(x).to(_CUDA)))]
        return _n(out), _n(xt.grad), _n(evaluated), edges, len(drop.state_dict())


def _probe_adam(inits, coefs, kwargs, steps, gamma, edge):
    with _simulated_cuda():
        return _adam_run(inits, coefs, kwargs, steps, gamma, edge)


def _adam_run(inits, coefs, kwargs, steps, gamma, edge):
    # edge: a parameter that never gets a gradient, and step(closure); else zero_grad, backward, step()
    params = [_t(a).to(_CUDA).requires_grad_(True) for a in inits]
    frozen = _torch.zeros(2, dtype=_torch.float64, device=_CUDA, requires_grad=True)
    groups = [{"params": params[:1] + ([frozen] if edge else [])}, {"params": params[1:], "lr": kwargs["lr"] * 0.3}]
    opt = Adam(groups, **kwargs)
    sched = _torch.optim.lr_scheduler.ExponentialLR(opt, gamma=gamma)
    cs = [_t(c).to(_CUDA) for c in coefs]
    losses = []
    for _ in range(steps):
        def closure():
            opt.zero_grad()
            loss = sum((_torch.sin(p * c) + 0.5 * (p - c) ** 2).sum() for p, c in zip(params, cs)) + params[0].sum() ** 2
            loss.backward()
            return loss
        if edge:
            out = opt.step(closure)
            losses.append(float(out.detach()) if _torch.is_tensor(out) else float("nan"))
        else:
            losses.append(float(closure().detach()))
            opt.step()
        sched.step()
    state = opt.state[params[0]]
    _on_device("Adam's state", *(v for v in state.values() if _torch.is_tensor(v) and v.dim() > 0))
    if not edge:
        return [_n(p) for p in params], losses, sorted(state)
    return ([_n(p) for p in params], losses, sorted(state), float(state["step"]), len(opt.state[frozen]),
            _n(frozen))


def _probe_convnet(state, x, channels, classes):
    net = SmallConvNet(channels, classes).double()
    net.load_state_dict({k: _t(v) for k, v in state.items()})
    with _torch.no_grad():
        return _n(net(_t(x)))


def _probe_loaders(batch_size, seed):
    from dlcourse.data import load_digits_images as _load
    loaders = make_loaders(_load(size=16, channels=1), batch_size=batch_size, seed=seed)
    train = [_n(yb) for _ in range(2) for _, yb in loaders[0]]
    return ([len(t) for t in train], _np.concatenate(train), _np.concatenate([_n(yb) for _, yb in loaders[1]]),
            _np.concatenate([_n(yb) for _, yb in loaders[2]]), [int(getattr(l, "num_workers", -1)) for l in loaders])


def _probe_loaders_reproducible(batch_size, seed, other_seed):
    from dlcourse.data import load_digits_images as _load
    data = _load(size=16, channels=1)
    loaders = make_loaders(data, batch_size=batch_size, seed=seed)
    first = [_n(yb) for _, yb in loaders[0]]
    again = _np.concatenate([_n(yb) for _, yb in make_loaders(data, batch_size=batch_size, seed=seed)[0]])
    other = _np.concatenate([_n(yb) for _, yb in make_loaders(data, batch_size=batch_size, seed=other_seed)[0]])
    return ([len(t) for t in first], _np.concatenate(first), again, other,
            _np.concatenate([_n(yb) for _, yb in loaders[1]]), [int(getattr(l, "num_workers", -1)) for l in loaders])


def _probe_train_one_epoch(state, X, Y, micro, k, lr):
    from torch.utils.data import DataLoader as _DL, TensorDataset as _TD
    d, c = X.shape[1], int(Y.max()) + 1
    model = _torch.nn.Sequential(_torch.nn.Linear(d, 6), _torch.nn.Tanh(), _torch.nn.Linear(6, state["2.weight"].shape[0])).double()
    model.load_state_dict({key: _t(v) for key, v in state.items()})
    with _simulated_cuda():
        model.to(_CUDA)
        opt = _torch.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
        sched = _torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
        loader = _DL(_TD(_t(X), _torch.tensor(_np.asarray(Y), dtype=_torch.long)), batch_size=micro)
        mean_loss = train_one_epoch(model, loader, opt, device=_CUDA, scheduler=sched, accumulation_steps=k)
        return float(mean_loss), {key: _n(v) for key, v in model.state_dict().items()}, float(opt.param_groups[0]["lr"])


def _probe_evaluate_model(state, X, Y, batch_size):
    from torch.utils.data import DataLoader as _DL, TensorDataset as _TD
    batchnorm = "2.running_mean" in state
    model = _torch.nn.Sequential(_torch.nn.Linear(X.shape[1], 8), _torch.nn.Dropout(0.5),
                                 _torch.nn.BatchNorm1d(8) if batchnorm else _torch.nn.Identity(),
                                 _torch.nn.Linear(8, state["3.weight"].shape[0])).double()
    model.load_state_dict({key: _t(v) for key, v in state.items()})
    model.train()
    loader = _DL(_TD(_t(X), _torch.tensor(_np.asarray(Y), dtype=_torch.long)), batch_size=batch_size)
    with _simulated_cuda():
        model.to(_CUDA)
        loss, acc = evaluate_model(model, loader, device=_CUDA)
        return float(loss), float(acc), bool(model.training), _n(model[2].running_mean) if batchnorm else None


def _probe_train_digits(seed, epochs, batch_size, accumulation_steps):
    from dlcourse.data import load_digits_images as _load
    with _simulated_cuda():
        model, history = train_digits(_load(size=16, channels=1), device=_CUDA, epochs=epochs, batch_size=batch_size,
                                      accumulation_steps=accumulation_steps, seed=seed)
        _on_device("the model of train_digits", *model.parameters())
        return {k: _n(v) for k, v in model.state_dict().items()}, {k: [float(v) for v in vals] for k, vals in history.items()}


def _probe_initial_loss(weight, bias, x, y):
    net = _torch.nn.Sequential(_torch.nn.Flatten(), _torch.nn.Linear(weight.shape[1], weight.shape[0]), _torch.nn.Dropout(0.5))
    with _torch.no_grad():
        net[1].weight.copy_(_t(weight).float())
        net[1].bias.copy_(_t(bias).float())
    net.train()
    with _simulated_cuda():
        net.to(_CUDA)
        loss = initial_loss(net, _t(x).float(), _torch.tensor(_np.asarray(y), dtype=_torch.long), device=_CUDA)
        return float(loss), bool(net.training)


def _probe_overfit(indices, seed):
    from dlcourse.data import load_digits_images as _load
    data = _load(size=16, channels=1)
    xs = _torch.tensor(data.X_train[_np.asarray(indices)])
    ys = _torch.tensor(data.y_train[_np.asarray(indices)])
    _torch.manual_seed(seed)
    model = SmallConvNet()
    with _simulated_cuda():
        history = overfit_small_sample(model, xs, ys, device=_CUDA, steps=150, lr=1e-2)
        _on_device("the model of overfit_small_sample", *model.parameters())
        return {k: _n(v) for k, v in model.state_dict().items()}, [float(v) for v in history["loss"]], len(history["accuracy"])


def _probe_synchronize(edge):
    # edge: torch.device("cpu"), an indexed CUDA device and Apple's MPS; else "cpu", "cuda", torch.device("cuda")
    devices = ((_torch.device("cpu"), _torch.device("cuda", 0), "mps") if edge
               else ("cpu", "cuda", _torch.device("cuda")))
    with _mock.patch("torch.cuda.synchronize") as cuda_sync, _mock.patch("torch.mps.synchronize") as mps_sync:
        for device in devices:
            synchronize(device)
    return cuda_sync.call_count, mps_sync.call_count


def _probe_watch(fn, *args, model=None, **kwargs):
    import threading as _threading
    import time as _time
    events, main = [], _threading.get_ident()
    real_sync, real_clock = globals()["synchronize"], _time.perf_counter

    def spy_sync(device):
        events.append("sync")
        return real_sync(device)

    def spy_clock():
        if _threading.get_ident() == main:
            events.append("clock")
        return real_clock()

    hook = model.register_forward_hook(lambda *a: events.append("forward")) if model is not None else None
    globals()["synchronize"] = spy_sync
    try:
        with _mock.patch("time.perf_counter", spy_clock):
            result = fn(*args, **kwargs)
    finally:
        globals()["synchronize"] = real_sync
        if hook is not None:
            hook.remove()
    return result, events


def _probe_time_matmul(n, repeats):
    with _simulated_cuda():
        (seconds, gflops), events = _probe_watch(time_matmul, n, device=_CUDA, repeats=repeats)
        return float(seconds), float(gflops), events


def _probe_time_train_step(n, repeats, seed):
    _torch.manual_seed(seed)
    model = _torch.nn.Sequential(_torch.nn.Linear(6, 16), _torch.nn.ReLU(), _torch.nn.Linear(16, 4)).eval()
    before = _n(model[0].weight).copy()
    with _simulated_cuda():
        seconds, events = _probe_watch(time_train_step, model, _torch.randn(n, 6), _torch.randint(0, 4, (n,)),
                                       device=_CUDA, repeats=repeats, model=model)
        _on_device("the model of time_train_step", *model.parameters())
        return float(seconds), events, bool(not _np.array_equal(before, _n(model[0].weight))), bool(model.training)
'''


# ---------------------------------------------------------------------------------- references

def _two_layer_args(rng):
    n, d_in, hid, d_out = (int(v) for v in rng.integers([3, 3, 3, 1], [20, 12, 12, 5]))
    return (rng.normal(size=(n, d_in)), rng.normal(size=(n, d_out)), rng.normal(scale=0.5, size=(d_in, hid)),
            rng.normal(scale=0.5, size=(hid, d_out)))


def _two_layer_expected(x, y, w1, w2):
    a1, a2 = _t(w1).requires_grad_(True), _t(w2).requires_grad_(True)
    loss = (_t(x).mm(a1).clamp(min=0).mm(a2) - _t(y)).pow(2).sum()
    loss.backward()
    return loss.item(), a1.grad.numpy(), a2.grad.numpy()


def _gd_trajectory(x, y, w1, w2, lr, steps):
    x, y, r1, r2 = _t(x), _t(y), _t(w1), _t(w2)
    losses = []
    for _ in range(steps):
        h = x.mm(r1)
        y_pred = h.clamp(min=0).mm(r2)
        losses.append((y_pred - y).pow(2).sum().item())
        d = 2.0 * (y_pred - y)
        r1, r2 = r1 - lr * x.t().mm(d.mm(r2.t()) * (h > 0)), r2 - lr * h.clamp(min=0).t().mm(d)
    return r1.numpy(), r2.numpy(), losses


def _check_autograd_training(result, args, kwargs):
    n1, n2, losses, untouched = result
    r1, r2, ref_losses = _gd_trajectory(*args)
    if not untouched:
        return "train_two_layer_autograd changed the caller's w1"
    return _first(_close(np.asarray(losses), ref_losses, "losses"), _close(n1, r1, "w1"), _close(n2, r2, "w2"))


def _check_choose_device(result, args, kwargs):
    want = ["cuda", "cuda", "mps", "cpu"]
    return None if list(result) == want else f"choose_device on simulated machines gave {result}, expected {want}"


def _train_on_device_args(rng):
    d_in, hid, d_out, n = (int(v) for v in rng.integers([2, 3, 1, 4], [10, 16, 5, 25]))
    state = {"linear1.weight": rng.normal(scale=0.5, size=(hid, d_in)), "linear1.bias": rng.normal(scale=0.1, size=hid),
             "linear2.weight": rng.normal(scale=0.5, size=(d_out, hid)), "linear2.bias": rng.normal(scale=0.1, size=d_out)}
    return state, rng.normal(size=(n, d_in)), rng.normal(size=(n, d_out)), float(rng.uniform(0.02, 0.2)), int(rng.integers(3, 8))


def _check_train_on_device(result, args, kwargs):
    losses, state, places, training = result
    start, x, y, lr, steps = args
    ref = nn.Sequential(nn.Linear(x.shape[1], start["linear1.weight"].shape[0]), nn.ReLU(),
                        nn.Linear(start["linear2.weight"].shape[1], y.shape[1])).double()
    ref.load_state_dict({k.replace("linear1", "0").replace("linear2", "2"): _t(v) for k, v in start.items()})
    opt = torch.optim.SGD(ref.parameters(), lr=lr)
    ref_losses = []
    for _ in range(steps):
        loss = F.mse_loss(ref(_t(x)), _t(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ref_losses.append(loss.item())
    if list(places) != ["cuda"]:
        return f"train_on_device(device='cuda') left parameters on {places}"
    if not training:
        return "train_on_device must put the model in training mode (model.train())"
    if sorted(state) != sorted(start):
        return f"TwoLayerNet state_dict keys {sorted(state)}, expected {sorted(start)}"
    messages = [_close(np.asarray(losses), ref_losses, "losses")]
    messages += [_close(state[k.replace("0.", "linear1.").replace("2.", "linear2.")], v.detach().numpy(), k)
                 for k, v in ref.state_dict().items()]
    return _first(*messages)


def _batchnorm_args(rng, edge):
    """Typical: the default eps, two batches shaped like the visible test's; edge (the hidden test's): eps of this
    student, and three batches, the first of only 2 or 3 samples."""
    c = int(rng.integers(2, 7))
    if edge:
        shapes = [(int(rng.integers(2, 4)), c), (int(rng.integers(3, 6)), c, int(rng.integers(2, 6))),
                  (int(rng.integers(8, 20)), c)]
    else:
        shapes = [(int(rng.integers(4, 9)), c), (int(rng.integers(3, 6)), c, int(rng.integers(2, 6)))]
    batches = [rng.normal(loc=float(rng.normal(scale=3)), scale=float(rng.uniform(0.5, 3)), size=s) for s in shapes]
    eps = float(10 ** rng.uniform(-4, -2)) if edge else None
    return (c, eps, float(rng.uniform(0.05, 0.5)), rng.normal(size=c), rng.normal(size=c),
            batches, [rng.normal(size=s) for s in shapes], rng.normal(size=(int(rng.integers(2, 6)), c)))


def _check_batchnorm(result, args, kwargs):
    c, eps, momentum, weight, bias, batches, ups, x_eval = args
    torch_bn = nn.BatchNorm1d(c, eps=1e-5 if eps is None else eps, momentum=momentum).double()
    if result["keys"] != list(torch_bn.state_dict()):
        return f"state_dict keys {result['keys']}, expected {list(torch_bn.state_dict())}"
    if result["params"] != ["bias", "weight"]:
        return f"parameters {result['params']}, expected only weight and bias"
    with torch.no_grad():
        torch_bn.weight.copy_(_t(weight))
        torch_bn.bias.copy_(_t(bias))
    messages = []
    for i, (x, up) in enumerate(zip(batches, ups)):
        xt = _t(x).requires_grad_(True)
        out = torch_bn(xt)
        (out * _t(up)).sum().backward()
        gx, gw, gb = result["grads"][i]
        messages += [_close(result["outs"][i], out.detach().numpy(), f"training output {i + 1}"),
                     _close(gx, xt.grad.numpy(), f"gradient wrt x, batch {i + 1}"),
                     _close(gw, torch_bn.weight.grad.numpy(), f"gradient wrt weight, batch {i + 1}"),
                     _close(gb, torch_bn.bias.grad.numpy(), f"gradient wrt bias, batch {i + 1}")]
        torch_bn.weight.grad = torch_bn.bias.grad = None
    mean, var, tracked = result["stats"]
    messages += [_close(mean, torch_bn.running_mean.numpy(), "running_mean"),
                 _close(var, torch_bn.running_var.numpy(), "running_var"),
                 _close(tracked, float(len(batches)), "num_batches_tracked", rtol=0, atol=0)]
    torch_bn.eval()
    with torch.no_grad():
        messages.append(_close(result["eval"], torch_bn(_t(x_eval)).numpy(), "evaluation output"))
    return _first(*messages)


def _dropout_args(rng):
    shape = tuple(int(s) for s in rng.integers(2, 7, size=int(rng.integers(2, 4))))
    return (float(rng.uniform(0.1, 0.8)), rng.normal(loc=1.0, size=shape), rng.normal(size=shape),
            int(rng.integers(0, 2**31)))


def _check_dropout(result, args, kwargs):
    out, grad, evaluated, edges, n_state = result
    p, x, up, seed = args
    xt = _t(x).requires_grad_(True)
    torch.manual_seed(seed)
    ref = nn.Dropout(p)(xt)
    (ref * _t(up)).sum().backward()
    if n_state != 0:
        return f"Dropout has {n_state} state_dict entries, expected none"
    return _first(_close(out, ref.detach().numpy(), "Dropout output with the same seed", rtol=1e-12, atol=1e-14),
                  _close(grad, xt.grad.numpy(), "Dropout gradient", rtol=1e-12, atol=1e-14),
                  _close(evaluated, x, "evaluation mode", rtol=0, atol=0),
                  _close(edges[0], np.zeros_like(x), "Dropout(1)", rtol=0, atol=0),
                  _close(edges[1], x, "Dropout(0)", rtol=0, atol=0))


def _adam_args(rng, config):
    """config "lr": lr only; "amsgrad": betas, weight decay and AMSGrad (the visible test's second run, default eps);
    "edge": betas, eps and weight decay of this student, a parameter without gradient and step(closure)."""
    shapes = [tuple(int(s) for s in rng.integers(1, 5, size=int(rng.integers(1, 3)))) for _ in range(3)]
    kwargs = {"lr": float(rng.uniform(0.005, 0.05))}
    if config != "lr":
        kwargs.update(betas=(float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.9, 0.9999))),
                      weight_decay=float(rng.uniform(0.01, 0.3)))
    if config == "amsgrad":
        kwargs["amsgrad"] = True
    if config == "edge":
        kwargs["eps"] = float(10 ** rng.uniform(-6, -4))
    return ([rng.normal(size=s) for s in shapes], [rng.normal(size=s) for s in shapes], kwargs,
            int(rng.integers(5, 10)), float(rng.uniform(0.7, 0.95)), config == "edge")


# The probe's own driver, run here with PyTorch's Adam (the plain for-loop implementation) as the reference.
_REF = run_setup(SETUP, "a4 probe setup, reference", Adam=functools.partial(torch.optim.Adam, foreach=False))


def _check_adam(result, args, kwargs_unused):
    inits, coefs, kwargs, steps, gamma, edge = args
    params_out, losses, keys = result[:3]
    params, ref_losses, want_keys = _REF["_probe_adam"](inits, coefs, kwargs, steps, gamma, edge)[:3]
    if list(keys) != want_keys:
        return f"state keys {keys}, expected torch's {want_keys}"
    messages = [_close(np.asarray(losses), ref_losses,
                       "losses returned by step(closure)" if edge else f"losses of {steps} steps", rtol=1e-10, atol=1e-12)]
    if edge:
        step, frozen_state, frozen = result[3:]
        if frozen_state != 0 or np.any(frozen != 0):
            return "a parameter without gradient must get no state and no update"
        messages.append(_close(step, float(steps), "state['step']", rtol=0, atol=0))
    messages += [_close(a, b, f"parameter {i} after {steps} steps", rtol=1e-10, atol=1e-12)
                 for i, (a, b) in enumerate(zip(params_out, params))]
    return _first(*messages)


def _convnet_state(rng, channels, classes):
    shapes = {"conv1.weight": (16, channels, 3, 3), "conv1.bias": (16,), "conv2.weight": (32, 16, 3, 3),
              "conv2.bias": (32,), "fc.weight": (classes, 512), "fc.bias": (classes,)}
    return {k: rng.normal(scale=0.3, size=s) for k, s in shapes.items()}


def _convnet_forward(state, x):
    s = {k: _t(v) for k, v in state.items()}
    h = F.max_pool2d(F.relu(F.conv2d(_t(x), s["conv1.weight"], s["conv1.bias"], padding=1)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, s["conv2.weight"], s["conv2.bias"], padding=1)), 2)
    return F.linear(h.flatten(1), s["fc.weight"], s["fc.bias"]).numpy()


def _convnet_args(rng, edge):
    """Typical: the default SmallConvNet (1 channel, 10 classes); edge: 3 input channels and another number of classes."""
    channels, classes = (3, int(rng.integers(2, 10))) if edge else (1, 10)
    return _convnet_state(rng, channels, classes), rng.normal(size=(int(rng.integers(1, 5)), channels, 16, 16)), channels, classes


@functools.lru_cache(maxsize=1)
def _digits():
    return load_digits_images(size=16, channels=1)


def _loaders_reproducible_args(rng):
    seed = int(rng.integers(0, 2**31))
    return int(rng.choice([16, 25, 50, 64])), seed, (seed + 1 + int(rng.integers(0, 1000))) % 2**31


def _check_loaders_reproducible(result, args, kwargs):
    sizes, first, again, other, val_labels, workers = result
    batch_size, _, _ = args
    d = _digits()
    n = len(d.y_train)
    want_sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    if list(workers) != [0, 0, 0]:
        return f"num_workers of the three loaders: {workers}, expected 0"
    if list(sizes) != want_sizes:
        return f"training batch sizes {list(sizes)[:5]}..., expected {want_sizes[:5]}... (batch_size={batch_size})"
    if not np.array_equal(first, again):
        return "make_loaders with the same seed must give the same training order"
    if np.array_equal(first, other):
        return "make_loaders with another seed must give another training order"
    return _close(val_labels, d.y_val, "validation labels in order", rtol=0, atol=0)


def _check_loaders(result, args, kwargs):
    sizes, train_labels, val_labels, test_labels, workers = result
    batch_size, seed = args
    d = _digits()
    canonical = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(d.X_train), torch.tensor(d.y_train)),
                                            batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    want = [yb for _ in range(2) for _, yb in canonical]
    if list(workers) != [0, 0, 0]:
        return f"num_workers of the three loaders: {workers}, expected 0"
    if list(sizes) != [len(b) for b in want]:
        return f"training batch sizes {list(sizes)[:5]}..., expected {[len(b) for b in want][:5]}..."
    return _first(_close(train_labels, torch.cat(want).numpy(), "training labels over two epochs", rtol=0, atol=0),
                  _close(val_labels, d.y_val, "validation labels in order", rtol=0, atol=0),
                  _close(test_labels, d.y_test, "test labels in order", rtol=0, atol=0))


def _epoch_args(rng, short_group):
    """Whole groups of k micro-batches, or one more micro-batch: a short last group (both in the visible test)."""
    k, micro, groups = int(rng.integers(2, 4)), int(rng.integers(3, 6)), int(rng.integers(2, 4))
    n = k * micro * groups + (micro if short_group else 0)
    d, c = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    state = {"0.weight": rng.normal(scale=0.5, size=(6, d)), "0.bias": rng.normal(scale=0.1, size=6),
             "2.weight": rng.normal(scale=0.5, size=(c, 6)), "2.bias": rng.normal(scale=0.1, size=c)}
    return state, rng.normal(size=(n, d)), rng.integers(0, c, size=n), micro, k, float(rng.uniform(0.1, 0.5))


def _check_epoch(result, args, kwargs):
    mean_loss, state, lr_after = result
    start, X, Y, micro, k, lr = args
    model = nn.Sequential(nn.Linear(X.shape[1], 6), nn.Tanh(), nn.Linear(6, start["2.weight"].shape[0])).double()
    model.load_state_dict({key: _t(v) for key, v in start.items()})
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    batches = [(_t(X[i:i + micro]), torch.tensor(Y[i:i + micro])) for i in range(0, len(X), micro)]
    loss_sum, updates = 0.0, 0
    for j, (xb, yb) in enumerate(batches):
        loss = F.cross_entropy(model(xb), yb)
        (loss / k).backward()
        loss_sum += loss.item() * len(yb)
        if (j + 1) % k == 0 or j + 1 == len(batches):
            opt.step()
            opt.zero_grad()
            sched.step()
            updates += 1
    messages = [_close(mean_loss, loss_sum / len(X), "mean training loss"),
                _close(lr_after, lr * 0.7 ** updates, f"learning rate after {updates} updates (StepLR)")]
    messages += [_close(state[key], v.detach().numpy(), f"{key} after the epoch") for key, v in model.state_dict().items()]
    return _first(*messages)


def _evaluate_args(rng, batchnorm):
    """Linear, Dropout, Linear (the visible test's kind of model), or with a BatchNorm1d after the dropout."""
    d, c, n = int(rng.integers(3, 7)), int(rng.integers(2, 5)), int(rng.integers(20, 60))
    state = {"0.weight": rng.normal(size=(8, d)), "0.bias": rng.normal(size=8)}
    if batchnorm:
        state.update({"2.weight": rng.uniform(0.5, 2, size=8), "2.bias": rng.normal(size=8),
                      "2.running_mean": rng.normal(size=8), "2.running_var": rng.uniform(0.5, 2, size=8),
                      "2.num_batches_tracked": np.array(3)})
    state.update({"3.weight": rng.normal(size=(c, 8)), "3.bias": rng.normal(size=c)})
    return state, rng.normal(size=(n, d)), rng.integers(0, c, size=n), int(rng.integers(5, 20))


def _check_evaluate(result, args, kwargs):
    loss, acc, training, running_mean = result
    state, X, Y, batch_size = args
    batchnorm = "2.running_mean" in state
    model = nn.Sequential(nn.Linear(X.shape[1], 8), nn.Dropout(0.5), nn.BatchNorm1d(8) if batchnorm else nn.Identity(),
                          nn.Linear(8, state["3.weight"].shape[0]))
    model = model.double()
    model.load_state_dict({key: torch.tensor(np.asarray(v)) for key, v in state.items()})
    ref = ref_evaluate(model, torch.utils.data.DataLoader(torch.utils.data.TensorDataset(_t(X), torch.tensor(Y)),
                                                          batch_size=batch_size), device="cpu")
    if not training:
        return "evaluate_model must leave the model in training mode when it was in training mode"
    return _first(_close(loss, ref["loss"], "evaluate_model loss"), _close(acc, ref["accuracy"], "evaluate_model accuracy"),
                  _close(running_mean, state["2.running_mean"], "batch-norm running_mean (evaluation must not update it)",
                         rtol=0, atol=0) if batchnorm else None)


def _check_train_digits(result, args, kwargs):
    """The visible test's kind of run (batches of 64, no accumulation, this student's seed): the accuracy."""
    state, history = result
    _, epochs, batch_size, _ = args
    d = _digits()
    try:
        logits = _convnet_forward(state, d.X_test)
    except Exception as exc:  # noqa: BLE001 - a wrong architecture is a wrong answer
        return f"the trained SmallConvNet's state_dict does not fit the specified architecture ({exc})"
    acc = float(np.mean(logits.argmax(1) == d.y_test))
    if acc < TRAIN_DIGITS_ACCURACY:
        return (f"test accuracy {acc:.3f} of the trained model ({epochs} epochs, batches of {batch_size}, this student's "
                f"seed) is below {TRAIN_DIGITS_ACCURACY}")
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        if len(history.get(key, [])) != epochs:
            return f"history[{key!r}] must have one entry per epoch ({epochs})"
    return None


def _check_train_digits_schedule(result, args, kwargs):
    """Gradient accumulation in the whole run: the cosine schedule counts optimizer steps and ends at 0."""
    _, history = result
    _, epochs, batch_size, k = args
    for key in ("train_loss", "val_loss", "val_acc", "lr"):
        if len(history.get(key, [])) != epochs:
            return f"history[{key!r}] must have one entry per epoch ({epochs})"
    if not history["lr"][-1] < 1e-6:
        return (f"with cosine annealing over the whole run the final learning rate is 0, got {history['lr'][-1]} "
                f"({epochs} epochs, micro-batches of {batch_size}, accumulation_steps={k})")
    return None


def _check_initial_loss(result, args, kwargs):
    loss, training = result
    weight, bias, x, y = args
    logits = torch.tensor(np.asarray(x, dtype=np.float32)).flatten(1) @ _t(weight).float().T + _t(bias).float()
    want = F.cross_entropy(logits, torch.tensor(y)).item()
    if not training:
        return "initial_loss must leave the model in training mode"
    return _close(loss, want, "initial_loss (evaluation mode)", rtol=1e-5, atol=1e-6)


def _initial_loss_args(rng):
    d = _digits()
    pick = rng.choice(len(d.y_val), size=int(rng.integers(20, 80)), replace=False)
    return (rng.normal(scale=float(rng.uniform(0.01, 0.3)), size=(10, 256)), rng.normal(scale=0.1, size=10),
            d.X_val[pick], d.y_val[pick])


def _check_overfit(result, args, kwargs):
    state, losses, n_acc = result
    indices, _ = args
    d = _digits()
    try:
        logits = _convnet_forward(state, d.X_train[np.asarray(indices)])
    except Exception as exc:  # noqa: BLE001
        return f"the model's state_dict does not fit SmallConvNet ({exc})"
    acc = float(np.mean(logits.argmax(1) == d.y_train[np.asarray(indices)]))
    if acc < 1.0:
        return f"after 150 steps on 40 images the training accuracy is {acc:.3f}, expected 1.0"
    if len(losses) != 150 or n_acc != 150 or not losses[-1] < 0.05:
        return f"expected 150 recorded losses falling below 0.05, got {len(losses)} ending at {losses[-1] if losses else None}"
    return None


def _check_synchronize(result, args, kwargs):
    (edge,) = args
    if not edge:  # what the visible test asserts
        return None if result[0] == 2 else (
            f"synchronize called torch.cuda.synchronize {result[0]} times (expected 2: once per cuda device) for "
            '"cpu", "cuda", torch.device("cuda")')
    return None if tuple(result) == (1, 1) else (
        f"synchronize called torch.cuda.synchronize {result[0]} times (expected 1) and torch.mps.synchronize "
        f'{result[1]} times (expected 1) for torch.device("cpu"), torch.device("cuda", 0), "mps"')


def _sync_before_clocks(events) -> str | None:
    clocks = [i for i, e in enumerate(events) if e == "clock"]
    if len(clocks) < 2:
        return "the clock (time.perf_counter) must be read at the start and at the end"
    if clocks[0] == 0 or events[clocks[0] - 1] != "sync" or events[clocks[-1] - 1] != "sync":
        return f"synchronize(device) must come right before each clock read; order {events[:12]}"
    return None


def _check_time_matmul(result, args, kwargs):
    seconds, gflops, events = result
    n, _ = args
    if not (seconds > 0 and gflops > 0):
        return f"time_matmul returned ({seconds}, {gflops}); both must be positive"
    return _first(_close(gflops, 2 * n ** 3 / seconds / 1e9, "gflops = 2 n^3 / seconds / 1e9", rtol=1e-9, atol=0),
                  _sync_before_clocks(events))


def _check_time_train_step(result, args, kwargs):
    seconds, events, changed, training = result
    _, repeats, _ = args
    if not seconds > 0:
        return f"time_train_step returned {seconds}"
    problem = _sync_before_clocks(events)
    if problem:
        return problem
    clocks = [i for i, e in enumerate(events) if e == "clock"]
    if events[:clocks[0]].count("forward") < 1:
        return "no warm-up step before the clock started"
    if events[clocks[0]:clocks[-1]].count("forward") != repeats:
        return f"expected {repeats} timed steps between the clock reads"
    if not training:
        return "time_train_step must put the model in training mode (model.train())"
    return None if changed else "time_train_step took no optimizer steps"


def _hidden(cells: tuple[str, str]) -> tuple[str]:
    """Only the hidden test cell of an exercise's two (see :func:`dlcourse.grading.probe_helpers.hidden_cell`)."""
    return cells[1:]


# A probe takes the points of the cells whose behaviour it checks. Typical inputs and the properties the visible
# test asserts: both test cells (so tampering with the tests in the kernel buys nothing). Behaviour that only the
# hidden test checks (edge cases, other settings): a separate probe that takes only the hidden cell.
PROBES = [
    Probe("two_layer_manual", PART1, "_probe_two_layer_manual", args=_two_layer_args, expect=_two_layer_expected,
          rtol=1e-9, atol=1e-11),
    Probe("train_two_layer_autograd", PART1, "_probe_train_two_layer_autograd",
          args=lambda rng: (*_two_layer_args(rng), float(rng.uniform(1e-3, 3e-3)), int(rng.integers(3, 7))),
          check=_check_autograd_training),
    Probe("choose_device", PART2, "_probe_choose_device", check=_check_choose_device),
    Probe("train_on_device", PART2, "_probe_train_on_device", args=_train_on_device_args, check=_check_train_on_device),
    Probe("batchnorm", PART3, "_probe_batchnorm", args=lambda rng: _batchnorm_args(rng, False), check=_check_batchnorm,
          forbid=TORCH_BATCHNORM),
    Probe("batchnorm_eps_small_batch", _hidden(PART3), "_probe_batchnorm", args=lambda rng: _batchnorm_args(rng, True),
          check=_check_batchnorm, forbid=TORCH_BATCHNORM),
    Probe("dropout", PART4, "_probe_dropout", args=_dropout_args, check=_check_dropout, forbid=TORCH_DROPOUT),
    Probe("adam", PART5, "_probe_adam", args=lambda rng: _adam_args(rng, "lr"), check=_check_adam, forbid=TORCH_ADAM),
    Probe("adam_amsgrad_weight_decay", PART5, "_probe_adam", args=lambda rng: _adam_args(rng, "amsgrad"),
          check=_check_adam, forbid=TORCH_ADAM),
    Probe("adam_eps_closure_no_grad", _hidden(PART5), "_probe_adam", args=lambda rng: _adam_args(rng, "edge"),
          check=_check_adam, forbid=TORCH_ADAM),
    Probe("small_conv_net", PART6, "_probe_convnet", args=lambda rng: _convnet_args(rng, False),
          expect=lambda state, x, channels, classes: _convnet_forward(state, x), rtol=1e-9, atol=1e-10),
    Probe("small_conv_net_channels_classes", _hidden(PART6), "_probe_convnet", args=lambda rng: _convnet_args(rng, True),
          expect=lambda state, x, channels, classes: _convnet_forward(state, x), rtol=1e-9, atol=1e-10),
    Probe("make_loaders", PART6, "_probe_loaders_reproducible", args=_loaders_reproducible_args,
          check=_check_loaders_reproducible),
    Probe("make_loaders_exact_order", _hidden(PART6), "_probe_loaders",
          args=lambda rng: (int(rng.choice([16, 25, 50, 64])), int(rng.integers(0, 2**31))), check=_check_loaders),
    Probe("train_one_epoch", PART6, "_probe_train_one_epoch", args=lambda rng: _epoch_args(rng, False),
          check=_check_epoch),
    Probe("train_one_epoch_short_group", PART6, "_probe_train_one_epoch",
          args=lambda rng: _epoch_args(rng, True), check=_check_epoch),
    Probe("evaluate_model", PART6, "_probe_evaluate_model", args=lambda rng: _evaluate_args(rng, False),
          check=_check_evaluate),
    Probe("evaluate_model_batchnorm", _hidden(PART6), "_probe_evaluate_model", args=lambda rng: _evaluate_args(rng, True),
          check=_check_evaluate),
    Probe("train_digits", PART6, "_probe_train_digits", args=lambda rng: (int(rng.integers(0, 10_000)), 6, 64, 1),
          check=_check_train_digits),
    Probe("train_digits_accumulation_schedule", _hidden(PART6), "_probe_train_digits",
          args=lambda rng: (int(rng.integers(0, 10_000)), 1, 32, 2), check=_check_train_digits_schedule),
    Probe("initial_loss", PART7, "_probe_initial_loss", args=_initial_loss_args, check=_check_initial_loss),
    Probe("overfit_small_sample", PART7, "_probe_overfit",
          args=lambda rng: (sorted(int(i) for i in rng.choice(1079, size=40, replace=False)), int(rng.integers(0, 2**31))),
          check=_check_overfit),
    Probe("synchronize", PART8, "_probe_synchronize", args=lambda rng: (False,), check=_check_synchronize),
    Probe("synchronize_cpu_device_indexed_cuda_mps", _hidden(PART8), "_probe_synchronize", args=lambda rng: (True,),
          check=_check_synchronize),
    Probe("time_matmul", PART8, "_probe_time_matmul", args=lambda rng: (int(rng.integers(16, 96)), int(rng.integers(2, 5))),
          check=_check_time_matmul),
    Probe("time_train_step", PART8, "_probe_time_train_step",
          args=lambda rng: (int(rng.integers(8, 40)), int(rng.integers(2, 5)), int(rng.integers(0, 2**31))),
          check=_check_time_train_step),
]
