"""The nbgrader pipeline: release, autograde, feedback and grades, one student at a time.

Every nbgrader step runs as its own ``python -m nbgrader`` process in the course
directory, so that nbgrader reads that directory's ``nbgrader_config.py`` and a
student whose notebook crashes, hangs or cannot be read never takes another
student's grade with it. Students are graded in parallel (``jobs``), each under a
wall-clock limit, with the student's id in ``DLCOURSE_STUDENT_ID`` (per-student
hidden-test cases) and one BLAS thread per kernel.
"""

from __future__ import annotations

import csv
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import nbformat

from dlcourse.course import (
    CONFIG_FILE,
    RELEASE_DIR,
    SOURCE_DIR,
    SUBMITTED_DIR,
    CourseError,
    check_assignment,
    check_course_dir,
    list_assignments,
)
from dlcourse.grading.cases import STUDENT_ENV
from dlcourse.grading.execute import KERNEL_DIED, KERNEL_HUNG, OUT_OF_MEMORY
from dlcourse.grading.kernel import RUNTIME_ENV, SANDBOX_ENV
from dlcourse.grading.manual import restore_manual_grades, save_manual_grades
from dlcourse.grading.probes import PROBES_FILE, apply_verdict, verify
from dlcourse.grading.safe import console_text, csv_cell, sanitize_notebook
from dlcourse.grading.sandbox import (
    INSTALL_HINT,
    Identity,
    Sandbox,
    SandboxLimits,
    gpu_devices,
    identities,
    private_folder,
    sandbox_status,
)
from dlcourse.grading.sanitize import check_student_id, read_regular_file, stage_submission
from dlcourse.grading.screen import screen_submission

#: nbgrader's CSV export columns, in its order (``nbgrader export``).
GRADES_COLUMNS = [
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
    "email", "raw_score", "late_submission_penalty", "score", "max_score",
]
REPORT_COLUMNS = ["assignment", "student_id", "status", "score", "max_score", "seconds", "message", "review"]
GRADES_FILE = "grades.csv"
REPORT_FILE = "grading_report.csv"
LOG_DIR = Path(".dlcourse") / "logs"
STAGED_DIR = Path(".dlcourse") / "staged"
DEFAULT_STUDENT_TIMEOUT = 1800.0
DEFAULT_MEMORY_LIMIT = 8 * 1024**3  # address space per kernel; torch alone maps about 3.6 GB
FEEDBACK_MIN_SECONDS = 20.0  # feedback is the grader's own work on a sanitized notebook: seconds, whatever is left
MAX_GRADED_NOTEBOOK_BYTES = 256 * 2**20
REPORT_MESSAGE_LIMIT = 1000  # characters of a report line's message (cut at a word, never mid-word)


def nbgrader_env(student: str | None = None) -> dict[str, str]:
    """The environment of an nbgrader process (and so of the kernels it starts)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)  # alembic and the python3 kernel live here
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    if student is not None:
        env[STUDENT_ENV] = student
    else:
        env.pop(STUDENT_ENV, None)
    return env


@dataclass
class ProcessResult:
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
        _kill_group(proc)
        output, _ = proc.communicate()
        returncode = None
    seconds = time.monotonic() - start
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(f"$ nbgrader {' '.join(args)}\n{output}\n[exit {returncode}, {seconds:.1f} s]\n")
    return ProcessResult(returncode, output, seconds)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# --------------------------------------------------------------------------------------
# Release
# --------------------------------------------------------------------------------------

def generate_release(course_dir: str | os.PathLike, assignment: str, release_root: str | os.PathLike) -> Path:
    """Generate the student version of ``assignment`` into ``release_root/<assignment>``.

    Also records the assignment's cells (with their hidden tests) in the course's gradebook.

    Raises:
        CourseError: when nbgrader rejects the source notebooks (the reason is in the message).
    """
    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    release_root = Path(release_root).resolve()
    result = run_nbgrader(
        ["generate_assignment", assignment, "--force", f"--CourseDirectory.release_directory={release_root}"],
        course,
    )
    target = release_root / assignment
    if not result.ok or not target.is_dir():
        raise CourseError(f"nbgrader could not generate the release of {assignment}:\n{_tail(result.output)}")
    return target


def release(course_dir: str | os.PathLike, assignments: Iterable[str] | None = None) -> list[Path]:
    """Regenerate ``assignments/<id>/`` from ``solutions/<id>/`` (all assignments by default).

    The release is generated in a scratch folder first and moved into place only when
    nbgrader succeeded, so a broken source notebook never deletes the current release.
    """
    course = check_course_dir(course_dir)
    ids = list(assignments) if assignments else list_assignments(course)
    for aid in ids:
        check_assignment(course, aid)
    written = []
    for aid in ids:
        with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as scratch:
            generated = generate_release(course, aid, scratch)
            target = course / RELEASE_DIR / aid
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(generated, target)
            written.append(target)
    return written


# --------------------------------------------------------------------------------------
# Grading
# --------------------------------------------------------------------------------------

@dataclass
class StudentResult:
    """The outcome of grading one student's submission of one assignment."""

    student: str
    status: str  # "graded", or "error" when nothing could be scored
    score: float = 0.0
    max_score: float = 0.0
    message: str = ""
    seconds: float = 0.0
    timestamp: str = ""
    notes: list[str] = field(default_factory=list)  # repairs and incidents, joined into message
    review: str = ""  # what the static screen found in student-editable cells (a hint, not a verdict)
    manual_pending: float = 0.0  # points of written answers that still await a grader's manual score


