"""The outcome of grading: one result per student, ``grades.csv``, ``grading_report.csv`` and a table.

Everything a submission named (its folder name, its messages) reaches these files and the
terminal only through :func:`dlcourse.grading.safe.csv_cell` and
:func:`~dlcourse.grading.safe.console_text`.
"""

from __future__ import annotations

import csv
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dlcourse.grading.safe import console_text, csv_cell

#: nbgrader's CSV export columns, in its order (``nbgrader export``).
GRADES_COLUMNS = [
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
    "email", "raw_score", "late_submission_penalty", "score", "max_score",
]
REPORT_COLUMNS = ["assignment", "student_id", "status", "score", "max_score", "seconds", "message", "review"]
GRADES_FILE = "grades.csv"
REPORT_FILE = "grading_report.csv"
REPORT_MESSAGE_LIMIT = 1000  # characters of a report line's message (cut after a whole sentence)
LOCK_DIR = ".dlcourse"  # the report files' locks, next to the reports


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
    first_name: str = ""  # from the gradebook's roster (nbgrader db student add ... --first-name ...)
    last_name: str = ""
    email: str = ""


@dataclass
class GradeReport:
    """Every student's result of one grading run of one assignment."""

    assignment: str
    course_dir: Path
    max_score: float
    results: list[StudentResult] = field(default_factory=list)
    manual_max_score: float = 0.0  # points of the manually graded (written) answers, part of max_score
    similarity: Any = None  # the copy-detection report (dlcourse.grading.similarity.SimilarityReport), if made
    similarity_error: str = ""  # why there is none

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


def write_grades(report: GradeReport) -> None:
    """Update ``grades.csv`` (nbgrader's export columns) and ``grading_report.csv`` (one line per student).

    The rows of the students just graded are replaced; every other row already in the files is kept.
    """
    grades = [{
        "assignment": report.assignment, "duedate": "", "timestamp": res.timestamp,
        "student_id": csv_cell(res.student), "last_name": csv_cell(res.last_name),
        "first_name": csv_cell(res.first_name), "email": csv_cell(res.email),
        "raw_score": fmt_points(res.score), "late_submission_penalty": "0.0",
        "score": fmt_points(res.score), "max_score": fmt_points(report.max_score),
    } for res in report.results]
    lines = [{
        "assignment": report.assignment, "student_id": csv_cell(res.student), "status": res.status,
        "score": fmt_points(res.score), "max_score": fmt_points(report.max_score), "seconds": f"{res.seconds:.1f}",
        "message": csv_cell(res.message, limit=REPORT_MESSAGE_LIMIT), "review": csv_cell(res.review),
    } for res in report.results]
    graded = {csv_cell(res.student) for res in report.results}
    _update_csv(report.grades_csv, GRADES_COLUMNS, report.assignment, graded, grades)
    _update_csv(report.report_csv, REPORT_COLUMNS, report.assignment, graded, lines)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock for rewriting ``path``: graders sharing a course folder take turns here."""
    lock = path.parent / LOCK_DIR / f"{path.name}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_rows(path: Path, columns: list[str], rows: list[dict]) -> None:
    """Write the CSV file whole, then put it in place: a reader never sees half a file."""
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(scratch, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(scratch, path)


def _update_csv(path: Path, columns: list[str], assignment: str, students: set[str], rows: list[dict]) -> None:
    """Replace the rows of ``students`` for ``assignment`` in the CSV file; keep every other row (under a lock,
    so that graders sharing the course folder and finishing at once keep each other's rows)."""
    with _locked(path):
        kept: list[dict] = []
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                if reader.fieldnames == columns:
                    kept = [row for row in reader
                            if row["assignment"] != assignment or row["student_id"] not in students]
        _write_rows(path, columns, sorted(kept + rows, key=lambda r: (r["assignment"], r["student_id"])))


def format_table(report: GradeReport) -> str:
    """A plain-text score table for the terminal."""
    rows = [(console_text(r.student, limit=40), f"{fmt_points(r.score)} / {fmt_points(report.max_score)}", r.status,
             console_text(r.message, limit=REPORT_MESSAGE_LIMIT)) for r in report.results]
    header = ("student", "score", "status", "message")
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header[:3])]
    lines = [f"{report.assignment}: {len(rows)} submission(s)"]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header[:3], widths)) + "  " + header[3])
    lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 7)
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths)) + "  " + row[3])
    return "\n".join(lines)


def fmt_points(x: float) -> str:
    """Points as the reports write them (``5``, ``2.5``)."""
    return f"{x:g}"


def update_reviews(course_dir: Path, assignment: str, notes: dict[str, str]) -> None:
    """Replace the similarity notes in the ``review`` column of ``grading_report.csv`` (``assignment``'s rows).

    The static screen's findings in that column are kept; the part that starts with the similarity
    prefix is replaced by ``notes[student]`` (nothing when it is empty).
    """
    from dlcourse.grading.similarity import REVIEW_PREFIX

    path = course_dir / REPORT_FILE
    with _locked(path):
        if not path.is_file():
            return
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            if row.get("assignment") != assignment or row.get("student_id") not in notes:
                continue
            parts = [p for p in (row.get("review") or "").split("; ") if p and not p.startswith(REVIEW_PREFIX)]
            note = notes[row["student_id"]]
            row["review"] = csv_cell("; ".join([*parts, note] if note else parts))
        _write_rows(path, REPORT_COLUMNS, rows)
