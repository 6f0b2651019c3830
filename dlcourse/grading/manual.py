"""Keep a grader's manual scores of written answers across a re-grade.

``dlcourse grade`` removes a student's previous grading before it grades again (so nothing
stale survives a failed re-grade). Manual scores of written answers (markdown answer cells,
scored in nbgrader's formgrader) would go with it; these helpers save them first and put
them back when the student's answer text is unchanged, so re-running the autograder after
a TA has graded by hand loses no work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class ManualGrade:
    score: float
    comment: str | None
    answer: str  # sha256 of the answer cell's text the score was given for


def _answers(notebook_dir: Path) -> dict[tuple[str, str], str]:
    """(notebook name, grade id) -> sha256 of the text of each markdown answer cell."""
    found = {}
    for path in sorted(notebook_dir.glob("*.ipynb")):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # an unreadable old copy: nothing to keep
            continue
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type == "markdown" and meta.get("grade") and meta.get("grade_id"):
                found[(path.stem, meta["grade_id"])] = hashlib.sha256(cell.source.encode()).hexdigest()
    return found


def save_manual_grades(db_url: str, assignment: str, student: str, autograded_dir: Path) -> dict:
    """The manual scores given to the student's written answers, keyed by (notebook, grade id)."""
    from nbgrader.api import Gradebook, MissingEntry

    answers = _answers(autograded_dir)
    saved = {}
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return saved
        for nb in sub.notebooks:
            comments = {c.name: c.manual_comment for c in nb.comments}
            for grade in nb.grades:
                key = (nb.name, grade.name)
                if grade.cell.cell_type == "markdown" and grade.manual_score is not None and key in answers:
                    saved[key] = ManualGrade(float(grade.manual_score), comments.get(grade.name), answers[key])
    return saved


def restore_manual_grades(db_url: str, assignment: str, student: str, autograded_dir: Path, saved: dict) -> list[str]:
    """Put back the saved manual scores whose answer text is unchanged; return the grade ids restored."""
    from nbgrader.api import Gradebook, MissingEntry

    if not saved:
        return []
    answers = _answers(autograded_dir)
    restored = []
    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return restored
        for nb in sub.notebooks:
            comments = {c.name: c for c in nb.comments}
            for grade in nb.grades:
                kept = saved.get((nb.name, grade.name))
                if kept is None or answers.get((nb.name, grade.name)) != kept.answer:
                    continue
                grade.manual_score = kept.score
                grade.needs_manual_grade = False
                if kept.comment and grade.name in comments:
                    comments[grade.name].manual_comment = kept.comment
                restored.append(grade.name)
        gb.db.commit()
    return restored
