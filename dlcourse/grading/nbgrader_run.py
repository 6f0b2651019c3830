"""Running nbgrader: each step as its own ``python -m nbgrader`` process in the course folder.

A separate process per step reads that folder's ``nbgrader_config.py``, and a student whose
notebook crashes, hangs or cannot be read never takes another student's grade with it: the
process runs in its own session and its whole process group is killed at the time limit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlcourse.grading.cases import STUDENT_ENV

#: Set for every nbgrader process ``dlcourse grade`` starts; autograde refuses to run without it
#: (:mod:`dlcourse.grading.guard`).
GRADING_ENV = "DLCOURSE_GRADING"


def nbgrader_env(student: str | None = None) -> dict[str, str]:
    """The environment of an nbgrader process (and so of the kernels it starts).

    The interpreter's ``bin/`` comes first on PATH (nbgrader runs ``alembic``; kernels start
    ``python3``), one BLAS thread per kernel, the student's id in ``DLCOURSE_STUDENT_ID``
    (per-student hidden-test cases), and ``DLCOURSE_GRADING=1`` (autograde refuses to run without
    it: :mod:`dlcourse.grading.guard`).
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env[GRADING_ENV] = "1"  # nbgrader's autograde refuses to run without it (dlcourse.grading.guard)
    if student is not None:
        env[STUDENT_ENV] = student
    else:
        env.pop(STUDENT_ENV, None)
    return env


@dataclass
class ProcessResult:
    """What one nbgrader process did."""

    returncode: int | None  # None: killed at the wall-clock limit
    output: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_nbgrader(
    args: list[str],
    course_dir: Path,
    *,
    student: str | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
    preexec: Callable[[], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> ProcessResult:
    """Run ``python -m nbgrader ARGS`` in ``course_dir``; kill its whole process group on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_dir,
        env={**nbgrader_env(student), **(extra_env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
        preexec_fn=preexec,
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        output, _ = proc.communicate()
        returncode = None
    seconds = time.monotonic() - start
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ nbgrader {' '.join(args)}\n{output}\n[exit {returncode}, {seconds:.1f} s]\n")
    return ProcessResult(returncode, output, seconds)


def failure_reason(result: ProcessResult, limit: float) -> str:
    """Why an nbgrader process failed, in one line for the report."""
    if result.returncode is None:
        return f"grading stopped at the wall-clock limit of {limit:.0f} s for one submission"
    text = result.output
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the notebook's kernel died before it could be graded"
    for line in reversed(text.strip().splitlines()):
        if "Error" in line or "error" in line:
            return f"nbgrader failed: {line.strip()[:300]}"
    return f"nbgrader failed with exit status {result.returncode}"


def output_tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a process's output (for an instructor-side error message)."""
    return "\n".join(text.strip().splitlines()[-lines:])
