"""Out-of-process probes for a5_transfer_learning (see dlcourse.grading.probes). Instructor only: never released.

Each probe runs the student's code on inputs drawn for that student in a fresh interpreter, where
dlcourse.numpy_ref / dlcourse.torch_ref (and so the pretrained mini_vgg) cannot be imported: the
networks are built there from plain arrays by SETUP (a VGG layout written with torch.nn only), and the
results come back as plain arrays. The expected values are computed here, in the grader's process, with
PyTorch in float64 (the bounded probe run also uses the course's extract_features of the pretrained
mini_vgg).
The functions that move tensors (replace_classifier, train_model, evaluate_accuracy, extract_features,
train_linear_probe) run here on a simulated CUDA device (dlcourse.grading.simulated_device, on any grader,
GPU or not): the CPU computes, with the CPU's exact numbers, but a tensor left behind by a forgotten
``.to(device)`` fails as it would on a GPU.

A probe takes only the points of the cells whose behaviour it checks: a probe on typical inputs, checking what
the visible test asserts, names both test cells of its exercise; a probe of what only the hidden test checks
(freezing twice, conv layers after the last pooling, float64 models, the bounded run, ...) names only the hidden cell.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dlcourse.grading.probe_helpers import TORCH_SETUP, exercise_cells, run_setup
from dlcourse.grading.probe_helpers import close_message as _close, first_problem as _first
from dlcourse.grading.probes import Probe
from dlcourse.grading.tensors import float64_tensor as _t

PART1, PART2, PART3, PART4, PART5 = (exercise_cells(f"part{i}") for i in range(1, 6))

# The course's references (the pretrained mini_vgg among them) are hidden from the probe run (the default FORBIDDEN).
CALL_TIMEOUT = 120
# A linear probe trained on frozen mini_vgg features of new characters (5 labelled images per class) must
# reach this test accuracy (200 test images, chance 0.10). Measured with the solution over 300 random
# subsets: mean 0.96, min 0.91 with the weights pretrained on the 40-class source task; mean 0.87, min 0.81
# with the earlier 10-shape weights. The wide margin keeps grading stable when the weights are retrained.
PROBE_ACCURACY_THRESHOLD = 0.70

# A VGG layout from torch.nn alone, shared by the runner (SETUP) and the checks here.
MODEL_SOURCE = r'''
class _ProbeVGG(_nn.Module):
    def __init__(self, config, num_classes, hidden, *, bias_last=True, dropout=0.0):
        super().__init__()
        layers, channels = [], 3
        for v in config:
            if v == "M":
                layers.append(_nn.MaxPool2d(2, 2))
            else:
                layers += [_nn.Conv2d(channels, v, 3, padding=1), _nn.BatchNorm2d(v), _nn.ReLU(inplace=True)]
                channels = v
        self.features = _nn.Sequential(*layers)
        self.avgpool = _nn.AdaptiveAvgPool2d((2, 2))
        self.classifier = _nn.Sequential(_nn.Linear(channels * 4, hidden), _nn.ReLU(inplace=True), _nn.Dropout(dropout),
                                         _nn.Linear(hidden, num_classes, bias=bias_last))

    def forward(self, x):
        return self.classifier(_torch.flatten(self.avgpool(self.features(x)), 1))


def _build(spec, state=None, dtype=_torch.float64):
    model = _ProbeVGG(spec["config"], spec["classes"], spec["hidden"], bias_last=spec.get("bias_last", True),
                      dropout=spec.get("dropout", 0.0)).to(dtype)
    if state is not None:
        model.load_state_dict({k: _torch.tensor(_np.asarray(v), dtype=_torch.long if k.endswith("num_batches_tracked")
                                                else dtype) for k, v in state.items()})
    return model


def _blocks_of(features):
    blocks, current = [], []
    for layer in features:
        current.append(layer)
        if isinstance(layer, _nn.MaxPool2d):
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks
'''

SETUP = TORCH_SETUP + r'''
from torch import nn as _nn
from dlcourse.grading.simulated_device import simulated_cuda as _simulated_cuda

_CUDA = "cuda"  # the simulated CUDA device: a tensor left on the CPU fails there as on a GPU
''' + MODEL_SOURCE + r'''

def _state(model):
    return {k: _n(v) for k, v in model.state_dict().items()}


def _plain_freeze(module):
    module.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, _nn.modules.batchnorm._BatchNorm):
            m.eval()


def _probe_freeze(spec, state, x1, y1, x2, lr, twice):
    # twice: Adam with weight decay, then freeze a second time before the one unfreeze; else SGD as the visible test
    model = _build(spec, state)
    out = {}
    freeze(model.features)
    out["grad_after_freeze"] = [p.requires_grad for p in model.parameters()]
    model.train()
    with _torch.no_grad():
        out["features_train_mode"] = _n(model.features(_t(x1)))
        model.features(_t(x1) * 2 - 1)
    out["bn_training"] = [m.training for m in model.features if isinstance(m, _nn.BatchNorm2d)]
    if twice:
        optimizer = _torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.1)
    else:
        optimizer = _torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-2)
    loss = _torch.nn.functional.cross_entropy(model(_t(x1)), _torch.tensor(_np.asarray(y1)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    out["state_after_step"] = _state(model)
    if twice:
        freeze(model.features)
    unfreeze(model.features)
    out["grad_after_unfreeze"] = [p.requires_grad for p in model.parameters()]
    model.train()
    with _torch.no_grad():
        model(_t(x2))
    out["bn_training_after_unfreeze"] = [m.training for m in model.features if isinstance(m, _nn.BatchNorm2d)]
    out["state_after_unfreeze"] = _state(model)
    return out


def _probe_replace_classifier(spec, k, dtype, edge):
    with _simulated_cuda():
        return _replace_classifier_run(spec, k, dtype, edge)


def _replace_classifier_run(spec, k, dtype, edge):
    # edge: the new layer's initialization, a classifier that is a single Linear, torchvision's vgg16 on the meta device
    out = {}
    model = _build(spec, dtype=getattr(_torch, dtype)).to(_CUDA)
    first = model.classifier[0]
    freeze(model)
    replace_classifier(model, k)
    last = model.classifier[-1]
    out["last"] = [type(last).__name__, int(last.in_features), int(last.out_features), last.bias is not None,
                   str(last.weight.dtype), bool(model.classifier[0] is first), len(model.classifier),
                   str(last.weight.device.type)]
    out["trainable"] = [n for n, p in model.named_parameters() if p.requires_grad]
    with _torch.no_grad():
        out["output_shape"] = list(model(_torch.zeros(2, 3, 8, 8, dtype=getattr(_torch, dtype), device=_CUDA)).shape)
    if not edge:
        try:
            replace_classifier(model, 0)
            out["rejects_zero"] = False
        except ValueError as exc:
            out["rejects_zero"] = "num_classes" in str(exc)
        return out
    out["bound"] = float(last.weight.detach().abs().max())
    model.classifier = _nn.Linear(4, 3).double()
    replace_classifier(model, k + 1)
    out["bare_linear"] = [type(model.classifier).__name__, int(model.classifier.out_features), str(model.classifier.weight.dtype)]
    import torchvision as _tv
    with _torch.device("meta"):
        big = _tv.models.vgg16(weights=None)
    replace_classifier(big, k)
    head = big.classifier[6]
    out["vgg16"] = [int(head.in_features), int(head.out_features), head.weight.device.type]
    return out


def _probe_train_model(spec, state, X, y, lr, epochs, batch_size, seed):
    model = _build(spec, state).eval()  # train_model must switch to training mode itself
    model.features[:4].requires_grad_(False)
    with _simulated_cuda():
        model.to(_CUDA)
        optimizer = _torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
        losses = train_model(model, _t(X), _torch.tensor(_np.asarray(y)), optimizer=optimizer, epochs=epochs,
                             batch_size=batch_size, seed=seed)
        return [float(v) for v in losses], _state(model)


def _probe_evaluate_accuracy(spec, state, X, y, batch_size):
    model = _build(spec, state)
    model.train()
    with _simulated_cuda():
        model.to(_CUDA)
        acc = evaluate_accuracy(model, _t(X), _torch.tensor(_np.asarray(y)), batch_size=batch_size)
        return float(acc), bool(model.training)


def _probe_extract_features(spec, state, X, batch_size):
    model = _build(spec, state).train()
    n_blocks = len(_blocks_of(model.features))
    with _simulated_cuda():
        model.to(_CUDA)
        results = [extract_features(model, _t(X), num_blocks=k, batch_size=batch_size)
                   for k in [None] + list(range(1, n_blocks + 1))]
        try:
            extract_features(model, _t(X), num_blocks=n_blocks + 1)
            rejects = False
        except ValueError as exc:
            rejects = "num_blocks" in str(exc)
        return ([_n(r) for r in results], [f"{r.dtype} on {r.device.type}" for r in results], bool(model.training),
                _state(model), rejects)


def _probe_train_linear_probe(features, labels, classes, epochs, lr, weight_decay, seed):
    with _simulated_cuda():
        probe, losses = train_linear_probe(_t(features).to(_CUDA), _torch.tensor(_np.asarray(labels)).to(_CUDA), classes,
                                           epochs=epochs, lr=lr, weight_decay=weight_decay, seed=seed)
        if probe.weight.device.type != _CUDA:
            raise RuntimeError(f"the probe is on {probe.weight.device}, not on the features' device (cuda)")
        return _n(probe.weight), _n(probe.bias), [float(v) for v in losses]


def _probe_probe_accuracy(features, labels):
    probe, _ = train_linear_probe(_t(features).float(), _torch.tensor(_np.asarray(labels)), 10, epochs=100, lr=1e-2,
                                  weight_decay=1e-3, seed=0)
    return _n(probe.weight), _n(probe.bias)


def _probe_unfreeze_last_blocks(spec, k, head_partly_frozen):
    model = _build(spec)
    _plain_freeze(model.features)
    if head_partly_frozen:  # a frozen layer of the classifier must stay frozen
        model.classifier[0].requires_grad_(False)
    unfreeze_last_blocks(model, k)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    model.train()
    with _torch.no_grad():
        model(_torch.zeros(2, 3, 16, 16, dtype=_torch.float64))
    training = [m.training for block in _blocks_of(model.features)[len(_blocks_of(model.features)) - k:]
                for m in block if isinstance(m, _nn.BatchNorm2d)]
    try:
        unfreeze_last_blocks(model, len(_blocks_of(model.features)) + 1)
        rejects = False
    except ValueError as exc:
        rejects = "k" in str(exc)
    return trainable, training, rejects


def _probe_param_groups(spec, trainable, lr, factor):
    model = _build(spec)
    for name, p in model.named_parameters():
        p.requires_grad_(name in trainable)
    names = {id(p): n for n, p in model.named_parameters()}
    groups = fine_tuning_param_groups(model, lr, backbone_lr_factor=factor)
    return [[float(g["lr"]), [names.get(id(p), "?") for p in g["params"]]] for g in groups]
'''

_namespace = run_setup(MODEL_SOURCE, "a5 probe model", _np=np, _torch=torch, _nn=nn)
_build, _blocks_of = _namespace["_build"], _namespace["_blocks_of"]


# ---------------------------------------------------------------------------------- references

def _spec(rng, *, trailing=False, blocks=2):
    channels = [int(v) for v in rng.integers(3, 8, size=4)]
    config = [channels[0], "M", channels[1], channels[1], "M"]
    if blocks >= 3:
        config += [channels[2], "M"]
    if trailing:
        config += [channels[3]]
    return {"config": config, "classes": int(rng.integers(2, 7)), "hidden": int(rng.integers(4, 10))}


def _random_state(spec, rng):
    model = _build(spec)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(int(rng.integers(0, 5)))
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, size=value.shape)
        elif key.endswith("running_mean"):
            state[key] = rng.normal(scale=0.5, size=value.shape)
        else:
            state[key] = rng.normal(scale=0.4, size=value.shape)
    return state


def _freeze_args(rng, twice):
    """Freeze once, a step of SGD with momentum and weight decay, unfreeze (the visible test's sequence); or (twice)
    a step of Adam with weight decay and a second freeze before the one unfreeze (the hidden test's)."""
    spec = _spec(rng)
    n = int(rng.integers(3, 8))
    return (spec, _random_state(spec, rng), rng.normal(size=(n, 3, 8, 8)), rng.integers(0, spec["classes"], size=n),
            rng.normal(loc=1.0, size=(n, 3, 8, 8)), float(rng.uniform(1e-3, 2e-2)), twice)


def _check_freeze(result, args, kwargs):
    spec, state, x1, y1, x2, lr, twice = args
    n_features = len(list(_build(spec).features.parameters()))
    model = _build(spec, state)
    grads = result["grad_after_freeze"]
    if list(grads) != [False] * n_features + [True] * (len(grads) - n_features):
        return f"after freeze(model.features): requires_grad {grads}, expected the features frozen and the classifier not"
    if any(result["bn_training"]):
        return "frozen batch norm must stay in eval mode after model.train() and a forward pass"
    model.eval()
    with torch.no_grad():
        want_features = model.features(_t(x1))
    # the step: frozen features in eval mode, the optimizer (with weight decay) on what trains
    model.features.requires_grad_(False)
    model.classifier.train()
    if twice:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=0.1)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-2)
    loss = F.cross_entropy(model(_t(x1)), torch.tensor(np.asarray(y1)))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    messages = [_close(result["features_train_mode"], want_features.numpy(), "frozen features in training mode")]
    messages += [_close(result["state_after_step"][k], v.numpy(), f"{k} after a training step", rtol=1e-9, atol=1e-12)
                 for k, v in model.state_dict().items()]
    if not all(result["grad_after_unfreeze"]):
        return ("after freezing twice and unfreezing once, every parameter must require gradients" if twice
                else "after unfreeze, every parameter must require gradients")
    if not all(result["bn_training_after_unfreeze"]):
        return "after unfreeze and model.train(), batch norm must be in training mode"
    model.requires_grad_(True)
    model.train()
    with torch.no_grad():
        model(_t(x2))
    messages += [_close(result["state_after_unfreeze"][k], v.numpy(), f"{k} after unfreeze and a training-mode forward")
                 for k, v in model.state_dict().items() if "running" in k]
    return _first(*messages)


