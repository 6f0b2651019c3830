"""The gradebook side of grading: forgetting a previous run of a student, reading scores back."""

from __future__ import annotations

from dlcourse.grading.job import GradingJob
from dlcourse.grading.report import StudentResult, fmt_points


def forget_submission(job: GradingJob, student: str) -> None:
    """Remove the gradebook's record of a previous grading of ``student`` (no stale grade can survive)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(job.db_url) as gb:
        try:
            gb.remove_submission(job.assignment, student)
        except MissingEntry:
            pass


def read_scores(job: GradingJob, results: list[StudentResult]) -> tuple[float, float]:
    """Fill score, max_score, timestamp, message and the student's names of the results from the gradebook.

    Returns the assignment's max score and the part of it that is graded manually (written answers:
    grade cells the autograder leaves unscored).
    """
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(job.db_url) as gb:
        nb_assignment = gb.find_assignment(job.assignment)
        max_score = float(nb_assignment.max_score)
        manual_max = float(sum(c.max_score for nb in nb_assignment.notebooks for c in nb.grade_cells
                               if c.cell_type == "markdown"))
        for res in results:
            res.max_score = max_score
            try:  # the roster's names and email, as `nbgrader export` writes them (when the instructor added them)
                person = gb.find_student(res.student)
                res.first_name, res.last_name, res.email = (person.first_name or "", person.last_name or "",
                                                            person.email or "")
            except MissingEntry:
                pass
            if res.status != "graded":
                continue
            try:
                sub = gb.find_submission(job.assignment, res.student)
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
                parts.append(f"{fmt_points(res.manual_pending)} points of written answers await manual grading")
            res.message = "; ".join([*parts, *res.notes])
    return max_score, manual_max