@dataclass
class GradeReport:
    assignment: str
    course_dir: Path
    max_score: float
    results: list[StudentResult] = field(default_factory=list)
    manual_max_score: float = 0.0  # points of the manually graded (written) answers, part of max_score

    @property
    def auto_max_score(self) -> float:
        """What the autograder alone can award: the full marks of a correct solution before manual grading."""
        return self.max_score - self.manual_max_score

    @property
    def grades_csv(self) -> Path:
        return self.course_dir / GRADES_FILE

    @property
    def report_csv(self) -> Path:
        return self.course_dir / REPORT_FILE


def list_submissions(course_dir: Path, assignment: str) -> tuple[list[str], dict[str, str]]:
    """The submissions of ``assignment``: ``(valid student ids, {folder name: why it is refused})``.

    A submission is a real folder ``submitted/<student>/<assignment>/`` (links are never followed).
    The folder name must be a valid student id (see :func:`check_student_id`): it is handed to
    nbgrader, which reads ``--student`` as a glob pattern.
    """
    root = course_dir / SUBMITTED_DIR
    valid: list[str] = []
    refused: dict[str, str] = {}
    if not root.is_dir():
        return valid, refused
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        inner = Path(entry.path) / assignment
        if entry.is_symlink():
            refused[entry.name] = "is a link, not a folder (links are never followed)"
        elif not entry.is_dir(follow_symlinks=False) or not os.path.lexists(inner):
            continue  # not a student folder, or this student did not hand in this assignment
        elif (why := check_student_id(entry.name)) is not None:
            refused[entry.name] = why
        elif inner.is_symlink() or not inner.is_dir():
            refused[entry.name] = f"its {assignment} is not a folder (a link or a file)"
        else:
            valid.append(entry.name)
    return valid, refused


def _failure_reason(result: ProcessResult, limit: float) -> str:
    if result.returncode is None:
        return f"grading stopped at the wall-clock limit of {limit:.0f} s for one submission"
    text = result.output
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the notebook's kernel died before it could be graded"
    for line in reversed(text.strip().splitlines()):
        if "Error" in line or "error" in line:
            return f"nbgrader failed: {line.strip()[:300]}"
    return f"nbgrader failed with exit status {result.returncode}"


@dataclass(frozen=True)
class Limits:
    """Resource limits of one student's grading run: time, the kernel's memory, the sandbox's bounds."""

    wall_seconds: float = DEFAULT_STUDENT_TIMEOUT  # the whole grading of one student, probes and feedback included
    cell_seconds: int | None = None  # None: nbgrader_config.py's Execute.timeout
    memory_bytes: int | None = DEFAULT_MEMORY_LIMIT
    sandbox: SandboxLimits = SandboxLimits()

    def preexec(self) -> Callable[[], None]:
        # CUDA reserves far more address space than any useful RLIMIT_AS at start-up: on a machine
        # with a GPU the address-space limit would make every CUDA test fail, so it is not applied
        # there (bound memory with the container's or cgroup's limit instead; see README).
        memory = None if gpu_devices() else self.memory_bytes

        def apply() -> None:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a segfault leaves no core file
            if memory:
                resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

        return apply


