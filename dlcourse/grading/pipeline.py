"""The grading pipeline: release, then every student's autograde, then the gradebook and the reports.

The steps live in modules named after them, and share one :class:`~dlcourse.grading.job.GradingJob`
that :func:`~dlcourse.grading.job.prepare_job` checks once:

- :mod:`dlcourse.grading.nbgrader_run`: each nbgrader step as its own process;
- :mod:`dlcourse.grading.release`: the student release from the source notebooks;
- :mod:`dlcourse.grading.submissions`: which submissions there are, which are refused;
- :mod:`dlcourse.grading.autograde`: one student, staged, sandboxed, verified by probes, with feedback;
- :mod:`dlcourse.grading.gradebook`: scores read back from nbgrader's gradebook;
- :mod:`dlcourse.grading.report`: ``grades.csv``, ``grading_report.csv`` and the terminal table;
- :mod:`dlcourse.grading.similarity`: copy detection, ``similarity.csv`` and ``similarity.html``.

Students are graded in parallel (``jobs``), each as its own sandbox user, under a
wall-clock limit, or on a dask.distributed cluster (:mod:`dlcourse.grading.cluster`).
Wording for the command line lives in :mod:`dlcourse.cli`.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from dlcourse.course import check_assignment, check_course_dir
from dlcourse.grading.autograde import grade_student
from dlcourse.grading.gradebook import read_scores
from dlcourse.grading.job import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_STUDENT_TIMEOUT,
    STAGED_DIR,
    GradingJob,
    Limits,
    SandboxUnavailable,
    course_db_url,
    prepare_job,
)
from dlcourse.grading.nbgrader_run import nbgrader_env, run_nbgrader
from dlcourse.grading.release import generate_checked_release, generate_release, release
from dlcourse.grading.report import GradeReport, StudentResult, format_table, write_grades
from dlcourse.grading.sandbox import Identity, identities
from dlcourse.grading.submissions import UnknownStudents, list_submissions, select_submissions

if TYPE_CHECKING:
    from dlcourse.grading.similarity import SimilarityReport

__all__ = [
    "DEFAULT_MEMORY_LIMIT", "DEFAULT_STUDENT_TIMEOUT", "GradeReport", "GradingJob", "Limits", "SandboxUnavailable",
    "StudentResult", "UnknownStudents", "course_db_url", "format_table", "generate_release", "grade", "grade_job",
    "grade_student", "list_submissions", "nbgrader_env", "prepare_job", "release", "rescreen", "run_nbgrader",
]

UNSAFE_NOTE = "UNSAFE: graded without a sandbox"


def grade(
    assignment: str,
    course_dir: str | os.PathLike = ".",
    *,
    jobs: int = 2,
    timeout: float = DEFAULT_STUDENT_TIMEOUT,
    cell_timeout: int | None = None,
    memory_limit: int | None = DEFAULT_MEMORY_LIMIT,
    students: Iterable[str] | None = None,
    unsafe: bool = False,
    progress: Callable[[StudentResult], None] | None = None,
    scheduler: str | None = None,
) -> GradeReport:
    """Autograde every submission of ``assignment``, write feedback, ``grades.csv`` and the report.

    Works on a course directory that holds only ``nbgrader_config.py``, ``solutions/`` and
    ``submitted/``: the gradebook is prepared from ``solutions/`` (the release generated for
    that goes to a scratch folder; ``assignments/`` is never touched). Each submission is
    staged (see :mod:`dlcourse.grading.sanitize`) and graded in its own nbgrader process with
    a wall-clock limit (``timeout`` seconds), a per-cell limit (``cell_timeout``, default from
    the config) and a memory limit (``memory_limit`` bytes, None for none). ``students``
    restricts grading to some students (their rows are replaced, the others' kept).
    Student code runs in the bubblewrap sandbox; without it grading refuses to run unless
    ``unsafe`` is set (then kernels and probes run unsandboxed, and the report says so).
    With ``scheduler``, the students are graded on that dask.distributed cluster
    (:mod:`dlcourse.grading.cluster`) and the scores are the same.

    Raises:
        CourseError: for instructor-side problems only (missing config, unknown assignment,
            source notebooks nbgrader rejects, no sandbox). A bad submission is a row in the report.
        ValueError: ``jobs`` below 1; :class:`UnknownStudents` for ``students`` without a submission.
    """
    limits = Limits(wall_seconds=timeout, cell_seconds=cell_timeout, memory_bytes=memory_limit)
    job = prepare_job(assignment, course_dir, limits=limits, unsafe=unsafe)
    return grade_job(job, jobs=jobs, students=students, progress=progress, scheduler=scheduler)


def grade_job(
    job: GradingJob,
    *,
    jobs: int = 2,
    students: Iterable[str] | None = None,
    progress: Callable[[StudentResult], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    scheduler: str | None = None,
) -> GradeReport:
    """Grade the submissions of a prepared ``job`` (see :func:`grade`), ``jobs`` students at a time.

    With ``scheduler`` (a dask.distributed scheduler address, e.g. ``tcp://10.0.0.5:8786``), the students
    are graded on that cluster's workers instead (:mod:`dlcourse.grading.cluster`; ``jobs`` is then unused).
    ``progress`` is called with each student's result as it comes in; ``on_total`` first, with how many
    results there will be (for a progress bar).
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}")
    available, refused = select_submissions(job.course_dir, job.assignment, students)
    if on_total is not None:
        on_total(len(available) + len(refused))

    def done(res: StudentResult) -> StudentResult:
        if not job.sandboxed:
            if res.status == "error":
                res.message += f"; {UNSAFE_NOTE}"
            else:
                res.notes.append(UNSAFE_NOTE)
        if progress is not None:
            progress(res)
        return res

    with contextlib.ExitStack() as stack:
        cluster = None
        if scheduler is not None:  # connected first: the workers warm up while the release is generated
            from dlcourse.grading.cluster import ClusterSession

            cluster = stack.enter_context(ClusterSession(job, scheduler))
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="dlcourse-release-"))
        job = job.with_release(generate_checked_release(job.course_dir, job.assignment, Path(scratch)))
        if cluster is not None:
            results = cluster.grade(job, available, done)
        else:
            results = _grade_here(job, available, jobs, done)
        for name, why in refused.items():
            results.append(done(StudentResult(name, "error", message=f"not graded: the submission folder {name!r} {why}")))
        max_score, manual_max = read_scores(job, results)
        report = GradeReport(job.assignment, job.course_dir, max_score, results, manual_max_score=manual_max)
        screen_similarity(job, report)
    write_grades(report)
    return report


