"""The measured transfer result: pretrained ``mini_vgg`` on a different target task, few vs. more labels.

Source task: :func:`dlcourse.data.make_source_task` (shapes and invented characters,
what ``mini_vgg(pretrained=True)`` was trained on).  Target task:
:func:`dlcourse.data.load_cluttered_digits` — handwritten digits, classes the network
has never seen, drawn into cluttered colour scenes (difficulty 0.5).  Every run draws
``per_class`` labelled training images per class from the digits' training split
(:func:`per_class_indices`, seeded) and reports accuracy on the full test split (359
images).  Three ways to use the labels:

* **scratch** — the same :class:`~dlcourse.torch_ref.mini_vgg.MiniVGG`, randomly
  initialised, trained on the labelled images alone (Adam, full batch when there are
  few images, otherwise minibatches of 64, with random shifts as augmentation);
* **probe** — a linear classifier (:func:`~dlcourse.torch_ref.transfer.train_linear_probe`)
  on the frozen network's ``avgpool`` features
  (:func:`~dlcourse.torch_ref.transfer.extract_features`);
* **fine-tune** — unfreeze the last conv block and train it together with a new linear
  classifier on its ``avgpool`` features
  (:func:`~dlcourse.torch_ref.transfer.fine_tuning_param_groups`: the block at a lower
  learning rate), on cached activations of the frozen blocks below.

How deep to fine-tune (lecture L11, Section 6): :func:`finetune_top_blocks` trains the top
``num_blocks`` conv blocks and a new linear head with one learning rate per block
(:func:`layerwise_lr_factors`, :func:`block_param_groups`: "discriminative fine-tuning"),
optionally unfreezing one block per epoch ("gradual unfreezing", Howard & Ruder 2018);
:func:`finetune_depth_accuracy` is its test accuracy and :func:`run_depth_experiment` the
grid of labels per class x depth (:data:`FINETUNE_DEPTHS`) over seeds.

This module is the library; ``python -m dlcourse.demos.transfer_experiment`` (its command
line, :mod:`dlcourse.demos.transfer_experiment`) prints the table recorded in the README
and in ``tests/torch_ref/test_transfer_result.py`` (``--depths``: the depth grid).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from torch import nn

from dlcourse.torch_ref.mini_vgg import MiniVGG, mini_vgg
from dlcourse.torch_ref.optim import Adam
from dlcourse.torch_ref.training import accuracy
from dlcourse.torch_ref.transfer import (
    conv_blocks,
    extract_features,
    fine_tuning_param_groups,
    freeze,
    train_linear_probe,
    unfreeze,
)
from dlcourse.validation import check_integer, check_nonnegative, check_positive

__all__ = [
    "per_class_indices",
    "probe_accuracy",
    "scratch_accuracy",
    "finetune_last_block_accuracy",
    "run_transfer_experiment",
    "layerwise_lr_factors",
    "block_param_groups",
    "finetune_epochs",
    "finetune_top_blocks",
    "finetune_depth_accuracy",
    "run_depth_experiment",
    "FINETUNE_DEPTHS",
    "TARGET_DIFFICULTY",
    "SCRATCH_FEW",
    "SCRATCH_MORE",
]

TARGET_DIFFICULTY = 0.5


def per_class_indices(labels, per_class: int, seed: int) -> np.ndarray:
    """Indices of ``per_class`` random examples of every class (seeded), class by class.

    Args:
        labels: (N,) integer labels.
        per_class: examples per class, >= 1 (a class with fewer gives all it has).
        seed: seed of ``np.random.default_rng``.

    Returns:
        int64 indices into ``labels``.
    """
    labels = np.asarray(labels)
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer, got {per_class!r}")
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                           for c in np.unique(labels)]).astype(np.int64)


def _accuracy(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """:func:`~dlcourse.torch_ref.training.accuracy` of ``model`` on tensors, in eval mode, in batches."""
    model.eval()
    with torch.no_grad():
        return accuracy(torch.cat([model(X[i:i + batch_size]) for i in range(0, len(X), batch_size)]), y)


def _random_shift(x: torch.Tensor, pad: int, generator: torch.Generator) -> torch.Tensor:
    """Shift each image by up to ``pad`` pixels (edge pixels repeated), a batch at a time."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (pad,) * 4, mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :].expand(n, x.shape[1], h, w)
    return out.gather(3, cols)


