"""The grading job: what `dlcourse grade` checks once, before any student is graded (fast, no nbgrader run)."""

from pathlib import Path

import pytest

from course_fixtures import TINY, make_course
from dlcourse import cli
from dlcourse.course import CourseError
from dlcourse.grading import sandbox
from dlcourse.grading.job import GradingJob, Limits, SandboxUnavailable, prepare_job
from dlcourse.grading.pipeline import grade_job
from dlcourse.grading.submissions import UnknownStudents, select_submissions


@pytest.fixture
def course(tmp_path):
    root = make_course(tmp_path / "course")
    for student in ("ann", "bob"):
        (root / "submitted" / student / TINY).mkdir(parents=True)
    (root / "submitted" / "*" / TINY).mkdir(parents=True)  # a glob pattern is never a student id
    return root


@pytest.fixture
def counted_sandbox(monkeypatch):
    calls = []

    def status(ok=True):
        calls.append(1)
        return (ok, "checked" if ok else "bubblewrap (bwrap) is not installed")

    monkeypatch.setattr(sandbox, "sandbox_status", status)
    return calls


def test_prepare_job_checks_course_assignment_and_sandbox_once(course, counted_sandbox):
    job = prepare_job(TINY, course, limits=Limits(wall_seconds=60))
    assert counted_sandbox == [1], f"the sandbox was checked {len(counted_sandbox)} times, expected once"
    assert (job.course_dir, job.assignment, job.sandboxed) == (course.resolve(), TINY, True)
    assert job.db_url.startswith("sqlite:///") and job.db_url.endswith("gradebook.db"), job.db_url
    assert job.release_dir is None
    assert job.autograded("ann") == course.resolve() / "autograded" / "ann" / TINY
    assert job.feedback("ann") == course.resolve() / "feedback" / "ann" / TINY
    assert job.log("ann", "autograde").name == "ann.autograde.log"
    released = job.with_release(Path("/somewhere") / TINY)
    assert released.release_dir == Path("/somewhere") / TINY and job.release_dir is None, "jobs are immutable"


def test_prepare_job_refuses_unknown_assignment_and_missing_sandbox(course, monkeypatch):
    with pytest.raises(CourseError, match="no_such"):
        prepare_job("no_such", course)
    monkeypatch.setattr(sandbox, "sandbox_status", lambda: (False, "bubblewrap (bwrap) is not installed"))
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        prepare_job(TINY, course)
    assert prepare_job(TINY, course, unsafe=True).sandboxed is False


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True])
def test_grade_job_refuses_bad_jobs_before_grading_anyone(course, jobs):
    job = GradingJob(course, TINY, "sqlite:///unused.db")
    with pytest.raises(ValueError, match="jobs"):
        grade_job(job, jobs=jobs)
    assert not (course / "autograded").exists()


def test_select_submissions_names_unknown_students_and_keeps_refusals(course):
    valid, refused = select_submissions(course, TINY)
    assert valid == ["ann", "bob"]
    assert set(refused) == {"*"}, refused
    assert select_submissions(course, TINY, ["bob", "bob"]) == (["bob"], {})
    with pytest.raises(UnknownStudents) as info:
        select_submissions(course, TINY, ["bob", "carl"])
    assert info.value.students == ["carl"]


def test_cli_words_instructor_errors_and_exits_2(course, counted_sandbox, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["grade", TINY, "--course-dir", str(course), "--jobs", "0"])
    assert info.value.code == 2
    assert "--jobs" in capsys.readouterr().err
    assert cli.main(["grade", TINY, "--course-dir", str(course), "--student", "carl\x1b[31m"]) == 2
    err = capsys.readouterr().err
    assert "no submission of tiny for: carl" in err and "\x1b" not in err, err


def test_graders_rewriting_the_reports_at_once_keep_each_others_rows(tmp_path):
    """Two graders sharing a course folder finish together: every student's row survives (the files are locked)."""
    import csv
    from concurrent.futures import ThreadPoolExecutor

    from dlcourse.grading.report import GRADES_COLUMNS, _update_csv

    path = tmp_path / "grades.csv"

    def grader(prefix: str) -> None:
        for i in range(40):
            student = f"{prefix}{i:02d}"
            row = dict.fromkeys(GRADES_COLUMNS, "")
            row.update(assignment="a1", student_id=student, score="1")
            _update_csv(path, GRADES_COLUMNS, "a1", {student}, [row])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(grader, ["a", "b", "c", "d"]))
    with open(path, newline="") as fh:
        students = [row["student_id"] for row in csv.DictReader(fh)]
    assert len(students) == 160 and len(set(students)) == 160, f"{160 - len(set(students))} rows were lost"
