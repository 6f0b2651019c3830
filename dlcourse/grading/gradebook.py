"""The gradebook side of grading: setting it up once at a time, forgetting a previous run of a student,
reading scores back.

The gradebook is nbgrader's: a sqlite file in the course folder by default, or the database named by
``CourseDirectory.db_url`` in ``nbgrader_config.py`` (PostgreSQL when several graders share a course).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dlcourse.course import CourseError
from dlcourse.grading.job import GradingJob
from dlcourse.grading.report import StudentResult, fmt_points

#: The PostgreSQL advisory lock that serializes gradebook setup ("dlcourse" in ASCII; scoped to one database).
SETUP_LOCK_KEY = 0x646C636F75727365


@contextmanager
def gradebook_setup_lock(db_url: str) -> Iterator[None]:
    """Hold the gradebook's setup lock: one grader at a time records an assignment (``nbgrader generate_assignment``).

    On an empty gradebook nbgrader creates its tables, the course and the assignment with a check
    followed by an insert, so two graders starting together on a shared PostgreSQL gradebook would
    both try, and one would fail (a duplicate type, table or assignment). Under this lock (a session-level
    advisory lock of the database, released when the block ends or the grader dies) the second grader
    finds everything the first created. Students are graded outside it, in parallel. A sqlite gradebook
    is local to one course folder and needs no lock.

    Raises:
        CourseError: the PostgreSQL gradebook cannot be reached, or its driver is not installed.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    try:
        url = make_url(db_url)
    except ArgumentError:
        url = None
    if url is None or url.get_backend_name() != "postgresql":
        yield
        return
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url, poolclass=NullPool)
    except ImportError as exc:
        raise CourseError(f"the gradebook {shown} needs the PostgreSQL driver ({exc}): "
                          "pip install the course's dependencies (psycopg)") from exc
    conn = None
    locked = False
    try:
        try:
            conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SETUP_LOCK_KEY})
            locked = True
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            raise CourseError(f"cannot reach the gradebook {shown}: {reason}") from exc
        yield
    finally:
        if conn is not None:
            if locked:
                # Release before returning: closing the connection ends the server's session (which
                # would release it too), but only some time after close() returns, so a grader that
                # asks right after the block could still find the lock held.
                try:
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SETUP_LOCK_KEY})
                except SQLAlchemyError:
                    pass  # the connection is gone, and its session's lock with it
            conn.close()
        engine.dispose()


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