def _replace_args(rng, edge):
    """Typical: float32, a last layer with bias (the visible test's model); edge: float64, no bias, and more."""
    spec = _spec(rng)
    spec["bias_last"] = not edge
    return spec, int(rng.integers(2, 12)), "float64" if edge else "float32", edge


def _check_replace(result, args, kwargs):
    spec, k, dtype, edge = args
    in_features = spec["hidden"]
    want = ["Linear", in_features, k, spec["bias_last"], f"torch.{dtype}", True, 4, "cuda"]
    if list(result["last"]) != want:
        return (f"replace_classifier: (type, in, out, bias, dtype, other layers kept, length, device) = {result['last']}, "
                f"expected {want}")
    if list(result["output_shape"]) != [2, k]:
        return f"the model with the new head gives outputs of shape {result['output_shape']}, expected [2, {k}]"
    trainable = ["classifier.3.weight"] + (["classifier.3.bias"] if spec["bias_last"] else [])
    if list(result["trainable"]) != trainable:
        return f"after freeze(model) and replace_classifier only the new layer trains: got {result['trainable']}"
    if not edge:
        return None if result["rejects_zero"] else "replace_classifier(model, 0) must raise ValueError naming num_classes"
    if not result["bound"] <= 1 / np.sqrt(in_features) + 1e-9:
        return "the new layer must have PyTorch's default initialization"
    if list(result["bare_linear"]) != ["Linear", k + 1, "torch.float64"]:
        return f"a classifier that is itself a Linear must be replaced (same dtype): got {result['bare_linear']}"
    if list(result["vgg16"]) != [4096, k, "meta"]:
        return f"torchvision vgg16: classifier[6] (in, out, device) = {result['vgg16']}, expected [4096, {k}, 'meta']"
    return None


