"""`dlcourse grade` with its gradebook on PostgreSQL (``CourseDirectory.db_url``), as graders sharing a course use it.

The pipeline tests grade the tiny fixture course into a fresh database of a throwaway server
(:mod:`postgres_fixtures`; skipped where PostgreSQL is not installed, see ``make postgres``).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from course_fixtures import TINY, UNSAFE, make_course
from dlcourse.grading.pipeline import generate_release
from dlcourse.grading.samples import write_submission
from postgres_fixtures import postgres_server, postgres_url  # noqa: F401 - pytest fixtures

UNSAFE_ARGS = ["--unsafe"] if UNSAFE else []
SQLITE_PATTERNS = ("*.db", "*.db-journal", "*.db-wal", "*.sqlite", "*.sqlite3")


def make_submitted_course(root: Path, students: dict[str, str], *, db_url: str | None = None,
                          written_answer: bool = False) -> Path:
    """A course with ``students`` ({id: sample kind}) in submitted/, its gradebook at ``db_url`` (default sqlite).

    The release the submissions are written from is generated in a scratch course beside it, so the
    course's own gradebook stays untouched (empty) until it is graded.
    """
    scratch = make_course(root / "scratch-course", written_answer=written_answer)
    release_dir = generate_release(scratch, TINY, root / "scratch-release")
    course = make_course(root / "course", written_answer=written_answer)
    if db_url is not None:
        with open(course / "nbgrader_config.py", "a") as config:
            config.write(f"\nc.CourseDirectory.db_url = {db_url!r}\n")
    for student, kind in students.items():
        write_submission(kind, course / "solutions" / TINY, release_dir, course / "submitted" / student / TINY)
    return course


def grade_command(*students: str) -> list[str]:
    """`dlcourse grade tiny` as an instructor types it in the course folder (optionally for some students)."""
    return [sys.executable, "-m", "dlcourse", "grade", TINY, "--jobs", "2", *UNSAFE_ARGS,
            *(arg for s in students for arg in ("--student", s))]


def grade_cli(course: Path, *students: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(grade_command(*students), cwd=course, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def csv_scores(course: Path) -> dict[str, float]:
    with open(course / "grades.csv", newline="") as fh:
        return {row["student_id"]: float(row["score"]) for row in csv.DictReader(fh)}


def gradebook_state(db_url: str) -> dict:
    """What the gradebook holds: assignments, notebooks, cells, and every submission with its score."""
    from nbgrader.api import Gradebook, GradeCell, Notebook, SubmittedAssignment

    with Gradebook(db_url) as gb:
        submissions = gb.db.query(SubmittedAssignment).all()
        return {
            "assignments": sorted(a.name for a in gb.assignments),
            "notebooks": gb.db.query(Notebook).count(),
            "grade_cells": gb.db.query(GradeCell).count(),
            "submissions": sorted(s.student.id for s in submissions),
            "scores": {s.student.id: float(s.score) for s in submissions},
        }


def sqlite_files(course: Path) -> list[Path]:
    return sorted(p for pattern in SQLITE_PATTERNS for p in course.rglob(pattern))


STUDENTS = {"good": "complete", "blank": "untouched", "truncated": "broken_json"}
EXPECTED = {"good": 5.0, "blank": 0.0, "truncated": 0.0}


@pytest.mark.pipeline
def test_grade_on_postgres_scores_as_sqlite_and_writes_no_sqlite_file(tmp_path, postgres_url):
    sqlite_course = make_submitted_course(tmp_path / "sqlite", STUDENTS)
    (sqlite_course / "gradebook.db").unlink(missing_ok=True)
    grade_cli(sqlite_course)
    assert sqlite_files(sqlite_course), "the default gradebook should be a sqlite file (or this test proves nothing)"

    pg_course = make_submitted_course(tmp_path / "pg", STUDENTS, db_url=postgres_url)
    grade_cli(pg_course)
    assert csv_scores(pg_course) == csv_scores(sqlite_course) == EXPECTED
    state = gradebook_state(postgres_url)
    assert state["assignments"] == [TINY] and state["notebooks"] == 1
    assert state["submissions"] == sorted(set(state["submissions"])), f"a student was recorded twice: {state}"
    assert {s: state["scores"][s] for s in ("good", "blank")} == {"good": 5.0, "blank": 0.0}, state
    assert not sqlite_files(pg_course), f"a sqlite gradebook was written: {sqlite_files(pg_course)}"


# Each grader's students: one complete (5 points) and one untouched (0) submission, so a mix-up shows.
GRADERS = ({"ann": "complete", "ben": "untouched"}, {"cid": "untouched", "dot": "complete"})
FIRST_GRADEBOOK_OBJECT = "CREATE TYPE grade_cell_type AS ENUM ('code', 'markdown')"  # nbgrader's first DDL


def release_together(server, database: str, procs: list[subprocess.Popen], patience: float = 180.0) -> int:
    """Hold the empty gradebook's first object in an open transaction until every process waits on a lock there
    (or has ended, or ``patience`` seconds passed), then let them all go at once; returns how many waited.

    Whoever sets up the empty gradebook blocks at nbgrader's first ``CREATE TYPE`` (the type is being
    created, uncommitted, here), so without any coordination between graders both block there and, once
    released, both go on to create the same tables. A grader that coordinates waits for its turn instead.
    """
    import time

    gate = server.connect(database)
    gate.autocommit = False
    try:
        gate.execute(FIRST_GRADEBOOK_OBJECT)
        with server.connect() as monitor:
            deadline = time.monotonic() + patience
            while True:
                waiting = monitor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                          "AND wait_event_type = 'Lock'", (database,)).fetchone()[0]
                if waiting >= len(procs) or all(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                    return waiting
                time.sleep(0.2)
    finally:
        gate.rollback()
        gate.close()


@pytest.mark.pipeline
def test_two_graders_at_once_into_one_empty_gradebook(tmp_path, postgres_server):
    """Two `dlcourse grade --student ...` processes on one course folder and one empty gradebook, let go
    together at the worst moment: both about to create nbgrader's tables and the assignment."""
    students = {s: kind for grader in GRADERS for s, kind in grader.items()}
    expected = {s: 5.0 if kind == "complete" else 0.0 for s, kind in students.items()}
    database = postgres_server.create_database()
    db_url = postgres_server.url(database)
    course = make_submitted_course(tmp_path, students, db_url=db_url)
    procs = [subprocess.Popen(grade_command(*grader), cwd=course, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for grader in GRADERS]
    try:
        waited = release_together(postgres_server, database, procs)
        outputs = [proc.communicate(timeout=900) for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, f"a grader failed ({waited} waited at the gate):\n{out[-3000:]}\n{err[-3000:]}"
    state = gradebook_state(db_url)
    assert state["assignments"] == [TINY] and state["notebooks"] == 1, state
    assert state["submissions"] == sorted(students), f"not one submission per student: {state}"
    assert state["scores"] == expected, state
    assert csv_scores(course) == expected, "grades.csv lost or mixed rows"
    assert not sqlite_files(course)
    postgres_server.drop_database(database)


@pytest.mark.pipeline
def test_regrade_is_idempotent_and_keeps_manual_grades(tmp_path, postgres_url):
    from nbgrader.api import Gradebook

    course = make_submitted_course(tmp_path, {"ann": "complete", "ben": "untouched"}, db_url=postgres_url,
                                   written_answer=True)
    grade_cli(course)
    first = gradebook_state(postgres_url)
    assert first["scores"] == {"ann": 5.0, "ben": 0.0} and csv_scores(course) == first["scores"]

    with Gradebook(postgres_url) as gb:  # what a TA does in the formgrader
        gb.find_grade("why_add", TINY, TINY, "ann").manual_score = 1.5
        gb.find_comment("why_add", TINY, TINY, "ann").manual_comment = "Half right."
        gb.db.commit()
    state = gradebook_state(postgres_url)
    assert state["scores"] == {"ann": 6.5, "ben": 0.0}

    proc = grade_cli(course)
    assert "kept the manual grades of 1 unchanged written answer(s)" in proc.stdout, proc.stdout[-3000:]
    again = gradebook_state(postgres_url)
    assert again == state, "re-grading changed the gradebook"
    assert again["submissions"] == ["ann", "ben"]  # still exactly one submission per student
    assert csv_scores(course) == {"ann": 6.5, "ben": 0.0}
    with Gradebook(postgres_url) as gb:
        assert gb.find_comment("why_add", TINY, TINY, "ann").manual_comment == "Half right."
    assert not sqlite_files(course)


def test_setup_lock_excludes_a_second_grader_until_released(postgres_server):
    from dlcourse.grading.gradebook import SETUP_LOCK_KEY, gradebook_setup_lock

    database = postgres_server.create_database()
    with postgres_server.connect(database) as other:
        def other_gets_it() -> bool:
            got = other.execute("SELECT pg_try_advisory_lock(%s)", (SETUP_LOCK_KEY,)).fetchone()[0]
            if got:
                other.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK_KEY,))
            return got

        with gradebook_setup_lock(postgres_server.url(database)):
            assert not other_gets_it(), "a second grader could set up the gradebook at the same time"
        assert other_gets_it(), "the setup lock outlived its block"
    postgres_server.drop_database(database)


def test_setup_lock_names_an_unreachable_gradebook_without_its_password(tmp_path):
    from dlcourse.course import CourseError
    from dlcourse.grading.gradebook import gradebook_setup_lock

    url = f"postgresql://grader:s3cret@/dlcourse?host={tmp_path}&port=5432"  # no server listens there
    with pytest.raises(CourseError, match="cannot reach the gradebook") as info:
        with gradebook_setup_lock(url):
            pass
    assert "s3cret" not in str(info.value)
    with gradebook_setup_lock(f"sqlite:///{tmp_path / 'gradebook.db'}"):  # sqlite: nothing to lock
        pass
