"""Running nbgrader: each step as its own process in the course folder, forked ready to run.

A separate process per step reads that folder's ``nbgrader_config.py``, and a student whose
notebook crashes, hangs or cannot be read never takes another student's grade with it: the
process runs in its own session and its whole process group is killed at the time limit.

Starting ``python -m nbgrader`` costs about 2.7 s of imports, twice per student (autograde and
feedback), more than a third of what executing an a1 notebook costs. So the steps are forked from
a server process that has imported nbgrader once (:mod:`dlcourse.grading.fork_server`): each step
still gets a fresh process of its own, with its own environment, working folder, limits and log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dlcourse.grading import fork_server
from dlcourse.grading.cases import STUDENT_ENV
from dlcourse.grading.job import ProcessLimits
from dlcourse.grading.safe.text import console_text

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
    """Run nbgrader with ``ARGS`` in ``course_dir`` in a process of its own; kill its process group on timeout.

    The process is forked by the fork server (:mod:`dlcourse.grading.fork_server`) when ``preexec``
    is None or a :class:`~dlcourse.grading.job.ProcessLimits`, else (or when the server is gone)
    started as ``python -m nbgrader`` with ``preexec``. Its output is logged to ``log_path``.
    """
    start = time.monotonic()
    env = {**nbgrader_env(student), **(extra_env or {})}
    server = fork_server.client(nbgrader_env()) if preexec is None or isinstance(preexec, ProcessLimits) else None
    if server is not None:
        with tempfile.TemporaryDirectory(prefix="dlcourse-nbgrader-") as scratch:
            output_path = Path(scratch) / "output.log"
            ran, returncode = server.run(list(args), str(course_dir), env, str(output_path),
                                         preexec.memory_bytes if preexec is not None else None, timeout)
            if ran:
                output = output_path.read_text(errors="replace") if output_path.exists() else ""
                return _finish(args, output, returncode, start, log_path)
    return _run_subprocess(args, course_dir, env, timeout, log_path, preexec, start)


def _run_subprocess(args: list[str], course_dir: Path, env: dict[str, str], timeout: float | None,
                    log_path: Path | None, preexec: Callable[[], None] | None, start: float) -> ProcessResult:
    """:func:`run_nbgrader` as ``python -m nbgrader``, for processes that may not fork (daemonic ones)."""
    proc = subprocess.Popen([sys.executable, "-m", "nbgrader", *args], cwd=course_dir, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", start_new_session=True, preexec_fn=preexec)
    try:
        output, _ = proc.communicate(timeout=timeout)
        returncode: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        fork_server.kill_group(proc.pid)
        output, _ = proc.communicate()
        returncode = None
    return _finish(args, output, returncode, start, log_path)


def _finish(args: list[str], output: str, returncode: int | None, start: float, log_path: Path | None) -> ProcessResult:
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
            return f"nbgrader failed: {console_text(line, limit=600)}"
    return f"nbgrader failed with exit status {result.returncode}"


def output_tail(text: str, lines: int = 25) -> str:
    """The last ``lines`` lines of a process's output (for an instructor-side error message)."""
    return "\n".join(text.strip().splitlines()[-lines:])