def _train_model_args(rng):
    spec = _spec(rng)
    n = int(rng.integers(8, 30))
    return (spec, _random_state(spec, rng), rng.normal(size=(n, 3, 8, 8)), rng.integers(0, spec["classes"], size=n),
            float(rng.uniform(0.01, 0.1)), int(rng.integers(1, 4)), int(rng.integers(3, 9)), int(rng.integers(0, 2**31)))


def _check_train_model(result, args, kwargs):
    losses, state_after = result
    spec, state, X, y, lr, epochs, batch_size, seed = args
    model = _build(spec, state)
    model.features[:4].requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(_t(X), torch.tensor(np.asarray(y))),
                                         batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    want = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
        want.append(total / len(y))
    messages = [_close(np.asarray(losses), want, "epoch losses")]
    messages += [_close(state_after[k], v.numpy(), f"{k} after training") for k, v in model.state_dict().items()]
    return _first(*messages)


def _evaluate_args(rng):
    spec = _spec(rng)
    spec["dropout"] = 0.8
    n = int(rng.integers(10, 40))
    return spec, _random_state(spec, rng), rng.normal(size=(n, 3, 8, 8)), rng.integers(0, spec["classes"], size=n), int(rng.integers(2, 9))


def _check_evaluate(result, args, kwargs):
    acc, training = result
    spec, state, X, y, _ = args
    model = _build(spec, state).eval()
    with torch.no_grad():
        want = float((model(_t(X)).argmax(1).numpy() == np.asarray(y)).mean())
    if not training:
        return "evaluate_accuracy must leave the model in training mode when it was in training mode"
    return _close(acc, want, "accuracy in evaluation mode", rtol=1e-12, atol=1e-12)


