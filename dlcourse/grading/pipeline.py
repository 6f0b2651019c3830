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
import json
import os
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
    RELEASE_DIR,
    SUBMITTED_DIR,
    CourseError,
    check_assignment,
    check_course_dir,
    list_assignments,
    source_notebooks,
)
from dlcourse.grading.cases import STUDENT_ENV

#: nbgrader's CSV export columns, in its order (``nbgrader export``).
GRADES_COLUMNS = [
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
    "email", "raw_score", "late_submission_penalty", "score", "max_score",
]
REPORT_COLUMNS = ["assignment", "student_id", "status", "score", "max_score", "seconds", "message"]
GRADES_FILE = "grades.csv"
REPORT_FILE = "grading_report.csv"
LOG_DIR = Path(".dlcourse") / "logs"
DEFAULT_STUDENT_TIMEOUT = 1800.0


def nbgrader_env(student: str | None = None) -> dict[str, str]:
    """The environment of an nbgrader process (and so of the kernels it starts)."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)  # alembic and the python3 kernel live here
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = "1"
    env["PYTHONWARNINGS"] = env.get("PYTHONWARNINGS", "")
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
) -> ProcessResult:
    """Run ``python -m nbgrader ARGS`` in ``course_dir``; kill its whole process group on timeout."""
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course_dir,
        env=nbgrader_env(student),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
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


@dataclass
class GradeReport:
    assignment: str
    course_dir: Path
    max_score: float
    results: list[StudentResult] = field(default_factory=list)

    @property
    def grades_csv(self) -> Path:
        return self.course_dir / GRADES_FILE

    @property
    def report_csv(self) -> Path:
        return self.course_dir / REPORT_FILE


def list_submissions(course_dir: Path, assignment: str) -> list[str]:
    """Student ids that have a ``submitted/<student>/<assignment>/`` folder."""
    root = course_dir / SUBMITTED_DIR
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / assignment).is_dir() and not p.name.startswith("."))


def check_submission(course_dir: Path, assignment: str, student: str) -> str | None:
    """A reason the submission cannot be graded at all, or ``None`` when it can."""
    folder = course_dir / SUBMITTED_DIR / student / assignment
    expected = [nb.name for nb in source_notebooks(course_dir, assignment)]
    found = sorted(p.name for p in folder.glob("*.ipynb"))
    missing = [name for name in expected if name not in found]
    if missing and len(missing) == len(expected):
        return f"no {', '.join(missing)} in the submission (found: {', '.join(found) or 'no notebooks'})"
    for name in expected:
        if name in missing:
            continue
        try:
            json.loads((folder / name).read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            return f"{name} is not a text file (it is not UTF-8): it cannot be a notebook"
        except json.JSONDecodeError as exc:
            return (f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                    "the file is truncated or corrupted")
        try:
            nbformat.read(folder / name, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return f"{name} is not a readable notebook ({type(exc).__name__}: {first_line[:200]})"
    return None


def _failure_reason(result: ProcessResult, limit: float) -> str:
    if result.returncode is None:
        return f"grading stopped at the wall-clock limit of {limit:.0f} s for one submission"
    text = result.output
    if "DeadKernelError" in text or "Kernel died" in text:
        return "the notebook's kernel died while running (os._exit, a crash or too much memory)"
    for line in reversed(text.strip().splitlines()):
        if "Error" in line or "error" in line:
            return f"nbgrader failed: {line.strip()[:300]}"
    return f"nbgrader failed with exit status {result.returncode}"


def grade_student(
    course_dir: Path, assignment: str, student: str, *, timeout: float = DEFAULT_STUDENT_TIMEOUT
) -> StudentResult:
    """Autograde one submission and write its feedback; never raises for a bad submission."""
    reason = check_submission(course_dir, assignment, student)
    if reason is not None:
        return StudentResult(student, "error", message=reason)
    logs = course_dir / LOG_DIR / assignment
    auto = run_nbgrader(
        ["autograde", assignment, f"--student={student}", "--force"],
        course_dir, student=student, timeout=timeout, log_path=logs / f"{student}.autograde.log",
    )
    if not auto.ok:
        return StudentResult(student, "error", message=_failure_reason(auto, timeout), seconds=auto.seconds)
    feedback = run_nbgrader(
        ["generate_feedback", assignment, f"--student={student}", "--force"],
        course_dir, student=student, timeout=timeout, log_path=logs / f"{student}.feedback.log",
    )
    message = "graded" if feedback.ok else "graded, but feedback could not be generated: " + _failure_reason(feedback, timeout)
    return StudentResult(student, "graded", message=message, seconds=auto.seconds + feedback.seconds)


def _read_scores(course_dir: Path, assignment: str, results: list[StudentResult]) -> float:
    """Fill score, max_score and timestamp of graded results from the gradebook; return the max score."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        max_score = float(gb.find_assignment(assignment).max_score)
        for res in results:
            res.max_score = max_score
            if res.status != "graded":
                continue
            try:
                sub = gb.find_submission(assignment, res.student)
            except MissingEntry:
                res.status, res.message = "error", "nbgrader recorded no submission"
                continue
            res.score = float(sub.score)
            res.timestamp = sub.timestamp.isoformat() if sub.timestamp else ""
            cells = [g for nb in sub.notebooks for g in nb.grades if g.max_score > 0]
            passed = sum(1 for g in cells if g.score is not None and g.score >= g.max_score)
            if res.message == "graded":
                res.message = f"graded: {passed} of {len(cells)} test cells passed"
    return max_score