def _grade_here(job: GradingJob, students: list[str], jobs: int,
                done: Callable[[StudentResult], StudentResult]) -> list[StudentResult]:
    """Grade ``students`` on this machine, ``jobs`` at a time, each as its own sandbox user."""
    slots: queue.SimpleQueue[Identity | None] = queue.SimpleQueue()
    for ident in identities(jobs):  # one sandbox user per concurrent student: the process cap is per user
        slots.put(ident)

    def one(student: str) -> StudentResult:
        ident = slots.get()
        try:
            res = grade_student(job, student, ident)
        finally:
            slots.put(ident)
        return done(res)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(one, students))


def screen_similarity(job: GradingJob, report: GradeReport) -> None:
    """Copy detection over every staged submission of the assignment (see :mod:`dlcourse.grading.similarity`):
    writes ``similarity.csv`` and ``similarity.html`` and names each student's flagged matches in their
    ``review`` column. It never changes a score, and a failure here is reported, never fatal to grading."""
    from dlcourse.grading.similarity import screen_assignment

    try:
        report.similarity = screen_assignment(job.course_dir, job.assignment, job.release_dir)
    except Exception as exc:  # noqa: BLE001 - grades stand without the similarity report
        report.similarity_error = f"{type(exc).__name__}: {exc}"
        return
    for res in report.results:
        note = report.similarity.review(res.student)
        if note:
            res.review = "; ".join(part for part in (res.review, note) if part)


def rescreen(assignment: str, course_dir: str | os.PathLike = ".") -> "SimilarityReport":
    """Copy detection on the current submissions of ``assignment``, without grading (``dlcourse similarity``).

    Every current submission is staged again (the same checks as for grading; no student code runs), so a
    resubmission is compared as it is now, and a submission that was removed is no longer compared. Writes ``similarity.csv`` and ``similarity.html`` and updates the similarity
    notes in the ``review`` column of ``grading_report.csv`` for the students it has rows for.
    """
    from dlcourse.grading.report import update_reviews
    from dlcourse.grading.sanitize import stage_submission
    from dlcourse.grading.similarity import screen_assignment

    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    job = GradingJob(course, assignment, course_db_url(course))
    available, _refused = select_submissions(course, assignment, None)
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as scratch:
        job = job.with_release(generate_checked_release(course, assignment, Path(scratch)))
        for student in available:  # every one again: a resubmission replaces what an earlier run staged
            stage_submission(job.submitted(student), job.staged(student), job.release_dir)
        for folder in (course / STAGED_DIR).glob(f"*/{assignment}"):  # submissions that are gone are not compared
            if folder.parent.name not in available and not folder.is_symlink():
                shutil.rmtree(folder)
        report = screen_assignment(course, assignment, job.release_dir)
    update_reviews(course, assignment, {student: report.review(student) for student in available})
    return report