def probe_accuracy(train_features: torch.Tensor, train_labels: torch.Tensor, test_features: torch.Tensor,
                   test_labels: torch.Tensor, *, num_classes: int = 10, seed: int = 0, **probe_kwargs) -> float:
    """Test accuracy of :func:`train_linear_probe` on fixed features (its defaults unless given)."""
    probe = train_linear_probe(train_features, train_labels, num_classes, seed=seed, **probe_kwargs)
    return _accuracy(probe, test_features, test_labels)


def scratch_accuracy(X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor, y_test: torch.Tensor, *,
                     steps: int = 200, lr: float = 1e-3, batch_size: int = 64, shift: int = 3, weight_decay: float = 0.0,
                     num_classes: int = 10, seed: int = 0) -> float:
    """Test accuracy of a randomly initialised MiniVGG trained on ``(X_train, y_train)`` only.

    Adam for ``steps`` steps on minibatches of ``batch_size`` (the whole set when it is
    smaller), each image shifted by up to ``shift`` pixels (0: no augmentation).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = MiniVGG(num_classes)
    optimizer = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    n, step = len(X_train), 0
    while step < steps:
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            batch = order[i:i + batch_size]
            x = X_train[batch]
            if shift:
                x = _random_shift(x, shift, generator)
            model.train()
            optimizer.zero_grad()
            loss_fn(model(x), y_train[batch]).backward()
            optimizer.step()
            step += 1
            if step == steps:
                break
    return _accuracy(model, X_test, y_test)


class _LastBlockNet(nn.Module):
    """The last conv block, the pooling and a classifier: a VGG-style net on the activations below it."""

    def __init__(self, block: nn.Module, avgpool: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features, self.avgpool, self.classifier = block, avgpool, classifier

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(h)), 1))


def finetune_last_block_accuracy(model: nn.Module, X_train: torch.Tensor, y_train: torch.Tensor,
                                 X_test: torch.Tensor, y_test: torch.Tensor, *, epochs: int = 30, lr: float = 1e-3,
                                 backbone_lr_factor: float = 0.3, batch_size: int = 50, start_from_probe: bool = False,
                                 num_blocks: int = 1, num_classes: int = 10, seed: int = 0) -> float:
    """Test accuracy after fine-tuning the last conv block of a pretrained VGG-style ``model``.

    A copy of ``model`` is frozen and the activations of all blocks but the last are
    computed once (the frozen part never changes, so they can be cached).  On top of
    the last block and ``avgpool`` sits a new linear classifier — freshly initialised,
    or (``start_from_probe``, "LP-FT") the linear probe trained on the frozen features
    first.  The last block (unfrozen, batch norm included) and the classifier are then
    trained together for ``epochs`` epochs of minibatches with Adam on
    :func:`fine_tuning_param_groups` (classifier at ``lr``, block at
    ``lr * backbone_lr_factor``).  ``model`` itself is not modified.

    ``num_blocks`` > 1 fine-tunes that many blocks from the top instead ("fine-tune a
    larger number of layers"), the frozen ones below still cached.
    """
    model = freeze(copy.deepcopy(model)).eval()
    blocks = conv_blocks(model)
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or not 1 <= num_blocks <= len(blocks):
        raise ValueError(f"num_blocks must be an integer in 1..{len(blocks)}, got {num_blocks!r}")
    stem = nn.Sequential(*blocks[:-num_blocks])
    top = nn.Sequential(*blocks[-num_blocks:])
    with torch.no_grad():
        h_train, h_test = stem(X_train), stem(X_test)
        width = torch.flatten(model.avgpool(top(h_train[:1])), 1).shape[1]
    torch.manual_seed(seed)
    if start_from_probe:
        features, _ = extract_features(model, X_train, device="cpu")
        classifier = train_linear_probe(features, y_train, num_classes, seed=seed)
    else:
        classifier = nn.Linear(width, num_classes)
    net = _LastBlockNet(unfreeze(top), model.avgpool, classifier)
    optimizer = Adam(fine_tuning_param_groups(net, lr, backbone_lr_factor=backbone_lr_factor))
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        order = torch.randperm(len(h_train), generator=generator)
        net.train()
        for i in range(0, len(order), batch_size):
            batch = order[i:i + batch_size]
            optimizer.zero_grad()
            loss_fn(net(h_train[batch]), y_train[batch]).backward()
            optimizer.step()
    return _accuracy(net, h_test, y_test)


SCRATCH_FEW = {"steps": 200, "lr": 1e-3, "shift": 0}
SCRATCH_MORE = {"steps": 2400, "lr": 1e-3, "shift": 3}


def _frozen_digit_features(difficulty):
    """The cluttered-digit splits (seed 0) as tensors, the frozen pretrained ``mini_vgg`` and its pooled features
    of both splits: ``(X_train, y_train, X_test, y_test, backbone, f_train, f_test)``."""
    from dlcourse.data import load_cluttered_digits

    splits = load_cluttered_digits(difficulty=difficulty, seed=0)
    X_train, y_train = torch.as_tensor(splits.X_train), torch.as_tensor(splits.y_train)
    X_test, y_test = torch.as_tensor(splits.X_test), torch.as_tensor(splits.y_test)
    backbone = freeze(mini_vgg(pretrained=True))
    f_train, _ = extract_features(backbone, X_train, device="cpu")
    f_test, _ = extract_features(backbone, X_test, device="cpu")
    return X_train, y_train, X_test, y_test, backbone, f_train, f_test


def run_transfer_experiment(seeds=(0, 1, 2), *, few: int = 3, more: int = 100,
                            difficulty: float = TARGET_DIFFICULTY, scratch_more: bool = True,
                            verbose: bool = True) -> dict:
    """The table: for each seed, scratch and probe with ``few`` labels per class, and
    probe, fine-tuning (and scratch, if ``scratch_more``: the slow part) with ``more``.

    Scratch settings: :data:`SCRATCH_FEW` / :data:`SCRATCH_MORE` (the best of a small
    sweep, see the test's docstring).  CPU, seeded.

    Args:
        seeds: one run of every method per seed (the labelled subset and the training are seeded).
        few, more: labelled training images per class in the two regimes.
        difficulty: of :func:`dlcourse.data.load_cluttered_digits`, the target task.
        scratch_more: also train from scratch with ``more`` labels (the slow part).
        verbose: print each run's accuracies as it finishes (progress of a long run).

    Returns:
        ``{"few": {"scratch": [...], "probe": [...]}, "more": {"probe": [...], "finetune": [...],
        "scratch": [...]}}``, one test accuracy per seed.
    """
    X_train, y_train, X_test, y_test, backbone, f_train, f_test = _frozen_digit_features(difficulty)
    table = {"few": {"scratch": [], "probe": []}, "more": {"probe": [], "finetune": []}}
    if scratch_more:
        table["more"]["scratch"] = []
    for seed in seeds:
        for regime, k in (("few", few), ("more", more)):
            idx = torch.as_tensor(per_class_indices(y_train.numpy(), k, seed))
            row = table[regime]
            row["probe"].append(probe_accuracy(f_train[idx], y_train[idx], f_test, y_test, seed=seed))
            if regime == "more":
                row["finetune"].append(finetune_last_block_accuracy(backbone, X_train[idx], y_train[idx],
                                                                    X_test, y_test, seed=seed))
            if "scratch" in row:
                settings = SCRATCH_FEW if regime == "few" else SCRATCH_MORE
                row["scratch"].append(scratch_accuracy(X_train[idx], y_train[idx], X_test, y_test, seed=seed,
                                                       **settings))
            if verbose:
                print(f"seed {seed}, {k} labels/class: " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in row.items()),
                      flush=True)
    return table



# --- How deep to fine-tune: the last block, the last two, the whole network with layer-wise rates ---

#: The fine-tuned depths of lecture L11 (Section 6): keyword arguments of :func:`finetune_top_blocks`.
#: ``num_blocks=None`` is every conv block; ``decay`` divides the learning rate from one block to the
#: block below it (1: one rate for every fine-tuned block; 3: layer-wise rates 0.3, 0.1, 0.033, 0.011
#: times the head's, from the top block down).
FINETUNE_DEPTHS = {
    "last block": {"num_blocks": 1, "decay": 1.0},
    "last two blocks": {"num_blocks": 2, "decay": 1.0},
    "whole network": {"num_blocks": None, "decay": 3.0},
}


def layerwise_lr_factors(num_blocks: int, *, top_factor: float = 0.3, decay: float = 3.0) -> list[float]:
    """Learning-rate multipliers of ``num_blocks`` conv blocks, from the top block down.

    The top block gets ``top_factor`` (times the head's learning rate), each block below it
    ``decay`` times less: ``top_factor / decay**i`` for the ``i``-th block from the top.
    Pretrained layers move less than the fresh head, and the generic early layers least
    ("discriminative fine-tuning": Howard & Ruder 2018 divide by 2.6 per layer).

    Args:
        num_blocks: how many blocks, >= 1.
        top_factor: multiplier of the top block, >= 0.
        decay: ratio between neighbouring blocks, > 0 (1: the same rate for all).

    Returns:
        ``num_blocks`` floats, top block first.

    Shape:
        a list of length ``num_blocks``.

    PyTorch counterpart: none (the factors become the ``"lr"`` of parameter groups, see
    :func:`block_param_groups`).
    """
    num_blocks = check_integer(num_blocks, "num_blocks", minimum=1)
    top_factor = check_nonnegative(top_factor, "top_factor")
    decay = check_positive(decay, "decay")
    return [top_factor / decay ** i for i in range(num_blocks)]


def block_param_groups(blocks, head: nn.Module, lr: float, factors) -> list[dict]:
    """Optimizer parameter groups: one per block at ``lr * factor``, and the head at ``lr``.

    Args:
        blocks: conv blocks (modules) in network order, bottom first, as :func:`conv_blocks` gives them.
        head: the new classifier (trained at ``lr``).
        lr: learning rate of the head, > 0.
        factors: one multiplier per block, **top block first** (as :func:`layerwise_lr_factors`
            returns them), each >= 0.

    Returns:
        ``[{"params", "lr", "name"}, ...]``: the blocks bottom first (``"name"`` "block i" with
        i counted from the bottom of ``blocks``, 1-based), then the head (``"name"`` "head").
        Every parameter is included, trainable or not (so that a block unfrozen later is
        already in the optimizer: the optimizer skips parameters whose ``.grad`` is ``None``).

    Shape:
        ``len(blocks) + 1`` groups.

    Raises:
        ValueError: naming ``factors`` when their number differs from the number of blocks
            or one is negative, ``lr`` when it is not positive.

    PyTorch counterpart: the list of dicts that ``torch.optim.Adam(groups)`` (any optimizer) takes.
    """
    blocks = list(blocks)
    factors = [float(f) for f in factors]
    lr = check_positive(lr, "lr")
    if len(factors) != len(blocks):
        raise ValueError(f"factors must give one multiplier per block ({len(blocks)}), got {len(factors)}")
    if any(f < 0 or not math.isfinite(f) for f in factors):
        raise ValueError(f"factors must be finite numbers >= 0, got {factors}")
    groups = [{"params": list(block.parameters()), "lr": lr * factor, "name": f"block {i + 1}"}
              for i, (block, factor) in enumerate(zip(blocks, reversed(factors)))]
    groups.append({"params": list(head.parameters()), "lr": lr, "name": "head"})
    return groups


def finetune_epochs(num_train: int, batch_size: int = 50, *, min_epochs: int = 6, min_steps: int = 20) -> int:
    """The epochs of the L11 protocol: at least ``min_epochs``, and at least ``min_steps`` optimizer steps.

    With few labelled images an epoch is one or two minibatches, so a fixed number of epochs
    would hardly train; with many, a few epochs suffice (the cosine schedule ends at zero).

    Args:
        num_train: training images, >= 1.
        batch_size: minibatch size, >= 1 (a set smaller than it is one full batch).
        min_epochs, min_steps: the two floors, >= 1.

    Returns:
        ``max(min_epochs, ceil(min_steps / steps_per_epoch))`` with
        ``steps_per_epoch = ceil(num_train / min(batch_size, num_train))``.

    Shape:
        an int.

    PyTorch counterpart: none.
    """
    num_train = check_integer(num_train, "num_train", minimum=1)
    batch_size = check_integer(batch_size, "batch_size", minimum=1)
    min_epochs = check_integer(min_epochs, "min_epochs", minimum=1)
    min_steps = check_integer(min_steps, "min_steps", minimum=1)
    steps_per_epoch = math.ceil(num_train / min(batch_size, num_train))
    return max(min_epochs, math.ceil(min_steps / steps_per_epoch))


class _TopNet(nn.Module):
    """The fine-tuned conv blocks, the pooling and a new linear head, on the cached output of the blocks below."""

    def __init__(self, blocks, avgpool: nn.Module, width: int, num_classes: int) -> None:
        super().__init__()
        self.features, self.avgpool = nn.Sequential(*blocks), avgpool
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(h)), 1))


def finetune_top_blocks(model: nn.Module, X_train: torch.Tensor, y_train: torch.Tensor, *,
                        num_blocks: int | None = 1, lr: float = 3e-3, top_factor: float = 0.3, decay: float = 1.0,
                        epochs: int | None = None, batch_size: int = 50, gradual_unfreezing: bool = False,
                        num_classes: int = 10, seed: int = 0, X_test: torch.Tensor | None = None,
                        y_test: torch.Tensor | None = None,
                        every_epoch: bool = True) -> tuple[nn.Module, list[float]]:
    """Fine-tune the top ``num_blocks`` conv blocks of a pretrained VGG-style network and a new linear head.

    The protocol of lecture L11, Section 6, on a copy of ``model`` (which is not modified):

    1. the blocks below the fine-tuned ones (the *stem*) are frozen, in eval mode, and run
       once on all images (their output is cached: they never change);
    2. the fine-tuned blocks, ``avgpool`` and a new ``nn.Linear`` head (created right after
       ``torch.manual_seed(seed)``) are trained with Adam, one parameter group per block
       (:func:`block_param_groups` with :func:`layerwise_lr_factors`: ``lr * top_factor`` for
       the top block, ``decay`` times less per block below) and the head at ``lr``;
    3. the learning rates follow a cosine schedule to zero over all steps
       (``torch.optim.lr_scheduler.CosineAnnealingLR``, stepped every minibatch); minibatches of
       ``min(batch_size, N)`` in a seeded random order; the fine-tuned blocks' batch norm in
       training mode (it adapts its statistics to the target);
    4. ``gradual_unfreezing`` (Howard & Ruder 2018): in epoch 1 only the top block and the
       head learn, each later epoch unfreezes the next block down (a frozen block has
       ``requires_grad=False`` and its batch norm in eval mode).

    Args:
        model: pretrained network with ``features`` (conv blocks ending in max-pooling) and ``avgpool``
            (frozen or not: the copy is unfrozen with :func:`unfreeze` first).
        X_train: (N, C, H, W) float images; y_train: (N,) int64 labels.
        num_blocks: conv blocks fine-tuned from the top, 1 .. number of blocks; ``None``: all.
        lr: the head's learning rate, > 0.
        top_factor, decay: see :func:`layerwise_lr_factors`.
        epochs: default :func:`finetune_epochs` of N and ``batch_size``.
        batch_size: minibatch size, >= 1.
        gradual_unfreezing: unfreeze one block per epoch, top first.
        num_classes: outputs of the new head.
        seed: seeds the head's initialisation and the minibatch order.
        X_test, y_test: if given, the test accuracy is measured (it changes nothing in the training).
        every_epoch: measure it after every epoch (else after the last one only).

    Returns:
        ``(network, curve)``: ``network`` maps images (N, C, H, W) to logits (N, num_classes)
        (``nn.Sequential(stem, tuned)``, in eval mode); ``curve`` the test accuracy after each
        epoch, or after the last (``every_epoch=False``); empty without test data.

    Shape:
        X_train (N, C, H, W), y_train (N,), X_test (M, C, H, W), y_test (M,); logits (N, num_classes).

    Raises:
        ValueError: naming the argument: ``num_blocks`` out of range, ``epochs`` or
            ``batch_size`` < 1, ``lr`` or ``decay`` not positive, ``top_factor`` negative,
            ``y_train`` of the wrong length, or only one of ``X_test``/``y_test``.

    PyTorch counterpart: none in one call; ``torch.optim.Adam`` on parameter groups with
    ``torch.optim.lr_scheduler.CosineAnnealingLR``, ``requires_grad_`` for (un)freezing.
    """
    source = unfreeze(copy.deepcopy(model)).requires_grad_(False).eval()   # a copy; undo freeze()'s hooks
    blocks = conv_blocks(source)
    if num_blocks is None:
        num_blocks = len(blocks)
    if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or not 1 <= num_blocks <= len(blocks):
        raise ValueError(f"num_blocks must be None or an integer in 1..{len(blocks)}, got {num_blocks!r}")
    if y_train.shape != (X_train.shape[0],):
        raise ValueError(f"y_train must have shape ({X_train.shape[0]},), got {tuple(y_train.shape)}")
    if (X_test is None) != (y_test is None):
        raise ValueError("X_test and y_test must be given together")
    batch_size = min(check_integer(batch_size, "batch_size", minimum=1), len(X_train))
    epochs = finetune_epochs(len(X_train), batch_size) if epochs is None else check_integer(epochs, "epochs", minimum=1)
    factors = layerwise_lr_factors(num_blocks, top_factor=top_factor, decay=decay)
    stem, trained = nn.Sequential(*blocks[:-num_blocks]), blocks[-num_blocks:]
    with torch.no_grad():                                   # the frozen stem: computed once
        h_train = stem(X_train)
        h_test = stem(X_test) if X_test is not None else None
        width = torch.flatten(source.avgpool(nn.Sequential(*trained)(h_train[:1])), 1).shape[1]
    torch.manual_seed(seed)
    net = _TopNet(trained, source.avgpool, width, num_classes)
    optimizer = torch.optim.Adam(block_param_groups(trained, net.classifier, lr, factors))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * math.ceil(len(h_train) / batch_size))
    generator, curve = torch.Generator().manual_seed(seed), []
    for epoch in range(epochs):
        open_blocks = min(epoch + 1, num_blocks) if gradual_unfreezing else num_blocks
        for i, block in enumerate(reversed(trained)):     # i = 0: the top block
            block.requires_grad_(i < open_blocks)
        net.train()
        for i, block in enumerate(reversed(trained)):
            if i >= open_blocks:
                block.eval()                               # a frozen block keeps its batch-norm statistics
        for batch in torch.randperm(len(h_train), generator=generator).split(batch_size):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(h_train[batch]), y_train[batch]).backward()
            optimizer.step()
            scheduler.step()
        if h_test is not None and (every_epoch or epoch == epochs - 1):
            net.eval()
            with torch.no_grad():
                curve.append(accuracy(net(h_test), y_test))
    return nn.Sequential(stem, net).eval(), curve


def finetune_depth_accuracy(model: nn.Module, X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor,
                            y_test: torch.Tensor, *, depth: str = "last block", **kwargs) -> float:
    """Test accuracy after fine-tuning ``model`` to one of the depths of :data:`FINETUNE_DEPTHS`.

    Args:
        model: pretrained VGG-style network (not modified).
        X_train, y_train, X_test, y_test: images and int64 labels.
        depth: "last block", "last two blocks" or "whole network" (layer-wise learning rates).
        **kwargs: more arguments of :func:`finetune_top_blocks` (they override the depth's).

    Returns:
        The test accuracy after the last epoch, a float in [0, 1].

    Shape:
        X_train (N, C, H, W), y_train (N,), X_test (M, C, H, W), y_test (M,).

    Raises:
        ValueError: naming ``depth`` when it is not a key of :data:`FINETUNE_DEPTHS`, or the
            argument of :func:`finetune_top_blocks` that is wrong.

    PyTorch counterpart: none.
    """
    if depth not in FINETUNE_DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(FINETUNE_DEPTHS)}, got {depth!r}")
    settings = {**FINETUNE_DEPTHS[depth], **kwargs}
    _, curve = finetune_top_blocks(model, X_train, y_train, X_test=X_test, y_test=y_test, every_epoch=False,
                                   **settings)
    return curve[-1]


def run_depth_experiment(seeds=(0, 1, 2), *, per_class=(3, 10, 30, 100), difficulty: float = TARGET_DIFFICULTY,
                         gradual_unfreezing: bool = True, epochs: int | None = None, verbose: bool = True) -> dict:
    """The grid of lecture L11: labelled images per class x fine-tuned depth -> test accuracy, per seed.

    Target task :func:`dlcourse.data.load_cluttered_digits` (359 test images), pretrained
    ``mini_vgg``.  For every seed and every number of labels per class (:func:`per_class_indices`):
    the linear probe on frozen ``avgpool`` features ("frozen", :func:`probe_accuracy`) and
    :func:`finetune_depth_accuracy` at every depth of :data:`FINETUNE_DEPTHS`; with
    ``gradual_unfreezing`` also the whole network with layer-wise rates *and* one block
    unfrozen per epoch.

    Args:
        seeds: one run of every method per seed (labelled subset, head, minibatch order).
        per_class: the numbers of labelled images per class.
        difficulty: of the target task.
        gradual_unfreezing: add the row "whole network, gradual unfreezing".
        epochs: override :func:`finetune_epochs` (tests; ``None`` for the protocol).
        verbose: print each result as it is measured.

    Returns:
        ``{per_class: {method: [accuracy per seed]}}``, methods "frozen", the depths, and
        "whole network, gradual unfreezing".

    Shape:
        ``len(per_class)`` rows of 4 or 5 methods, ``len(seeds)`` values each.

    PyTorch counterpart: none.
    """
    X_train, y_train, X_test, y_test, backbone, f_train, f_test = _frozen_digit_features(difficulty)
    methods = ["frozen", *FINETUNE_DEPTHS] + (["whole network, gradual unfreezing"] if gradual_unfreezing else [])
    table = {k: {m: [] for m in methods} for k in per_class}
    for seed in seeds:
        for k in per_class:
            idx = torch.as_tensor(per_class_indices(y_train.numpy(), k, seed))
            row = table[k]
            row["frozen"].append(probe_accuracy(f_train[idx], y_train[idx], f_test, y_test, seed=seed))
            for depth in FINETUNE_DEPTHS:
                row[depth].append(finetune_depth_accuracy(backbone, X_train[idx], y_train[idx], X_test, y_test,
                                                          depth=depth, epochs=epochs, seed=seed))
            if gradual_unfreezing:
                row["whole network, gradual unfreezing"].append(finetune_depth_accuracy(
                    backbone, X_train[idx], y_train[idx], X_test, y_test, depth="whole network", epochs=epochs,
                    gradual_unfreezing=True, seed=seed))
            if verbose:
                print(f"seed {seed}, {k} labels/class: " + ", ".join(f"{m} {v[-1]:.3f}" for m, v in row.items()),
                      flush=True)
    return table
