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

This module is the library; ``python -m dlcourse.demos.transfer_experiment`` (its command
line, :mod:`dlcourse.demos.transfer_experiment`) prints the table recorded in the README
and in ``tests/torch_ref/test_transfer_result.py``.
"""

from __future__ import annotations

import copy

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

__all__ = [
    "per_class_indices",
    "probe_accuracy",
    "scratch_accuracy",
    "finetune_last_block_accuracy",
    "run_transfer_experiment",
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
    from dlcourse.data import load_cluttered_digits

    splits = load_cluttered_digits(difficulty=difficulty, seed=0)
    X_train, y_train = torch.as_tensor(splits.X_train), torch.as_tensor(splits.y_train)
    X_test, y_test = torch.as_tensor(splits.X_test), torch.as_tensor(splits.y_test)
    backbone = freeze(mini_vgg(pretrained=True))
    f_train, _ = extract_features(backbone, X_train, device="cpu")
    f_test, _ = extract_features(backbone, X_test, device="cpu")
    table = {"few": {"scratch": [], "probe": []}, "more": {"probe": [], "finetune": []}}
    if scratch_more:
        table["more"]["scratch"] = []
    for seed in seeds:
        for regime, k in (("few", few), ("more", more)):
            idx = torch.as_tensor(per_class_indices(splits.y_train, k, seed))
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