@dataclass
class _Budget:
    """The time left of one student's ``--timeout``."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def left(self, floor: float = 0.0) -> float:
        return max(floor, self.seconds - (time.monotonic() - self.start))


def _forget_previous_run(course_dir: Path, assignment: str, student: str, db_url: str) -> None:
    """Remove a previous grading of this student so no stale grade can survive a failed re-grade."""
    from nbgrader.api import Gradebook, MissingEntry

    for folder in (course_dir / "autograded" / student / assignment, course_dir / "feedback" / student / assignment):
        if folder.is_symlink():
            folder.unlink()
        elif folder.exists():
            shutil.rmtree(folder)
    with Gradebook(db_url) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


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
    """Cells of the autograded notebooks whose kernel died, hung or timed out, in words."""
    words = {KERNEL_DIED: "the kernel died in", KERNEL_HUNG: "the kernel hung in",
             "CellTimeoutError": "timed out:", OUT_OF_MEMORY: "ran out of memory in"}
    incidents = []
    for path in notebooks:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001
            continue
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error" and out.get("ename") in words:
                    gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                    where = f"cell {gid!r}" if gid else f"cell {i + 1}"
                    incidents.append(f"{words[out['ename']]} {where}")
                    break
    return incidents


def _make_safe_to_render(notebooks: list[Path]) -> None:
    """Strip active content from the autograded notebooks: formgrader and feedback render them as HTML."""
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        sanitize_notebook(nb)
        nbformat.write(nb, path)


def grade_student(
    course_dir: Path, assignment: str, student: str, *,
    release_dir: Path, db_url: str, limits: Limits = Limits(), sandbox: bool = True,
    identity: Identity | None = None,
) -> StudentResult:
    """Stage, autograde, verify and write feedback for one submission; never raises for a bad submission.

    Everything of one student, probes and feedback included, runs within ``limits.wall_seconds``.
    With ``sandbox``, the kernel and the probe runner run in bubblewrap as ``identity`` (see
    :mod:`dlcourse.grading.sandbox`); the probes of the assignment, if it has any, then re-check
    every exercise out of process and override nbgrader where they disagree.
    """
    budget = _Budget(limits.wall_seconds)
    try:
        return _grade_student(course_dir, assignment, student, release_dir=release_dir, db_url=db_url,
                              limits=limits, sandbox=sandbox, identity=identity, budget=budget)
    except Exception as exc:  # noqa: BLE001 - one student's failure is that student's row, never the batch's
        return StudentResult(student, "error", seconds=time.monotonic() - budget.start,
                             message=f"grading failed: {type(exc).__name__}: {exc}")


def _grade_student(course_dir: Path, assignment: str, student: str, *, release_dir: Path, db_url: str,
                   limits: Limits, sandbox: bool, identity: Identity | None, budget: _Budget) -> StudentResult:
    manual = save_manual_grades(db_url, assignment, student, course_dir / "autograded" / student / assignment)
    _forget_previous_run(course_dir, assignment, student, db_url)
    submitted = course_dir / SUBMITTED_DIR / student / assignment
    staged_dir = course_dir / STAGED_DIR / student / assignment
    staged = stage_submission(submitted, staged_dir, release_dir)
    review = screen_submission(staged_dir)
    if staged.problem is not None:
        return StudentResult(student, "error", message="; ".join([staged.problem, *staged.notes]), review=review,
                             seconds=time.monotonic() - budget.start)
    logs = course_dir / LOG_DIR / assignment
    workdir = course_dir / "autograded" / student / assignment
    args = ["autograde", assignment, f"--student={student}", "--force",
            f"--CourseDirectory.submitted_directory={STAGED_DIR.as_posix()}"]
    if limits.cell_seconds:
        args.append(f"--Execute.timeout={int(limits.cell_seconds)}")
    runtime = private_folder("dlk-")  # short: Unix socket paths are limited to 107 bytes
    try:
        extra_env = {"JUPYTER_RUNTIME_DIR": str(runtime), "TMPDIR": str(runtime)}
        if sandbox:
            box = Sandbox(workdir, student=student, identity=identity, limits=limits.sandbox)
            args.append("--Execute.kernel_manager_class=dlcourse.grading.kernel.SandboxedKernelManager")
            extra_env.update({SANDBOX_ENV: box.to_json(), RUNTIME_ENV: str(runtime)})
        auto = run_nbgrader(args, course_dir, student=student, timeout=budget.left(1.0),
                            log_path=logs / f"{student}.autograde.log", preexec=limits.preexec(), extra_env=extra_env)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)
    if not auto.ok:
        return StudentResult(student, "error", seconds=time.monotonic() - budget.start, review=review,
                             message="; ".join([_failure_reason(auto, limits.wall_seconds), *staged.notes]))
    graded = _graded_notebooks(workdir, staged.notebooks)
    _make_safe_to_render(graded)
    notes = _cell_incidents(graded)
    notes += _verify_with_probes(course_dir, assignment, student, graded, db_url, limits, sandbox, identity, budget)
    if manual:
        kept = restore_manual_grades(db_url, assignment, student, workdir, manual)
        if kept:
            notes.append(f"kept the manual grades of {len(kept)} unchanged written answer(s)")
        if len(kept) < len(manual):
            notes.append(f"{len(manual) - len(kept)} written answer(s) changed since they were graded by hand")
    notes += staged.notes
    feedback = run_nbgrader(
        ["generate_feedback", assignment, f"--student={student}", "--force"],
        course_dir, student=student, timeout=budget.left(FEEDBACK_MIN_SECONDS),
        log_path=logs / f"{student}.feedback.log",
    )
    if not feedback.ok:
        notes.append("feedback could not be generated: " + _failure_reason(feedback, limits.wall_seconds))
    return StudentResult(student, "graded", notes=notes, seconds=time.monotonic() - budget.start, review=review)


def _verify_with_probes(course_dir: Path, assignment: str, student: str, notebooks: list[Path], db_url: str,
                        limits: Limits, sandbox: bool, identity: Identity | None, budget: _Budget) -> list[str]:
    """Run the assignment's probes for one student and apply the verdict; return report notes."""
    source_dir = course_dir / SOURCE_DIR / assignment
    if not (source_dir / PROBES_FILE).is_file():
        return []
    workdir = course_dir / "autograded" / student / assignment
    box = Sandbox(workdir, student=student, identity=identity, limits=limits.sandbox) if sandbox else None
    verdict = verify(source_dir, notebooks, student, sandbox=box, timeout=budget.left(1.0),
                     preexec=limits.preexec())
    overridden, to_review = apply_verdict(db_url, assignment, student, verdict)
    notes = []
    if verdict.problem:
        notes.append(f"probes could not run: {verdict.problem}")
    if overridden:
        first = next(iter(verdict.failures.items()))
        notes.append(f"probes overrode nbgrader on {len(overridden)} cell(s) ({', '.join(overridden[:4])}"
                     f"{', ...' if len(overridden) > 4 else ''}): probe {first[0]!r}: {first[1][:160]}")
    if to_review:
        notes.append(f"review: nbgrader scored 0 on {', '.join(to_review[:4])} although the probes pass")
    return notes


