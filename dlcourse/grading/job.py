"""One grading job: the course, the assignment, the gradebook, the limits and the sandbox, checked once.

:func:`prepare_job` checks everything an instructor can get wrong (the course folder, the
assignment id, the number of parallel students, whether the sandbox works) before any
student is graded, and returns a :class:`GradingJob` that every later step receives:
the autograde step (:mod:`dlcourse.grading.autograde`), the gradebook reads
(:mod:`dlcourse.grading.gradebook`) and the reports (:mod:`dlcourse.grading.report`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from dlcourse.course import CONFIG_FILE, SUBMITTED_DIR, CourseError, check_assignment, check_course_dir
from dlcourse.grading import sandbox
from dlcourse.grading.sandbox import SandboxLimits, gpu_devices

DEFAULT_STUDENT_TIMEOUT = 1800.0
DEFAULT_MEMORY_LIMIT = 8 * 1024**3  # address space per kernel; torch alone maps about 3.6 GB
LOG_DIR = Path(".dlcourse") / "logs"
STAGED_DIR = Path(".dlcourse") / "staged"
AUTOGRADED_DIR = "autograded"
FEEDBACK_DIR = "feedback"


class SandboxUnavailable(CourseError):
    """The grading sandbox does not work here and unsandboxed grading was not asked for."""

    def __init__(self, why: str):
        super().__init__(f"the grading sandbox is unavailable ({why})")
        self.why = why


@dataclass(frozen=True)
class Limits:
    """Resource limits of one student's grading run: time, the kernel's memory, the sandbox's bounds."""

    wall_seconds: float = DEFAULT_STUDENT_TIMEOUT  # the whole grading of one student, probes and feedback included
    cell_seconds: int | None = None  # None: nbgrader_config.py's Execute.timeout
    memory_bytes: int | None = DEFAULT_MEMORY_LIMIT
    sandbox: SandboxLimits = SandboxLimits()

    def preexec(self) -> Callable[[], None]:
        """What a grading process applies to itself before it starts: no core files, the address-space limit."""
        # CUDA reserves far more address space than any useful RLIMIT_AS at start-up: on a machine
        # with a GPU the address-space limit would make every CUDA test fail, so it is not applied
        # there (bound memory with the container's or cgroup's limit instead; see README).
        return ProcessLimits(None if gpu_devices() else self.memory_bytes)


@dataclass(frozen=True)
class ProcessLimits:
    """The limits a grading process sets on itself as it starts (a picklable ``preexec_fn``)."""

    memory_bytes: int | None

    def __call__(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a segfault leaves no core file
        if self.memory_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (self.memory_bytes, self.memory_bytes))


@dataclass
class Budget:
    """The time left of one student's wall-clock limit."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def left(self, floor: float = 0.0) -> float:
        return max(floor, self.seconds - (time.monotonic() - self.start))

    def spent(self) -> float:
        return time.monotonic() - self.start


@dataclass(frozen=True)
class GradingJob:
    """Everything the steps of grading one assignment share (see :func:`prepare_job`).

    Attributes:
        course_dir: the checked course folder (``nbgrader_config.py``, ``solutions/``, ``submitted/``).
        assignment: the checked assignment id.
        db_url: the gradebook (``CourseDirectory.db_url`` of the course's config, else its sqlite file).
        limits: per-student limits.
        sandboxed: whether student code runs in the sandbox (False only when asked for with ``unsafe``).
        release_dir: the release generated for this job (the skeleton submissions are staged onto);
            set by :meth:`with_release`.
    """

    course_dir: Path
    assignment: str
    db_url: str
    limits: Limits = Limits()
    sandboxed: bool = True
    release_dir: Path | None = None

    def with_release(self, release_dir: Path) -> GradingJob:
        return replace(self, release_dir=release_dir)

    def submitted(self, student: str) -> Path:
        return self.course_dir / SUBMITTED_DIR / student / self.assignment

    def staged(self, student: str) -> Path:
        return self.course_dir / STAGED_DIR / student / self.assignment

    def autograded(self, student: str) -> Path:
        return self.course_dir / AUTOGRADED_DIR / student / self.assignment

    def feedback(self, student: str) -> Path:
        return self.course_dir / FEEDBACK_DIR / student / self.assignment

    def log(self, student: str, step: str) -> Path:
        return self.course_dir / LOG_DIR / self.assignment / f"{student}.{step}.log"


def prepare_job(
    assignment: str,
    course_dir: str | os.PathLike = ".",
    *,
    limits: Limits = Limits(),
    unsafe: bool = False,
) -> GradingJob:
    """Check the course, the assignment and the sandbox once; return the job the grading steps share.

    Raises:
        CourseError: the course folder or the assignment does not exist.
        SandboxUnavailable: the sandbox does not work here and ``unsafe`` is not set.
    """
    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    sandboxed, why = sandbox.sandbox_status()
    if not sandboxed and not unsafe:
        raise SandboxUnavailable(why)
    return GradingJob(course, assignment, course_db_url(course), limits, sandboxed)


def course_db_url(course_dir: Path) -> str:
    """The gradebook URL of the course (``CourseDirectory.db_url`` in nbgrader_config.py, else sqlite)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course_dir)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course_dir)
    return coursedir.db_url
