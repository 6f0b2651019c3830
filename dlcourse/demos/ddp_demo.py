"""Command line of the DistributedDataParallel demo: one rank, started by ``torchrun``.

Usage (offline: localhost, a free port)::

    torchrun --standalone --nproc_per_node=2 -m dlcourse.demos.ddp_demo --steps 5 --out result.json

Every rank runs :func:`dlcourse.torch_ref.ddp_demo.run_rank`; rank 0 prints the comparison
as JSON and writes it to ``--out``.  From Python, :func:`dlcourse.torch_ref.ddp_demo.launch`
starts ``torchrun`` on this module and returns rank 0's result.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run this process's rank, report on rank 0.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(
        prog="torchrun --standalone --nproc_per_node=N -m dlcourse.demos.ddp_demo",
        description="DistributedDataParallel checked against single-process training (one rank).")
    parser.add_argument("--steps", type=int, default=5, help="SGD steps (default 5)")
    parser.add_argument("--batch", type=int, default=64, help="global batch size, split over the ranks (default 64)")
    parser.add_argument("--lr", type=float, default=0.5, help="SGD learning rate (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch and the initial weights (default 0)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for rank 0's result")
    args = parser.parse_args(argv)

    from dlcourse.torch_ref.ddp_demo import run_rank

    result = run_rank(steps=args.steps, batch=args.batch, lr=args.lr, seed=args.seed)
    if result is not None:  # rank 0
        text = json.dumps(result, indent=1)
        if args.out is not None:
            args.out.write_text(text)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