def course_db_url(course_dir: Path) -> str:
    """The gradebook URL of the course (``CourseDirectory.db_url`` in nbgrader_config.py, else sqlite)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE, path=str(course_dir)).load_config()
    coursedir = CourseDirectory(config=config)
    coursedir.root = str(course_dir)
    return coursedir.db_url


def _read_scores(db_url: str, assignment: str, results: list[StudentResult]) -> tuple[float, float]:
    """Fill score, max_score, timestamp and message of graded results from the gradebook.

    Returns the assignment's max score and the part of it that is graded manually (written answers:
    grade cells the autograder leaves unscored).
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        nb_assignment = gb.find_assignment(assignment)
        max_score = float(nb_assignment.max_score)
        manual_max = float(sum(c.max_score for nb in nb_assignment.notebooks for c in nb.grade_cells
                               if c.cell_type == "markdown"))
        for res in results:
            res.max_score = max_score
            if res.status != "graded":
                continue
            try:
                sub = gb.find_submission(assignment, res.student)
            except MissingEntry:
                res.status, res.message = "error", "; ".join(["nbgrader recorded no submission", *res.notes])
                continue
            res.score = float(sub.score)
            res.timestamp = sub.timestamp.isoformat() if sub.timestamp else ""
            grades = [g for nb in sub.notebooks for g in nb.grades if g.max_score > 0]
            cells = [g for g in grades if g.cell.cell_type == "code"]
            passed = sum(1 for g in cells if g.score is not None and g.score >= g.max_score)
            parts = [f"graded: {passed} of {len(cells)} test cells passed"]
            res.manual_pending = float(sum(g.max_score for g in grades
                                           if g.cell.cell_type == "markdown" and g.manual_score is None))
            if res.manual_pending:
                parts.append(f"{_fmt(res.manual_pending)} points of written answers await manual grading")
            res.message = "; ".join([*parts, *res.notes])
    return max_score, manual_max


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

    Raises:
        CourseError: for instructor-side problems only (missing config, unknown assignment,
            source notebooks nbgrader rejects). A bad submission is a row in the report.
    """
    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    if jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {jobs}")
    sandboxed, why = sandbox_status()
    if not sandboxed and not unsafe:
        raise CourseError(f"the grading sandbox is unavailable ({why}): {INSTALL_HINT}")
    db_url = course_db_url(course)
    limits = Limits(wall_seconds=timeout, cell_seconds=cell_timeout, memory_bytes=memory_limit)
    available, refused = list_submissions(course, assignment)
    if students is not None:
        wanted = list(dict.fromkeys(students))
        unknown = [s for s in wanted if s not in available and s not in refused]
        if unknown:
            raise CourseError(f"no submission of {assignment} for: {', '.join(console_text(s) for s in unknown)}")
        available = [s for s in wanted if s in available]
        refused = {s: why for s, why in refused.items() if s in wanted}
    slots: queue.SimpleQueue[Identity | None] = queue.SimpleQueue()
    for ident in identities(jobs):  # one sandbox user per concurrent student: the process cap is per user
        slots.put(ident)
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as scratch:
        release_dir = generate_release(course, assignment, scratch)

        def one(student: str) -> StudentResult:
            ident = slots.get()
            try:
                res = grade_student(course, assignment, student, release_dir=release_dir, db_url=db_url,
                                    limits=limits, sandbox=sandboxed, identity=ident)
            finally:
                slots.put(ident)
            if not sandboxed:
                if res.status == "error":
                    res.message += "; UNSAFE: graded without a sandbox"
                else:
                    res.notes.append("UNSAFE: graded without a sandbox")
            if progress is not None:
                progress(res)
            return res

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(one, available))
    for name, why in refused.items():
        res = StudentResult(name, "error", message=f"not graded: the submission folder {name!r} {why}")
        results.append(res)
        if progress is not None:
            progress(res)
    max_score, manual_max = _read_scores(db_url, assignment, results)
    report = GradeReport(assignment, course, max_score, results, manual_max_score=manual_max)
    write_grades(report)
    return report


def write_grades(report: GradeReport) -> None:
    """Update ``grades.csv`` (nbgrader's export columns) and ``grading_report.csv`` (one line per student).

    The rows of the students just graded are replaced; every other row already in the files is kept.
    """
    grades = [{
        "assignment": report.assignment, "duedate": "", "timestamp": res.timestamp,
        "student_id": csv_cell(res.student), "last_name": "", "first_name": "", "email": "",
        "raw_score": _fmt(res.score), "late_submission_penalty": "0.0",
        "score": _fmt(res.score), "max_score": _fmt(report.max_score),
    } for res in report.results]
    lines = [{
        "assignment": report.assignment, "student_id": csv_cell(res.student), "status": res.status,
        "score": _fmt(res.score), "max_score": _fmt(report.max_score), "seconds": f"{res.seconds:.1f}",
        "message": csv_cell(res.message, limit=REPORT_MESSAGE_LIMIT), "review": csv_cell(res.review),
    } for res in report.results]
    graded = {csv_cell(res.student) for res in report.results}
    _update_csv(report.grades_csv, GRADES_COLUMNS, report.assignment, graded, grades)
    _update_csv(report.report_csv, REPORT_COLUMNS, report.assignment, graded, lines)


def _update_csv(path: Path, columns: list[str], assignment: str, students: set[str], rows: list[dict]) -> None:
    """Replace the rows of ``students`` for ``assignment`` in the CSV file; keep every other row."""
    kept: list[dict] = []
    if path.is_file():
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames == columns:
                kept = [row for row in reader if row["assignment"] != assignment or row["student_id"] not in students]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"])))


def format_table(report: GradeReport) -> str:
    """A plain-text score table for the terminal."""
    rows = [(console_text(r.student, limit=40), f"{_fmt(r.score)} / {_fmt(report.max_score)}", r.status,
             console_text(r.message, limit=REPORT_MESSAGE_LIMIT)) for r in report.results]
    header = ("student", "score", "status", "message")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header[:3])]
    lines = [f"{report.assignment}: {len(rows)} submission(s)"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header[:3], widths)) + "  " + header[3])
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:g}"


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
