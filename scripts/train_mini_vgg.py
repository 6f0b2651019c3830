"""Pretrain mini_vgg on the offline source task and save the packaged weights.

Source task: ``dlcourse.data.make_source_task`` — 40 classes: the 10 shapes of
``make_shapes`` and 30 invented characters (``make_glyphs``, alphabet 0), all in
random colours, positions, sizes and rotations, with line-segment clutter and pixel
noise, at difficulties 0.3, 0.5 and 0.7; 32x32, seed 0 for training and seed 1 for
validation, normalized with the training set's per-channel statistics.  No digits:
the transfer target ``load_cluttered_digits`` is a different task.
Training: Adam (lr 2e-3, weight decay 5e-4) with a OneCycle schedule, batch 128,
deterministic CPU run (``seed_everything(0)``, ``torch.set_num_threads(2)``).
Output: ``dlcourse/torch_ref/weights/mini_vgg.pt``, a float32 state dict.

Command (from the repository root)::

    .venv/bin/python scripts/train_mini_vgg.py

Recorded run (the committed weights; 2 CPU threads on a machine shared with other jobs, so
the wall time is inflated several-fold: epochs took 100 to 1200 s; an idle 2-core CPU needs
about 6-10 minutes, judged from the CPU time per batch)::

    data: 16000 + 2000 images in 16 s
    epoch 1: train loss 3.6461 acc 0.0302  val loss 3.2040 acc 0.0820
    epoch 2: train loss 2.4668 acc 0.1970  val loss 1.7285 acc 0.4040
    epoch 3: train loss 1.3873 acc 0.5217  val loss 0.7101 acc 0.7635
    epoch 4: train loss 0.7187 acc 0.7694  val loss 0.2969 acc 0.9165
    epoch 5: train loss 0.4019 acc 0.8759  val loss 0.1649 acc 0.9545
    epoch 6: train loss 0.2324 acc 0.9304  val loss 0.1032 acc 0.9700
    epoch 7: train loss 0.1525 acc 0.9537  val loss 0.0715 acc 0.9805
    epoch 8: train loss 0.1192 acc 0.9641  val loss 0.0662 acc 0.9805
    RESULT source val accuracy 0.9805, 2.51 MB, 4513 s, 625774 numbers

(The previous weights, pretrained on the 10 shapes alone, transferred too little to digits:
see ``dlcourse/torch_ref/transfer_experiment.py`` and the README for the measured transfer.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dlcourse.data import ImageDataset, channel_stats, make_source_task, normalize_images  # noqa: E402
from dlcourse.torch_ref import Adam, evaluate, fit, make_generator, seed_everything  # noqa: E402
from dlcourse.torch_ref.mini_vgg import MiniVGG, SOURCE_NUM_CLASSES  # noqa: E402

OUT = REPO / "dlcourse" / "torch_ref" / "weights" / "mini_vgg.pt"


def _float32_state(model):
    return {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in model.state_dict().items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=16000)
    parser.add_argument("--n-val", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--checkpoints", type=Path, default=None,
                        help="also save the weights after every epoch in this folder (epoch_<k>.pt)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    torch.set_num_threads(2)
    seed_everything(0, deterministic=True)
    X_train, y_train = make_source_task(args.n_train, seed=0)
    X_val, y_val = make_source_task(args.n_val, seed=1)
    print(f"data: {len(y_train)} + {len(y_val)} images in {time.perf_counter() - t0:.0f} s", flush=True)
    mean, std = channel_stats(X_train)
    train = ImageDataset(normalize_images(X_train, mean, std), y_train)
    val = ImageDataset(normalize_images(X_val, mean, std), y_val)
    train_loader = DataLoader(train, batch_size=128, shuffle=True, generator=make_generator(0))
    val_loader = DataLoader(val, batch_size=500)

    model = MiniVGG(SOURCE_NUM_CLASSES)
    optimizer = Adam(model.parameters(), lr=2e-3, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, epochs=args.epochs,
                                                    steps_per_epoch=len(train_loader))
    history = None
    for epoch in range(args.epochs):
        history = fit(model, train_loader, optimizer=optimizer, epochs=1, val_loader=val_loader,
                      scheduler=scheduler, scheduler_interval="batch", device="cpu", progress=False, history=history)
        print(f"epoch {epoch + 1}: train loss {history.train_loss[-1]:.4f} acc {history.train_acc[-1]:.4f}"
              f"  val loss {history.val_loss[-1]:.4f} acc {history.val_acc[-1]:.4f}"
              f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        if args.checkpoints is not None:
            args.checkpoints.mkdir(parents=True, exist_ok=True)
            torch.save(_float32_state(model), args.checkpoints / f"epoch_{epoch + 1}.pt")
    final = evaluate(model, val_loader, device="cpu")
    state = _float32_state(model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    elapsed = time.perf_counter() - t0
    print(f"RESULT source val accuracy {final['accuracy']:.4f}, {args.out.stat().st_size / 1e6:.2f} MB, "
          f"{elapsed:.0f} s, {sum(v.numel() for v in state.values())} numbers -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
