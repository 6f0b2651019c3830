"""Command line of the measured transfer experiment: prints the table recorded in the README.

Usage (about 10 minutes on 2 CPU threads)::

    python -m dlcourse.demos.transfer_experiment

Runs :func:`dlcourse.torch_ref.transfer_experiment.run_transfer_experiment` with its
defaults (seeds 0, 1, 2) on 2 torch threads, printing each run as it finishes and then
one line per regime and method: the accuracies of the seeds and their mean.
"""

from __future__ import annotations

import argparse

__all__ = ["format_table", "main"]


def format_table(table: dict[str, dict[str, list[float]]]) -> str:
    """The result of ``run_transfer_experiment`` as text: ``regime method acc / acc / acc   mean m`` per line."""
    lines = []
    for regime, row in table.items():
        for method, values in row.items():
            mean = sum(values) / len(values)
            lines.append(f"{regime:5s} {method:9s} " + " / ".join(f"{v:.3f}" for v in values) + f"   mean {mean:.3f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the experiment and print the table.

    Returns:
        The exit status, 0.
    """
    parser = argparse.ArgumentParser(
        prog="python -m dlcourse.demos.transfer_experiment",
        description="Pretrained mini_vgg vs. training from scratch on cluttered digits, few vs. more labels.")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2, as measured)")
    args = parser.parse_args(argv)

    import torch

    from dlcourse.torch_ref.transfer_experiment import run_transfer_experiment

    torch.set_num_threads(args.threads)
    print(format_table(run_transfer_experiment()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
