"""Data parallelism with ``DistributedDataParallel``, checked against single-process training.

Every process (rank) holds a full copy of the same model and takes its own slice
of the minibatch.  After ``backward()``, DDP all-reduces the gradients (sums them
across ranks and divides by the number of ranks), so every replica applies the
same update.  With equal slices and a mean-reduced loss, the average of the
slices' mean gradients *is* the mean gradient of the whole batch: ``W`` processes
on ``B / W`` samples each compute exactly (up to float rounding) what one process
computes on ``B`` samples.  :func:`run_rank` trains a small network for a few steps both
ways and reports the largest differences.

This module is the library; its command line is :mod:`dlcourse.demos.ddp_demo`.  Run it
with two processes on one machine (offline, localhost, a free port)::

    torchrun --standalone --nproc_per_node=2 -m dlcourse.demos.ddp_demo --out result.json

or from Python with :func:`launch`.  Backend: NCCL when every rank can have its own
CUDA device, otherwise gloo on the CPU.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from dlcourse.validation import check_integer

__all__ = ["make_problem", "make_model", "shard", "train_single_process", "run_rank", "launch", "DEMO_MODULE"]

#: The module that ``torchrun -m`` runs on every rank (the demo's command line).
DEMO_MODULE = "dlcourse.demos.ddp_demo"


def make_problem(n: int = 64, d: int = 20, classes: int = 4, *, seed: int = 0,
                 dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random classification batch: ``X`` (n, d) standard normal, labels (n,) in 0..classes-1.

    Every rank calls it with the same seed and gets the same batch.
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    W = torch.randn(d, classes, generator=g, dtype=dtype)
    y = (X @ W + 0.5 * torch.randn(n, classes, generator=g, dtype=dtype)).argmax(dim=1)
    return X, y


def make_model(d: int = 20, hidden: int = 32, classes: int = 4, *, seed: int = 0,
               dtype: torch.dtype = torch.float64) -> nn.Module:
    """A two-layer MLP whose initial weights depend only on ``seed`` (identical on every rank)."""
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, classes)).to(dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=dtype))
    return model


def shard(n: int, rank: int, world_size: int) -> slice:
    """The contiguous slice of ``n`` samples that ``rank`` processes (equal slices).

    Raises:
        ValueError: naming ``world_size`` if it does not divide ``n``, or ``rank`` if
            it is outside ``0..world_size-1``.
    """
    if world_size < 1 or n % world_size != 0:
        raise ValueError(f"world_size must divide the batch size n={n} (equal shards), got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    size = n // world_size
    return slice(rank * size, (rank + 1) * size)


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.detach().reshape(-1) for p in model.parameters()])


def _flat_params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def train_single_process(X: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float, seed: int = 0,
                         hidden: int = 32, classes: int = 4) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Plain SGD on the full batch in one process: (flat gradient of every step, final flat parameters)."""
    model = make_model(X.shape[1], hidden, classes, seed=seed, dtype=X.dtype).to(X.device)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        grads.append(_flat_grad(model).clone())
        opt.step()
    return grads, _flat_params(model).clone()