def _extract_args(rng, edge):
    """Typical: two pooled blocks (the visible test's layout); edge: three, and conv layers after the last pooling
    (a block of their own)."""
    spec = _spec(rng, trailing=edge, blocks=3 if edge else 2)
    size = 8 * int(rng.integers(1, 3))
    return spec, _random_state(spec, rng), rng.normal(size=(int(rng.integers(3, 20)), 3, size, size)), int(rng.integers(2, 7))


def _check_extract(result, args, kwargs):
    features, dtypes, training, state_after, rejects = result
    spec, state, X, _ = args
    model = _build(spec, state).eval()
    x = _t(X)
    with torch.no_grad():
        want = [torch.flatten(model.avgpool(model.features(x)), 1)]
        h = x
        for block in _blocks_of(model.features):
            h = nn.Sequential(*block)(h)
            want.append(F.adaptive_avg_pool2d(h, 2).flatten(1))
    if len(features) != len(want):
        return f"expected {len(want)} results (num_blocks None, 1..{len(want) - 1})"
    if any(d != "torch.float32 on cpu" for d in dtypes):
        return f"extract_features must return float32 tensors on the CPU (the model on cuda), got {dtypes}"
    if not training:
        return "extract_features must restore training mode"
    if not rejects:
        return "num_blocks larger than the number of blocks must raise ValueError naming num_blocks"
    messages = [_close(f, w.numpy(), f"features with num_blocks={k}", rtol=1e-5, atol=1e-6)
                for f, w, k in zip(features, want, [None] + list(range(1, len(want))))]
    messages += [_close(state_after[k], np.asarray(v, dtype=float), f"{k} after extract_features", rtol=0, atol=0)
                 for k, v in state.items()]
    return _first(*messages)


