"""Step time of dlcourse.torch_ref's optimizers against torch.optim's default implementation.

Model: an MLP 1024-2048-2048-1024-... with about 10 M float32 parameters; gradients
are filled once with random values (the benchmark times ``optimizer.step()`` only).
For each optimizer the median of ``--repeats`` timed steps (after warm-up) is taken
for ours and for ``torch.optim`` with its defaults (foreach on CUDA, for-loop on
CPU), interleaved to share any machine noise; the ratio ours / torch is reported
(goal <= 1.3).  Both run with ``foreach=None``: ours picks its ``_multi_tensor_<algo>``
function (``torch._foreach_*``) where torch's default is foreach (CUDA) and its
``_single_tensor_<algo>`` loop elsewhere; the report records which.  Writes
``benchmarks/results/torch_optim_step.json`` or the path given by ``--out``.

Usage::

    .venv/bin/python benchmarks/torch_optim_step.py [--device cpu|cuda] [--repeats 30] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dlcourse.torch_ref import optim as ours  # noqa: E402
from dlcourse.torch_ref.optim._base import _default_to_foreach  # noqa: E402

CONFIGS = {
    "SGD": dict(lr=0.01, momentum=0.9),
    "Adagrad": dict(lr=0.01),
    "RMSprop": dict(lr=0.01),
    "Adam": dict(lr=1e-3),
    "AdamW": dict(lr=1e-3),
}


def make_model(device) -> nn.Module:
    torch.manual_seed(0)
    widths = [1024, 2048, 2048, 1024, 1024, 512, 10]
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1]).to(device)
    for p in model.parameters():
        p.grad = torch.randn_like(p) * 1e-3
    return model


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (no-op on CPU), so wall-clock times are complete."""
    if device.type == "cpu":
        return
    backend = getattr(torch, device.type, None)  # torch.cuda, torch.xpu, torch.mps, ...
    if backend is not None and hasattr(backend, "synchronize"):
        backend.synchronize()


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return str(device)


def time_steps(opt, device, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        opt.step()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "torch_optim_step.json")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    model_a, model_b = make_model(device), make_model(device)
    n_params = sum(p.numel() for p in model_a.parameters())
    ours_multi_tensor = _default_to_foreach(list(model_a.parameters()))  # what foreach=None picks
    print(f"{n_params} parameters on {device_name(device)}; ours uses its "
          f"{'multi-tensor' if ours_multi_tensor else 'per-parameter'} path")
    results = {}
    for name, kwargs in CONFIGS.items():
        opt_a = getattr(ours, name)(model_a.parameters(), **kwargs)
        opt_b = getattr(torch.optim, name)(model_b.parameters(), **kwargs)
        time_steps(opt_a, device, 3)  # warm-up (state allocation)
        time_steps(opt_b, device, 3)
        ta, tb = [], []
        for _ in range(args.repeats):  # interleaved
            ta += time_steps(opt_a, device, 1)
            tb += time_steps(opt_b, device, 1)
        a, b = statistics.median(ta), statistics.median(tb)
        results[name] = {"ours_ms": round(a * 1e3, 3), "torch_ms": round(b * 1e3, 3), "ratio": round(a / b, 3),
                         "kwargs": kwargs}
        print(f"{name:8s} ours {a * 1e3:8.2f} ms  torch {b * 1e3:8.2f} ms  ratio {a / b:5.2f}")
    report = {
        "benchmark": "optimizer.step() time, dlcourse.torch_ref vs torch.optim default",
        "parameters": n_params,
        "device": device_name(device),
        "ours_path": "multi-tensor" if ours_multi_tensor else "per-parameter",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "repeats": args.repeats,
        "goal_ratio_max": 1.3,
        "results": results,
        "all_within_goal": all(r["ratio"] <= 1.3 for r in results.values()),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
