"""Keep a grader's manual scores of written answers across a re-grade.

``dlcourse grade`` removes a student's previous grading before it grades again (so nothing
stale survives a failed re-grade). Manual scores of written answers (markdown answer cells,
scored in nbgrader's formgrader) would go with it; these helpers save them first and put
them back when the student's answer text is unchanged, so re-running the autograder after
a TA has graded by hand loses no work.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _written_answer_grades(db_url: str, assignment: str, student: str) -> Iterator[list[tuple]]:
    """The gradebook open on the student's submission: ``[(key, grade, comments by grade id), ...]``.

    ``key`` is (notebook name, grade id); only grades of markdown (written-answer) cells are
    listed; none when the student has no submission. Changes are committed on exit.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            yield []
            return
        rows = []
        for nb in sub.notebooks:
            comments = {c.name: c for c in nb.comments}
            rows += [((nb.name, g.name), g, comments) for g in nb.grades if g.cell.cell_type == "markdown"]
        yield rows
        gb.db.commit()


def save_manual_grades(db_url: str, assignment: str, student: str, autograded_dir: Path) -> dict:
    """The manual scores given to the student's written answers, keyed by (notebook, grade id)."""
    answers = _answers(autograded_dir)
    with _written_answer_grades(db_url, assignment, student) as rows:
        return {key: ManualGrade(float(grade.manual_score),
                                 comments[grade.name].manual_comment if grade.name in comments else None,
                                 answers[key])
                for key, grade, comments in rows if grade.manual_score is not None and key in answers}


def restore_manual_grades(db_url: str, assignment: str, student: str, autograded_dir: Path, saved: dict) -> list[str]:
    """Put back the saved manual scores whose answer text is unchanged; return the grade ids restored."""
    if not saved:
        return []
    answers = _answers(autograded_dir)
    restored = []
    with _written_answer_grades(db_url, assignment, student) as rows:
        for key, grade, comments in rows:
            kept = saved.get(key)
            if kept is None or answers.get(key) != kept.answer:
                continue
            grade.manual_score = kept.score
            grade.needs_manual_grade = False
            if kept.comment and grade.name in comments:
                comments[grade.name].manual_comment = kept.comment
            restored.append(grade.name)
    return restored