def _probe_oracle(features, labels, classes, epochs, lr, weight_decay, seed):
    f = _t(features)
    mean, std = f.mean(0), f.std(0).clamp_min(1e-6)
    z = (f - mean) / std
    torch.manual_seed(seed)
    linear = nn.Linear(f.shape[1], classes).double()
    optimizer = torch.optim.Adam(linear.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(epochs):
        loss = F.cross_entropy(linear(z), torch.tensor(np.asarray(labels)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        w = linear.weight / std
        return w.numpy(), (linear.bias - w @ mean).numpy(), losses


def _linear_probe_args(rng):
    n, d, classes = int(rng.integers(10, 50)), int(rng.integers(3, 15)), int(rng.integers(2, 6))
    features = rng.normal(size=(n, d)) * 10 ** rng.uniform(-2, 2, size=d) + rng.normal(scale=5, size=d)
    return (features, rng.integers(0, classes, size=n), classes, int(rng.integers(5, 25)), float(rng.uniform(5e-3, 5e-2)),
            float(rng.uniform(0, 1e-2)), int(rng.integers(0, 2**31)))


def _check_linear_probe(result, args, kwargs):
    weight, bias, losses = result
    w, b, want = _probe_oracle(*args)
    return _first(_close(np.asarray(losses), want, "losses of the full-batch Adam steps"),
                  _close(weight, w, "probe.weight = W / std"), _close(bias, b, "probe.bias = b - (W / std) @ mean", rtol=1e-8, atol=1e-9))


@functools.lru_cache(maxsize=1)
def _glyph_features():
    """Frozen mini_vgg features of 400 new characters (alphabet 1): 200 to train from, 200 to test on."""
    from dlcourse.data import channel_stats, make_glyphs, normalize_images
    from dlcourse.torch_ref import extract_features, mini_vgg

    X, y = make_glyphs(400, num_classes=10, alphabet=1, difficulty=0.5, seed=11)
    mean, std = channel_stats(X[:200])
    X = normalize_images(X, mean, std)
    backbone = mini_vgg(pretrained=True).eval()
    return (extract_features(backbone, X[:200], device="cpu")[0].numpy(), y[:200],
            extract_features(backbone, X[200:], device="cpu")[0].numpy(), y[200:])


def _probe_accuracy_args(rng):
    f_train, y_train, _, _ = _glyph_features()
    pick = np.sort(np.concatenate([rng.permutation(np.flatnonzero(y_train == c))[:5] for c in range(10)]))
    return f_train[pick], y_train[pick]


def _check_probe_accuracy(result, args, kwargs):
    weight, bias = result
    _, _, f_test, y_test = _glyph_features()
    if np.shape(weight) != (10, f_test.shape[1]):
        return f"the probe's weight has shape {np.shape(weight)}, expected (10, {f_test.shape[1]})"
    acc = float(np.mean((f_test @ np.asarray(weight).T + bias).argmax(1) == y_test))
    if not acc >= PROBE_ACCURACY_THRESHOLD:
        return (f"the probe's test accuracy on frozen mini_vgg features (5 images per class) is {acc:.3f}, "
                f"below {PROBE_ACCURACY_THRESHOLD}")
    return None


def _unfreeze_args(rng, edge):
    """Typical: two pooled blocks and a trainable classifier (the visible test's model), any k; edge: three blocks and
    conv layers after the last pooling (a block of their own), a partly frozen classifier that must stay so."""
    spec = _spec(rng, trailing=edge, blocks=3 if edge else 2)
    n_blocks = len(_blocks_of(_build(spec).features))
    return spec, int(rng.integers(1 if edge else 0, n_blocks + 1)), edge


def _check_unfreeze(result, args, kwargs):
    trainable, training, rejects = result
    spec, k, head_partly_frozen = args
    model = _build(spec)
    blocks = _blocks_of(model.features)
    ids = {id(p) for block in blocks[len(blocks) - k:] for layer in block for p in layer.parameters()}
    ids |= {id(p) for p in (model.classifier[3] if head_partly_frozen else model.classifier).parameters()}
    want = [n for n, p in model.named_parameters() if id(p) in ids]
    if list(trainable) != want:
        return f"unfreeze_last_blocks(model, {k}): trainable {trainable}, expected {want}"
    if not all(training):
        return "batch norm of the unfrozen blocks must follow model.train()"
    return None if rejects else "k larger than the number of blocks must raise ValueError naming k"


def _groups_args(rng, zero_factor):
    """A random trainable subset and backbone_lr_factor > 0; or (zero_factor) backbone_lr_factor = 0, whose backbone
    group stays (at learning rate 0)."""
    spec = _spec(rng, blocks=3)
    names = [n for n, _ in _build(spec).named_parameters()]
    trainable = [n for i, n in enumerate(names) if rng.random() < 0.5 or (zero_factor and i == 0)]
    return spec, trainable, float(10 ** rng.uniform(-4, -2)), 0.0 if zero_factor else float(rng.choice([0.01, 0.1, 0.5]))


def _check_groups(result, args, kwargs):
    spec, trainable, lr, factor = args
    names = [n for n, _ in _build(spec).named_parameters()]
    backbone = [n for n in names if n in trainable and not n.startswith("classifier.")]
    head = [n for n in names if n in trainable and n.startswith("classifier.")]
    want = [[lr * factor, backbone]] if backbone else []
    want += [[lr, head]] if head else []
    if len(result) != len(want):
        return f"expected {len(want)} parameter groups, got {len(result)}"
    for i, ((got_lr, got_names), (want_lr, want_names)) in enumerate(zip(result, want)):
        if list(got_names) != want_names:
            return f"group {i}: parameters {got_names}, expected {want_names}"
        problem = _close(got_lr, want_lr, f"learning rate of group {i}", rtol=1e-12, atol=0)
        if problem:
            return problem
    return None


def _hidden(cells: tuple[str, str]) -> tuple[str]:
    """Only the hidden test cell of an exercise's two (see :func:`dlcourse.grading.probe_helpers.hidden_cell`)."""
    return cells[1:]


# A probe takes the points of the cells whose behaviour it checks. Typical inputs and the properties the visible
# test asserts: both test cells (so tampering with the tests in the kernel buys nothing). Behaviour that only the
# hidden test checks (edge cases, other settings): a separate probe that takes only the hidden cell.
PROBES = [
    Probe("freeze_unfreeze", PART1, "_probe_freeze", args=lambda rng: _freeze_args(rng, False), check=_check_freeze),
    Probe("freeze_twice_unfreeze_once", _hidden(PART1), "_probe_freeze", args=lambda rng: _freeze_args(rng, True),
          check=_check_freeze),
    Probe("replace_classifier", PART1, "_probe_replace_classifier", args=lambda rng: _replace_args(rng, False),
          check=_check_replace),
    Probe("replace_classifier_dtype_no_bias_linear_vgg16", _hidden(PART1), "_probe_replace_classifier",
          args=lambda rng: _replace_args(rng, True), check=_check_replace),
    Probe("train_model", PART2, "_probe_train_model", args=_train_model_args, check=_check_train_model),
    Probe("evaluate_accuracy", PART2, "_probe_evaluate_accuracy", args=_evaluate_args, check=_check_evaluate),
    Probe("extract_features", PART3, "_probe_extract_features", args=lambda rng: _extract_args(rng, False),
          check=_check_extract),
    Probe("extract_features_trailing_block", _hidden(PART3), "_probe_extract_features",
          args=lambda rng: _extract_args(rng, True), check=_check_extract),
    Probe("train_linear_probe", PART4, "_probe_train_linear_probe", args=_linear_probe_args, check=_check_linear_probe),
    # the bounded run on frozen mini_vgg features is the hidden test's alone
    Probe("linear_probe_accuracy", _hidden(PART4), "_probe_probe_accuracy", args=_probe_accuracy_args,
          check=_check_probe_accuracy),
    Probe("unfreeze_last_blocks", PART5, "_probe_unfreeze_last_blocks", args=lambda rng: _unfreeze_args(rng, False),
          check=_check_unfreeze),
    Probe("unfreeze_last_blocks_trailing_partly_frozen_head", _hidden(PART5), "_probe_unfreeze_last_blocks",
          args=lambda rng: _unfreeze_args(rng, True), check=_check_unfreeze),
    Probe("fine_tuning_param_groups", PART5, "_probe_param_groups", args=lambda rng: _groups_args(rng, False),
          check=_check_groups),
    Probe("fine_tuning_param_groups_zero_factor", _hidden(PART5), "_probe_param_groups",
          args=lambda rng: _groups_args(rng, True), check=_check_groups),
]