def grade(
    assignment: str,
    course_dir: str | os.PathLike = ".",
    *,
    jobs: int = 2,
    timeout: float = DEFAULT_STUDENT_TIMEOUT,
    progress: Callable[[StudentResult], None] | None = None,
) -> GradeReport:
    """Autograde every submission of ``assignment``, write feedback, ``grades.csv`` and the report.

    Works on a course directory that holds only ``nbgrader_config.py``, ``solutions/`` and
    ``submitted/``: the gradebook is prepared from ``solutions/`` (the release generated for
    that goes to a scratch folder; ``assignments/`` is never touched).

    Raises:
        CourseError: for instructor-side problems only (missing config, unknown assignment,
            source notebooks nbgrader rejects). A bad submission is a row in the report.
    """
    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    if jobs < 1:
        raise CourseError(f"--jobs must be at least 1, got {jobs}")
    with tempfile.TemporaryDirectory(prefix="dlcourse-gradebook-") as scratch:
        generate_release(course, assignment, scratch)
    students = list_submissions(course, assignment)

    def one(student: str) -> StudentResult:
        res = grade_student(course, assignment, student, timeout=timeout)
        if progress is not None:
            progress(res)
        return res

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(one, students))
    max_score = _read_scores(course, assignment, results)
    report = GradeReport(assignment, course, max_score, results)
    write_grades(report)
    return report


def write_grades(report: GradeReport) -> None:
    """Update ``grades.csv`` (nbgrader's export columns) and ``grading_report.csv`` (one line per student).

    Rows of other assignments already in the files are kept; this assignment's rows are replaced.
    """
    grades = [{
        "assignment": report.assignment, "duedate": "", "timestamp": res.timestamp,
        "student_id": res.student, "last_name": "", "first_name": "", "email": "",
        "raw_score": _fmt(res.score), "late_submission_penalty": "0.0",
        "score": _fmt(res.score), "max_score": _fmt(report.max_score),
    } for res in report.results]
    lines = [{
        "assignment": report.assignment, "student_id": res.student, "status": res.status,
        "score": _fmt(res.score), "max_score": _fmt(report.max_score),
        "seconds": f"{res.seconds:.1f}", "message": res.message,
    } for res in report.results]
    _update_csv(report.grades_csv, GRADES_COLUMNS, report.assignment, grades)
    _update_csv(report.report_csv, REPORT_COLUMNS, report.assignment, lines)


def _update_csv(path: Path, columns: list[str], assignment: str, rows: list[dict]) -> None:
    kept: list[dict] = []
    if path.is_file():
        with open(path, newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames == columns:
                kept = [row for row in reader if row["assignment"] != assignment]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows(sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"])))


def format_table(report: GradeReport) -> str:
    """A plain-text score table for the terminal."""
    rows = [(r.student, f"{_fmt(r.score)} / {_fmt(report.max_score)}", r.status, r.message) for r in report.results]
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
