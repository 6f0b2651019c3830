"""Pretrain mini_vgg on the offline source task and save the packaged weights.

Source task: ``dlcourse.data.make_shapes`` — 10 classes of procedurally drawn
coloured shapes, 32x32, difficulty 0.5 (seed 0 for training, seed 1 for
validation), normalized with the training set's per-channel statistics.
Training: Adam (lr 2e-3, weight decay 5e-4) with a OneCycle schedule, batch 128,
deterministic CPU run (``seed_everything(0)``, ``torch.set_num_threads(2)``).
Output: ``dlcourse/torch_ref/weights/mini_vgg.pt``, a float32 state dict.

Command (from the repository root)::

    .venv/bin/python scripts/train_mini_vgg.py

Recorded run (2 CPU cores, shared machine): 6 epochs, source val accuracy 1.000, 2.50 MB,
248 s script time (4 min 13 s wall).  RESULT line: "RESULT source val accuracy 1.0000, 2.50 MB, 248 s, 621904 numbers".
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

from dlcourse.data import ImageDataset, channel_stats, make_shapes, normalize_images  # noqa: E402
from dlcourse.torch_ref import Adam, evaluate, fit, make_generator, seed_everything  # noqa: E402
from dlcourse.torch_ref.mini_vgg import MiniVGG, SOURCE_NUM_CLASSES  # noqa: E402

OUT = REPO / "dlcourse" / "torch_ref" / "weights" / "mini_vgg.pt"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-val", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    torch.set_num_threads(2)
    seed_everything(0, deterministic=True)
    X_train, y_train = make_shapes(args.n_train, num_classes=SOURCE_NUM_CLASSES, difficulty=0.5, seed=0)
    X_val, y_val = make_shapes(args.n_val, num_classes=SOURCE_NUM_CLASSES, difficulty=0.5, seed=1)
    mean, std = channel_stats(X_train)
    train = ImageDataset(normalize_images(X_train, mean, std), y_train)
    val = ImageDataset(normalize_images(X_val, mean, std), y_val)
    train_loader = DataLoader(train, batch_size=128, shuffle=True, generator=make_generator(0))
    val_loader = DataLoader(val, batch_size=500)

    model = MiniVGG(SOURCE_NUM_CLASSES)
    optimizer = Adam(model.parameters(), lr=2e-3, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, epochs=args.epochs,
                                                    steps_per_epoch=len(train_loader))
    history = fit(model, train_loader, optimizer=optimizer, epochs=args.epochs, val_loader=val_loader,
                  scheduler=scheduler, scheduler_interval="batch", device="cpu", progress=False)
    for epoch in range(history.epochs):
        print(f"epoch {epoch + 1}: train loss {history.train_loss[epoch]:.4f} acc {history.train_accuracy[epoch]:.4f}"
              f"  val loss {history.val_loss[epoch]:.4f} acc {history.val_accuracy[epoch]:.4f}")
    final = evaluate(model, val_loader, device="cpu")
    state = {k: v.detach().to(torch.float32) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, args.out)
    elapsed = time.perf_counter() - t0
    print(f"RESULT source val accuracy {final['accuracy']:.4f}, {args.out.stat().st_size / 1e6:.2f} MB, "
          f"{elapsed:.0f} s, {sum(v.numel() for v in state.values())} numbers -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