def run_rank(*, steps: int = 5, batch: int = 64, lr: float = 0.5, seed: int = 0) -> dict | None:
    """One rank of the demo, in a process started by ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``, ...).

    Every rank trains :func:`make_model` with DDP on its :func:`shard` of
    :func:`make_problem`'s batch; rank 0 then trains the same model on the whole batch
    in one process (:func:`train_single_process`) and compares.

    Args:
        steps: SGD steps, >= 1.
        batch: the global batch size (split equally over the ranks).
        lr: SGD learning rate.
        seed: seed of the batch and of the initial weights.

    Returns:
        On rank 0 a JSON-serializable dict: ``world_size``, ``backend``, ``device``,
        ``dtype``, ``batch``, ``per_rank_batch``, ``steps``,
        ``max_abs_grad_diff_per_step``, ``max_abs_grad_per_step``,
        ``max_abs_param_diff``, ``max_abs_param_diff_between_replicas``,
        ``local_vs_full_grad_diff``, ``seconds``; ``None`` on the other ranks.

    Raises:
        ValueError: naming ``steps`` when it is not a positive integer, or as :func:`shard`.
    """
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel as DDP

    steps = check_integer(steps, "steps", minimum=1)
    t0 = time.perf_counter()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_nccl = torch.cuda.is_available() and torch.cuda.device_count() >= world_size
    backend = "nccl" if use_nccl else "gloo"
    device = torch.device("cuda", local_rank) if use_nccl else torch.device("cpu")
    if use_nccl:
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend)
    try:
        X, y = make_problem(batch, classes=4, seed=seed)
        X, y = X.to(device), y.to(device)
        part = shard(len(y), rank, world_size)
        model = make_model(X.shape[1], 32, 4, seed=seed).to(device)
        ddp = DDP(model, device_ids=[local_rank] if use_nccl else None)
        opt = torch.optim.SGD(ddp.parameters(), lr=lr)

        # the gradient of this rank's slice alone (what it would use without the all-reduce)
        local = make_model(X.shape[1], 32, 4, seed=seed).to(device)
        nn.functional.cross_entropy(local(X[part]), y[part]).backward()
        local_grad = _flat_grad(local)

        ddp_grads = []
        for _ in range(steps):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(ddp(X[part]), y[part])  # mean over this rank's slice
            loss.backward()  # DDP all-reduces (averages) the gradients here
            ddp_grads.append(_flat_grad(model).clone())
            opt.step()
        params = _flat_params(model)
        gathered = [torch.empty_like(params) for _ in range(world_size)]
        dist.all_gather(gathered, params)
        replica_gap = max(float((g - params).abs().max()) for g in gathered)

        if rank != 0:
            return None
        ref_grads, ref_params = train_single_process(X, y, steps=steps, lr=lr, seed=seed)
        grad_diff = [float((a - b).abs().max()) for a, b in zip(ddp_grads, ref_grads)]
        grad_scale = [float(b.abs().max()) for b in ref_grads]
        result = {
            "world_size": world_size,
            "backend": backend,
            "device": str(device),
            "dtype": str(X.dtype),
            "batch": len(y),
            "per_rank_batch": part.stop - part.start,
            "steps": steps,
            "max_abs_grad_diff_per_step": grad_diff,
            "max_abs_grad_per_step": grad_scale,
            "max_abs_param_diff": float((params - ref_params).abs().max()),
            "max_abs_param_diff_between_replicas": replica_gap,
            "local_vs_full_grad_diff": float((local_grad - ref_grads[0]).abs().max()),
            "seconds": time.perf_counter() - t0,
        }
        return result
    finally:
        # every rank waits until all are done before tearing the group down: a rank that left early
        # (rank 1 returns at once, rank 0 still trains its single-process reference) made gloo abort
        # ("terminate called without an active exception") when another job shared the machine
        dist.barrier()
        dist.destroy_process_group()


def launch(nproc_per_node: int = 2, *, steps: int = 5, timeout: float = 120.0) -> dict:
    """Run the demo under ``torchrun --standalone`` (localhost, a free port) and return rank 0's result.

    Raises:
        ValueError: naming ``nproc_per_node`` if it is < 1.
        RuntimeError: if torchrun fails or runs longer than ``timeout`` seconds (with its stderr).
    """
    if nproc_per_node < 1:
        raise ValueError(f"nproc_per_node must be >= 1, got {nproc_per_node}")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ddp_result.json"
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc_per_node}",
               "-m", DEMO_MODULE, "--steps", str(steps), "--out", str(out)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired as err:
            stderr = err.stderr.decode(errors="replace") if isinstance(err.stderr, bytes) else (err.stderr or "")
            raise RuntimeError(f"torchrun did not finish within {timeout} s; stderr:\n{stderr[-4000:]}") from None
        if proc.returncode != 0 or not out.exists():
            raise RuntimeError(f"torchrun failed with exit code {proc.returncode}; stderr:\n{proc.stderr[-4000:]}")
        return json.loads(out.read_text())

