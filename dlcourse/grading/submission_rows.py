"""One student's graded submission as gradebook rows: read from one gradebook, written into another.

A cluster worker grades into a scratch gradebook of its own (:mod:`dlcourse.grading.cluster`);
the coordinating process writes the rows it sends back into the course's gradebook, so the
course's gradebook has one writer. The rows are what nbgrader's autograde, the probes
(:func:`dlcourse.grading.probes.apply_verdict`) and the restored manual grades
(:mod:`dlcourse.grading.manual`) set: per grade cell the automatic and manual scores, extra
credit and whether it needs a human; per comment the automatic and manual text; per notebook
the flag and late penalty; the submission's timestamp.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

GRADE_FIELDS = ("auto_score", "manual_score", "extra_credit", "needs_manual_grade")
COMMENT_FIELDS = ("auto_comment", "manual_comment")


@dataclass
class NotebookRows:
    flagged: bool = False
    late_submission_penalty: float | None = None
    grades: dict[str, dict] = field(default_factory=dict)  # grade id -> GRADE_FIELDS
    comments: dict[str, dict] = field(default_factory=dict)  # grade id -> COMMENT_FIELDS


@dataclass
class SubmissionRows:
    timestamp: datetime.datetime | None
    notebooks: dict[str, NotebookRows] = field(default_factory=dict)  # notebook name -> its rows


def export_submission(db_url: str, assignment: str, student: str) -> SubmissionRows | None:
    """The rows of ``student``'s submission of ``assignment``, or None when the gradebook has none."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        rows = SubmissionRows(sub.timestamp)
        for nb in sub.notebooks:
            rows.notebooks[nb.name] = NotebookRows(
                bool(nb.flagged), nb.late_submission_penalty,
                {g.name: {f: getattr(g, f) for f in GRADE_FIELDS} for g in nb.grades},
                {c.name: {f: getattr(c, f) for f in COMMENT_FIELDS} for c in nb.comments})
        return rows


def import_submission(db_url: str, assignment: str, student: str, rows: SubmissionRows) -> None:
    """Replace ``student``'s submission of ``assignment`` in the gradebook at ``db_url`` by ``rows``.

    The assignment must be in that gradebook (the same release as where the rows were made);
    cells the rows do not name keep nbgrader's defaults. The student's roster entry is kept.
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        gb.update_or_create_student(student)
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
        sub = gb.add_submission(assignment, student, timestamp=rows.timestamp)
        for nb in sub.notebooks:
            saved = rows.notebooks.get(nb.name)
            if saved is None:
                continue
            nb.flagged = saved.flagged
            nb.late_submission_penalty = saved.late_submission_penalty
            for grade in nb.grades:
                for name, value in saved.grades.get(grade.name, {}).items():
                    setattr(grade, name, value)
            for comment in nb.comments:
                for name, value in saved.comments.get(comment.name, {}).items():
                    setattr(comment, name, value)
        gb.db.commit()
