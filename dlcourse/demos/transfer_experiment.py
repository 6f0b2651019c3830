"""Command line of the measured transfer experiment: prints the table recorded in the README.

Usage (about 10 minutes on 2 CPU threads)::

    python -m dlcourse.demos.transfer_experiment
    python -m dlcourse.demos.transfer_experiment --depths   # how deep to fine-tune (lecture L11)

Runs :func:`dlcourse.torch_ref.transfer_experiment.run_transfer_experiment` with its
defaults (seeds 0, 1, 2) on 2 torch threads, printing each run as it finishes and then
one line per regime and method: the accuracies of the seeds and their mean.  With
``--depths`` it runs :func:`~dlcourse.torch_ref.transfer_experiment.run_depth_experiment`
instead (labelled images per class x fine-tuned depth, seeds 0, 1, 2; about 3 minutes of
CPU per seed) and prints :func:`format_depth_table`.
"""

from __future__ import annotations

import argparse

__all__ = ["format_table", "format_depth_table", "main"]


def format_table(table: dict[str, dict[str, list[float]]]) -> str:
    """The result of ``run_transfer_experiment`` as text: ``regime method acc / acc / acc   mean m`` per line."""
    lines = []
    for regime, row in table.items():
        for method, values in row.items():
            mean = sum(values) / len(values)
            lines.append(f"{regime:5s} {method:9s} " + " / ".join(f"{v:.3f}" for v in values) + f"   mean {mean:.3f}")
    return "\n".join(lines)


def format_depth_table(table: dict[int, dict[str, list[float]]]) -> str:
    """The result of ``run_depth_experiment`` as text: one line per labels-per-class and method.

    Args:
        table: ``{labels per class: {method: [accuracy per seed]}}``.

    Returns:
        Lines ``"  3/class  frozen                             0.429 / 0.582   mean 0.505"``.
    """
    width = max((len(m) for row in table.values() for m in row), default=0)
    lines = []
    for k, row in table.items():
        for method, values in row.items():
            mean = sum(values) / len(values)
            lines.append(f"{k:3d}/class  {method:{width}s}  " + " / ".join(f"{v:.3f}" for v in values)
                         + f"   mean {mean:.3f}")
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
    parser.add_argument("--depths", action="store_true",
                        help="instead: labelled images per class x fine-tuned depth (frozen, last block, last two "
                             "blocks, whole network with layer-wise learning rates, and with gradual unfreezing)")
    args = parser.parse_args(argv)

    import torch

    from dlcourse.torch_ref.transfer_experiment import run_depth_experiment, run_transfer_experiment

    torch.set_num_threads(args.threads)
    if args.depths:
        print(format_depth_table(run_depth_experiment()))
    else:
        print(format_table(run_transfer_experiment()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
