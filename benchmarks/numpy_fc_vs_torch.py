"""Speed and learning result of the numpy reference FullyConnectedNet against torch (float64, CPU).

Usage (from the course folder, in the course's venv)::

    python benchmarks/numpy_fc_vs_torch.py [--repeats 15] [--out benchmarks/results/numpy_fc_vs_torch.json]

Setup (the issue's): digits (``dlcourse.data.load_digits()``, 1079 training
samples), a fully connected ReLU network 64 -> 256 -> 256 -> 10 (He init),
minibatches of 64, Adam(lr=1e-3), float64.

- ``epoch_time``: one training epoch = a shuffled pass over the training set
  (forward, cross-entropy, backward, optimizer step per minibatch), for the
  numpy reference (``model.loss`` + ``optim.Adam.step``) and for the same
  network as ``torch.nn.Sequential`` in float64 on the CPU with
  ``torch.optim.Adam``.  Both are timed in one run on the same machine,
  epochs interleaved (numpy, torch, numpy, ...) after a warm-up, and the
  medians are compared: ``ratio = numpy / torch`` (goal <= 1.2).
- ``learning``: ``dlcourse.numpy_ref.models.train`` for 20 epochs with the
  same setup; test accuracy after each epoch (goal >= 0.97 within 20 epochs).
- ``learning_final_model``: the usual last step once the setup is fixed (here it is
  fixed in advance by the benchmark, nothing is tuned on the test set): retrain on the
  training and validation splits together for 20 epochs and report the test accuracy,
  for seeds 0-4.

Nothing is asserted: the figures are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

from dlcourse.data import load_digits  # noqa: E402
from dlcourse.numpy_ref import optim  # noqa: E402
from dlcourse.numpy_ref.models import FullyConnectedNet, train  # noqa: E402

HIDDEN, BATCH, LR, EPOCHS = [256, 256], 64, 1e-3, 20


def numpy_epoch(model, opt, X, y, order):
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        model.loss(X[idx], y[idx])
        opt.step()


def torch_epoch(net, opt, X, y, order):
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        opt.zero_grad()
        loss = TF.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "numpy_fc_vs_torch.json"))
    args = parser.parse_args()

    data = load_digits()
    X, y = data.X_train, data.y_train
    Xt, yt = torch.tensor(X, dtype=torch.float64), torch.tensor(y)
    n = X.shape[0]

    model = FullyConnectedNet(64, HIDDEN, 10, seed=0)
    opt = optim.Adam(model.parameters(), lr=LR)
    layers = []
    dims = [64, *HIDDEN, 10]
    for i in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[i], dims[i + 1], dtype=torch.float64))
        if i < len(dims) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    topt = torch.optim.Adam(net.parameters(), lr=LR)

    rng = np.random.default_rng(0)
    times = {"numpy": [], "torch": []}
    for r in range(args.repeats + 2):  # the first two rounds are warm-up
        order = rng.permutation(n)
        t0 = time.perf_counter()
        numpy_epoch(model, opt, X, y, order)
        t1 = time.perf_counter()
        torch_epoch(net, topt, Xt, yt, torch.from_numpy(order))
        t2 = time.perf_counter()
        if r >= 2:
            times["numpy"].append(t1 - t0)
            times["torch"].append(t2 - t1)
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["numpy"] / med["torch"]

    # learning result: 20 epochs of the training loop, test accuracy after each
    model = FullyConnectedNet(64, HIDDEN, 10, seed=0)
    opt = optim.Adam(model.parameters(), lr=LR)
    test_acc = []
    t0 = time.perf_counter()
    for _ in range(EPOCHS):
        train(model, data, optimizer=opt, epochs=1, batch_size=BATCH, rng=rng, progress=False)
        test_acc.append(float(np.mean(model.predict(data.X_test) == data.y_test)))
    train_seconds = time.perf_counter() - t0

    # the final model: the fixed setup retrained on train + validation, five seeds
    train_val = types.SimpleNamespace(X_train=np.vstack([data.X_train, data.X_val]),
                                      y_train=np.concatenate([data.y_train, data.y_val]))
    final_acc = []
    for seed in range(5):
        final = FullyConnectedNet(64, HIDDEN, 10, seed=seed)
        train(final, train_val, optimizer=optim.Adam(final.parameters(), lr=LR), epochs=EPOCHS, batch_size=BATCH,
              rng=np.random.default_rng(seed), progress=False)
        final_acc.append(float(np.mean(final.predict(data.X_test) == data.y_test)))

    result = {
        "setup": {"hidden_dims": HIDDEN, "batch_size": BATCH, "optimizer": f"Adam(lr={LR})", "dtype": "float64",
                  "train_samples": int(n), "minibatches_per_epoch": int(np.ceil(n / BATCH)), "repeats": args.repeats},
        "epoch_time_s": {"numpy_median": med["numpy"], "torch_median": med["torch"],
                         "numpy_all": times["numpy"], "torch_all": times["torch"]},
        "ratio_numpy_over_torch": ratio,
        "goal_ratio": 1.2,
        "learning": {"epochs": EPOCHS, "test_accuracy_per_epoch": test_acc, "final_test_accuracy": test_acc[-1],
                     "best_test_accuracy": max(test_acc), "first_epoch_reaching_0.97":
                     next((i + 1 for i, a in enumerate(test_acc) if a >= 0.97), None),
                     "train_seconds_incl_evaluation": train_seconds},
        "learning_final_model": {"train_samples": int(len(train_val.X_train)), "epochs": EPOCHS,
                                 "test_accuracy_per_seed": final_acc, "mean": float(np.mean(final_acc)),
                                 "min": float(np.min(final_acc))},
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
                    "torch_threads": torch.get_num_threads()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"epoch time: numpy {med['numpy'] * 1e3:.1f} ms, torch {med['torch'] * 1e3:.1f} ms, ratio {ratio:.2f} (goal <= 1.2)")
    print(f"test accuracy after {EPOCHS} epochs: {test_acc[-1]:.4f} (best {max(test_acc):.4f}; goal >= 0.97)")
    print(f"final model (train + val, 5 seeds): test accuracy {np.mean(final_acc):.4f} mean, "
          f"{np.min(final_acc):.4f} min, per seed {[round(a, 4) for a in final_acc]}")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
