"""Copy detection: submissions that share code with each other or with the instructor's code.

After grading, :func:`screen_assignment` compares the code each student wrote in the solution cells
of their staged notebook (:mod:`.documents`) with every other submission of the assignment and with
the instructor's code for its exercises (the solution regions in ``solutions/`` and the reference
modules that define them), by winnowed fingerprints of normalized token streams (:mod:`.fingerprints`,
copydetect), without the release's own code and without code many students share
(:mod:`.matching`). It writes ``similarity.csv`` and ``similarity.html`` (:mod:`.report_files`) and
returns, per student, the flagged matches for the ``review`` column of ``grading_report.csv``.
A flag is a hint for a human: it never changes a score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import dlcourse
from dlcourse.grading.job import STAGED_DIR
from dlcourse.grading.similarity.documents import Document, reference_documents, release_skeleton, student_document
from dlcourse.grading.similarity.matching import (MIN_SHARED, REPORT_FLOOR, THRESHOLD, Match, find_matches,
                                                  reported)
from dlcourse.grading.similarity.report_files import (SIMILARITY_CSV, SIMILARITY_HTML, assignment_section,
                                                      write_csv, write_html)

__all__ = ["MIN_SHARED", "REPORT_FLOOR", "SIMILARITY_CSV", "SIMILARITY_HTML", "THRESHOLD", "Document", "Match",
           "SimilarityReport", "screen_assignment", "screen_documents"]

#: The review column's words for a student's flagged matches.
REVIEW_PREFIX = "similar code"


@dataclass
class SimilarityReport:
    """The outcome of screening one assignment."""

    assignment: str
    students: int
    matches: list[Match] = field(default_factory=list)  # every pair sharing code, most similar first
    listed: list[Match] = field(default_factory=list)  # the pairs in similarity.csv
    csv_path: Path | None = None
    html_path: Path | None = None

    @property
    def flagged(self) -> list[Match]:
        return [m for m in self.matches if m.flagged]

    def review(self, student: str) -> str:
        """What the review column says about ``student``: their flagged matches, or ""."""
        found = [(m.other if m.student == student else m.student, m.similarity) for m in self.flagged
                 if student in (m.student, m.other)]
        if not found:
            return ""
        return f"{REVIEW_PREFIX}: " + ", ".join(f"{other} ({similarity:.2f})" for other, similarity in found)


def staged_students(course_dir: Path, assignment: str) -> dict[str, list[Path]]:
    """student -> their staged notebooks of ``assignment`` (the sanitized copies grading made)."""
    root = course_dir / STAGED_DIR
    found = {}
    if root.is_dir():
        for student_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
            folder = student_dir / assignment
            notebooks = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink()) \
                if folder.is_dir() and not folder.is_symlink() else []
            if notebooks:
                found[student_dir.name] = notebooks
    return found


def screen_documents(students: list[Document], references: list[Document], given_code: str,
                     assignment: str) -> SimilarityReport:
    """Compare ``students`` with each other and with ``references`` (no files written)."""
    screen = find_matches(students, references, given_code)
    listed = reported(screen.matches, [d.owner for d in students])
    return SimilarityReport(assignment, len(students), screen.matches, listed)


def screen_assignment(course_dir: str | Path, assignment: str, release_dir: Path, *,
                      package_dir: Path | None = None) -> SimilarityReport:
    """Screen every staged submission of ``assignment`` and write ``similarity.csv`` and ``similarity.html``.

    Args:
        course_dir: the course folder (its ``solutions/`` and ``.dlcourse/staged/``).
        release_dir: the assignment's release (its code is the skeleton, never counted as copied).
        package_dir: the reference package (default: the installed ``dlcourse``).
    """
    course = Path(course_dir)
    skeleton, given_code = release_skeleton(sorted(Path(release_dir).glob("*.ipynb")))
    students = [student_document(student, notebooks, skeleton)
                for student, notebooks in staged_students(course, assignment).items()]
    references = reference_documents(course, assignment, package_dir or Path(dlcourse.__file__).parent, skeleton)
    screen = find_matches(students, references, given_code)
    listed = reported(screen.matches, [d.owner for d in students])
    report = SimilarityReport(assignment, len(students), screen.matches, listed)
    report.csv_path = write_csv(course, assignment, listed)
    report.html_path = write_html(course, assignment, assignment_section(assignment, listed, screen, len(students)))
    return report
