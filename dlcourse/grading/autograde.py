"""The autograde step for one student: stage, run nbgrader in the sandbox, verify with probes, feedback.

:func:`grade_student` never raises for a bad submission: whatever happens is that student's
:class:`~dlcourse.grading.report.StudentResult`. Everything of one student, probes and
feedback included, runs within the job's ``limits.wall_seconds``. After the kernel ran,
its work folder is untrusted: only the notebooks that were staged are read back, as
regular files (:func:`dlcourse.grading.sanitize.read_regular_file`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dlcourse.course import SOURCE_DIR
from dlcourse.grading.feedback_status import clear_marks, mark_withdrawn
from dlcourse.grading.execute import KERNEL_DIED, KERNEL_HUNG, OUT_OF_MEMORY
from dlcourse.grading.gradebook import forget_submission
from dlcourse.grading.job import STAGED_DIR, Budget, GradingJob
from dlcourse.grading.kernel import RUNTIME_ENV, SANDBOX_ENV
from dlcourse.grading.manual import restore_manual_grades, save_manual_grades
from dlcourse.grading.nbgrader_run import failure_reason, run_nbgrader
from dlcourse.grading.probes import PROBES_FILE, apply_verdict, verify
from dlcourse.grading.report import StudentResult
from dlcourse.grading.safe import sanitize_notebook
from dlcourse.grading.sandbox import Identity, Sandbox, private_folder
from dlcourse.grading.sanitize import StagedSubmission, read_regular_file, stage_submission
from dlcourse.grading.screen import screen_submission

FEEDBACK_MIN_SECONDS = 20.0  # feedback is the grader's own work on a sanitized notebook: seconds, whatever is left
MAX_GRADED_NOTEBOOK_BYTES = 256 * 2**20
#: How the report names a cell whose error has one of these names.
INCIDENT_WORDS = {KERNEL_DIED: "the kernel died in", KERNEL_HUNG: "the kernel hung in",
                  "CellTimeoutError": "timed out:", OUT_OF_MEMORY: "ran out of memory in"}


@dataclass
class Prepared:
    """What happens before any student code runs, on the machine that owns the gradebook (see :func:`prepare_student`)."""

    staged: StagedSubmission
    review: str = ""
    manual: dict = field(default_factory=dict)  # manual grades of written answers, to restore if unchanged


def grade_student(job: GradingJob, student: str, identity: Identity | None = None) -> StudentResult:
    """Stage, autograde, verify and write feedback for one submission; never raises for a bad submission.

    With ``job.sandboxed``, the kernel and the probe runner run in bubblewrap as ``identity``
    (see :mod:`dlcourse.grading.sandbox`); the probes of the assignment, if it has any, then
    re-check every exercise out of process and override nbgrader where they disagree.
    """
    budget = Budget(job.limits.wall_seconds)
    try:
        prepared = prepare_student(job, student, budget)
        if isinstance(prepared, StudentResult):
            return prepared
        return run_student(job, student, prepared, identity, budget)
    except Exception as exc:  # noqa: BLE001 - one student's failure is that student's row, never the batch's
        return StudentResult(student, "error", seconds=budget.spent(),
                             message=f"grading failed: {type(exc).__name__}: {exc}")


def prepare_student(job: GradingJob, student: str, budget: Budget) -> Prepared | StudentResult:
    """Save the manual grades, forget the previous run, stage and screen the submission.

    Runs where the gradebook and ``submitted/`` are (the coordinating process when grading on a
    cluster). Returns what :func:`run_student` needs, or the student's row when the submission
    cannot be graded. No student code runs here.
    """
    if job.release_dir is None:
        raise ValueError("job.release_dir is not set: generate the release first (GradingJob.with_release)")
    manual = save_manual_grades(job.db_url, job.assignment, student, job.autograded(student))
    _forget_previous_run(job, student)
    staged = stage_submission(job.submitted(student), job.staged(student), job.release_dir)
    review = screen_submission(job.staged(student))
    if staged.problem is not None:
        return StudentResult(student, "error", message="; ".join([staged.problem, *staged.notes]), review=review,
                             seconds=budget.spent())
    return Prepared(staged, review, manual)


def run_student(job: GradingJob, student: str, prepared: Prepared, identity: Identity | None,
                budget: Budget) -> StudentResult:
    """Autograde the staged submission in the sandbox, verify it with the probes, write the feedback.

    Reads only ``job``'s staged submission, release and source folder, and writes only the
    student's autograded and feedback folders, logs and gradebook rows: on a cluster worker,
    ``job`` is the worker's scratch copy of the course (:mod:`dlcourse.grading.cluster`).
    """
    staged, review, manual = prepared.staged, prepared.review, prepared.manual
    workdir = job.autograded(student)
    auto = _autograde(job, student, identity, budget)
    if not auto.ok:
        return StudentResult(student, "error", seconds=budget.spent(), review=review,
                             message="; ".join([failure_reason(auto, job.limits.wall_seconds), *staged.notes]))
    graded = _graded_notebooks(workdir, staged.notebooks)
    _make_safe_to_render(graded)
    notes = _cell_incidents(graded)
    notes += _verify_with_probes(job, student, graded, identity, budget)
    if manual:
        kept = restore_manual_grades(job.db_url, job.assignment, student, workdir, manual)
        if kept:
            notes.append(f"kept the manual grades of {len(kept)} unchanged written answer(s)")
        if len(kept) < len(manual):
            notes.append(f"{len(manual) - len(kept)} written answer(s) changed since they were graded by hand")
    notes += staged.notes
    feedback = run_nbgrader(
        ["generate_feedback", job.assignment, f"--student={student}", "--force"],
        job.course_dir, student=student, timeout=budget.left(FEEDBACK_MIN_SECONDS),
        log_path=job.log(student, "feedback"),
    )
    if not feedback.ok:
        notes.append("feedback could not be generated: " + failure_reason(feedback, job.limits.wall_seconds))
    return StudentResult(student, "graded", notes=notes, seconds=budget.spent(), review=review)


def _forget_previous_run(job: GradingJob, student: str) -> None:
    """Remove a previous grading of this student so no stale grade can survive a failed re-grade."""
    for folder in (job.autograded(student), job.feedback(student)):
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            shutil.rmtree(folder)
    forget_submission(job, student)


def _autograde(job: GradingJob, student: str, identity: Identity | None, budget: Budget):
    """``nbgrader autograde`` of the staged submission, its kernel in the sandbox."""
    args = ["autograde", job.assignment, f"--student={student}", "--force",
            f"--CourseDirectory.submitted_directory={STAGED_DIR.as_posix()}"]
    if job.limits.cell_seconds:
        args.append(f"--Execute.timeout={int(job.limits.cell_seconds)}")
    runtime = private_folder("dlk-")  # short: Unix socket paths are limited to 107 bytes
    try:
        extra_env = {"JUPYTER_RUNTIME_DIR": str(runtime), "TMPDIR": str(runtime)}
        if job.sandboxed:
            box = Sandbox(job.autograded(student), student=student, identity=identity, limits=job.limits.sandbox)
            args.append("--Execute.kernel_manager_class=dlcourse.grading.kernel.SandboxedKernelManager")
            extra_env.update({SANDBOX_ENV: box.to_json(), RUNTIME_ENV: str(runtime)})
        return run_nbgrader(args, job.course_dir, student=student, timeout=budget.left(1.0),
                            log_path=job.log(student, "autograde"), preexec=job.limits.preexec(),
                            extra_env=extra_env)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def _graded_notebooks(workdir: Path, names: list[str]) -> list[Path]:
    """The autograded notebooks nbgrader wrote for the staged ``names``: regular files only, never a link."""
    found = []
    for name in names:
        path = workdir / name
        try:
            read_regular_file(path, limit=MAX_GRADED_NOTEBOOK_BYTES)
        except OSError:
            continue
        found.append(path)
    return found


def _cell_incidents(notebooks: list[Path]) -> list[str]:
    """Cells of the autograded notebooks whose kernel died, hung, timed out or ran out of memory, in words."""
    incidents = []
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") in INCIDENT_WORDS:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    where = f"cell {gid!r}" if gid else f"cell {i + 1}"
                    incidents.append(f"{INCIDENT_WORDS[out['ename']]} {where}")
                    break
    return incidents


def _make_safe_to_render(notebooks: list[Path]) -> None:
    """Strip active content from the autograded notebooks: formgrader and feedback render them as HTML.

    Cell metadata is reduced to nbgrader's, so no ``dlcourse`` mark the kernel could have forged survives
    (:mod:`dlcourse.grading.feedback_status`)."""
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        sanitize_notebook(nb)
        clear_marks(nb)
        _write_notebook(path, nb)


def _write_notebook(path: Path, nb) -> None:
    """Rewrite an autograded notebook, which nbgrader leaves read-only, and leave it read-only again."""
    mode = path.stat().st_mode
    path.chmod(mode | 0o200)
    try:
        nbformat.write(nb, path)
    finally:
        path.chmod(mode)


def _verify_with_probes(job: GradingJob, student: str, notebooks: list[Path], identity: Identity | None,
                        budget: Budget) -> list[str]:
    """Run the assignment's probes for one student and apply the verdict; return report notes."""
    source_dir = job.course_dir / SOURCE_DIR / job.assignment
    if not (source_dir / PROBES_FILE).is_file():
        return []
    box = (Sandbox(job.autograded(student), student=student, identity=identity, limits=job.limits.sandbox)
           if job.sandboxed else None)
    verdict = verify(source_dir, notebooks, student, sandbox=box, timeout=budget.left(1.0),
                     preexec=job.limits.preexec())
    overridden, to_review = apply_verdict(job.db_url, job.assignment, student, verdict)
    notes = []
    if verdict.problem:
        notes.append(f"probes could not run: {verdict.problem}")
    if overridden:
        _mark_withdrawn(notebooks, {cell: [f"{name}: {verdict.failures[name]}" if not verdict.problem
                                           else f"the re-run could not complete: {verdict.problem}"
                                           for name in verdict.failed_by_cell.get(cell, [])][:3]
                                    for cell in overridden})
        first = next(iter(verdict.failures.items()))
        notes.append(f"probes overrode nbgrader on {len(overridden)} cell(s) ({', '.join(overridden[:4])}"
                     f"{', ...' if len(overridden) > 4 else ''}): probe {first[0]!r}: {first[1]}")
    if to_review:
        notes.append(f"review: nbgrader scored 0 on {', '.join(to_review[:4])} although the probes pass")
    return notes


def _mark_withdrawn(notebooks: list[Path], reasons: dict[str, list[str]]) -> None:
    """Write into the autograded notebooks why the probes withdrew each cell's points (for the feedback)."""
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        if mark_withdrawn(nb, reasons):
            _write_notebook(path, nb)
