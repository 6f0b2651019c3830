"""`dlcourse release` and `dlcourse grade` on a tiny fixture course (fast): the machinery itself."""

import csv
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_fixtures import TINY, TINY_HIDDEN_LINE, UNSAFE, make_course
from dlcourse.grading.samples import write_submission

pytestmark = pytest.mark.pipeline

STUDENTS = {"good": "complete", "blank": "untouched", "truncated": "broken_json"}


def dlcourse(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "dlcourse", *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def page_text(path: Path) -> str:
    """The text a browser shows of an HTML page, whitespace collapsed (tags and the style sheet dropped)."""
    text = re.sub(r"<style.*?</style>|<[^>]+>", " ", path.read_text(), flags=re.S)
    return " ".join(html.unescape(text).split())


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, newline="") as fh:
        return {row["student_id"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A fresh folder with only nbgrader_config.py, solutions/ and submitted/, graded by the CLI."""
    course = make_course(tmp_path_factory.mktemp("course"))
    release_root = tmp_path_factory.mktemp("release")
    from dlcourse.grading.pipeline import generate_release

    release_dir = generate_release(course, TINY, release_root)
    (course / "gradebook.db").unlink()  # grade must prepare the gradebook itself
    for student, kind in STUDENTS.items():
        write_submission(kind, course / "solutions" / TINY, release_dir, course / "submitted" / student / TINY)
    renamed = course / "submitted" / "renamed" / TINY
    write_submission("complete", course / "solutions" / TINY, release_dir, renamed)
    (renamed / f"{TINY}.ipynb").rename(renamed / "my_work.ipynb")
    proc = dlcourse("grade", TINY, "--course-dir", str(course), "--jobs", "2", *(["--unsafe"] if UNSAFE else []))
    return course, proc


def test_grade_exits_zero_and_grades_everyone(graded):
    course, proc = graded
    assert proc.returncode == 0, proc.stdout + proc.stderr
    grades = read_csv(course / "grades.csv")
    assert set(grades) == {"good", "blank", "truncated", "renamed"}
    assert list(next(iter(grades.values()))) == [
        "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
        "email", "raw_score", "late_submission_penalty", "score", "max_score"]
    assert {s: float(r["score"]) for s, r in grades.items()} == {"good": 5, "blank": 0, "truncated": 0, "renamed": 5}
    assert all(float(r["max_score"]) == 5 for r in grades.values())


def test_progress_bar_counts_tallies_and_keeps_each_students_line(graded):
    _, proc = graded
    assert "grading tiny: 100%" in proc.stderr and "4/4" in proc.stderr, proc.stderr[-2000:]
    assert "graded=3" in proc.stderr and "error=1" in proc.stderr, proc.stderr[-2000:]
    for student, status in (("good", "graded"), ("blank", "graded"), ("truncated", "error"), ("renamed", "graded")):
        assert f"  {student}: {status} (" in proc.stdout, proc.stdout[-2000:]


def test_report_says_what_happened_to_each_student(graded):
    course, proc = graded
    report = read_csv(course / "grading_report.csv")
    assert report["good"]["status"] == "graded" and "2 of 2 test cells passed" in report["good"]["message"]
    assert report["blank"]["status"] == "graded" and "0 of 2 test cells passed" in report["blank"]["message"]
    assert report["truncated"]["status"] == "error"
    assert "tiny.ipynb is not valid JSON" in report["truncated"]["message"]
    assert report["renamed"]["status"] == "graded" and "graded my_work.ipynb as tiny.ipynb" in report["renamed"]["message"]
    assert "truncated" in proc.stdout and "not valid JSON" in proc.stdout  # the table shows the reason too


def test_grading_leaves_release_folder_alone_and_writes_feedback(graded):
    course, _ = graded
    assert not (course / "assignments").exists(), "grade must not write a release into the course folder"
    for student in ("good", "blank"):
        assert (course / "feedback" / student / TINY / f"{TINY}.html").is_file()


def test_feedback_never_shows_hidden_tests(graded):
    course, _ = graded
    for student in ("good", "blank"):
        html = (course / "feedback" / student / TINY / f"{TINY}.html").read_text()
        assert "secret_a" not in html and "BEGIN HIDDEN TESTS" not in html, f"hidden test code in {student}'s feedback"
        assert "Hidden tests ran here" in html
    html = (course / "feedback" / "blank" / TINY / f"{TINY}.html").read_text()
    assert "NotImplementedError" in html  # the reason a test failed is still shown


def test_regrading_gives_the_same_scores(graded):
    course, _ = graded
    before = read_csv(course / "grades.csv")
    proc = dlcourse("grade", TINY, "--course-dir", str(course), "--jobs", "1", *(["--unsafe"] if UNSAFE else []))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = read_csv(course / "grades.csv")
    assert {s: r["score"] for s, r in after.items()} == {s: r["score"] for s, r in before.items()}


def test_unknown_assignment_and_missing_config_are_instructor_errors(graded, tmp_path):
    course, _ = graded
    proc = dlcourse("grade", "a9_nope", "--course-dir", str(course))
    assert proc.returncode == 2 and "unknown assignment 'a9_nope'; the course has: tiny" in proc.stderr
    proc = dlcourse("grade", TINY, "--course-dir", str(tmp_path))
    assert proc.returncode == 2 and "has no nbgrader_config.py" in proc.stderr


def test_release_writes_assignments_and_keeps_it_when_the_source_is_broken(tmp_path):
    course = make_course(tmp_path / "course")
    proc = dlcourse("release", "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr
    released = course / "assignments" / TINY / f"{TINY}.ipynb"
    nb = nbformat.read(released, as_version=4)
    text = nbformat.writes(nb)
    assert "return a + b" not in text and TINY_HIDDEN_LINE not in text and "raise NotImplementedError()" in text
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # a source with a duplicated grade id is rejected by nbgrader; the old release must survive
    source = course / "solutions" / TINY / f"{TINY}.ipynb"
    src = nbformat.read(source, as_version=4)
    src.cells.append(nbformat.from_dict(src.cells[3]))
    src.cells[-1]["id"] = "duplicate-cell"
    nbformat.write(src, source)
    proc = dlcourse("release", TINY, "--course-dir", str(course))
    assert proc.returncode == 2 and "could not generate the release of tiny" in proc.stderr
    assert nbformat.read(released, as_version=4) == nb, "the previous release was damaged"


def test_wall_clock_limit_stops_one_student_and_spares_the_others(tmp_path):
    """A submission that would run for hours is stopped at --timeout; its neighbour is graded normally."""
    from dlcourse.grading.pipeline import generate_release, grade

    course = make_course(tmp_path / "course")
    release_dir = generate_release(course, TINY, tmp_path / "release")
    for student in ("slow", "fine"):
        write_submission("complete", course / "solutions" / TINY, release_dir, course / "submitted" / student / TINY)
    slow = course / "submitted" / "slow" / TINY / f"{TINY}.ipynb"
    nb = nbformat.read(slow, as_version=4)
    nb.cells.insert(3, nbformat.v4.new_code_cell("import time\nfor _ in range(10_000):\n    time.sleep(1)"))
    nbformat.write(nb, slow)
    report = grade(TINY, course, jobs=2, timeout=40, unsafe=UNSAFE)
    results = {r.student: r for r in report.results}
    assert (results["slow"].status, results["slow"].score) == ("error", 0)
    assert "wall-clock limit of 40 s" in results["slow"].message
    assert (results["fine"].status, results["fine"].score) == ("graded", 5)


def test_grading_refuses_to_run_without_a_sandbox_unless_told(graded, monkeypatch):
    """Without bubblewrap, `dlcourse grade` says so loudly and stops; --unsafe overrides."""
    from dlcourse import cli
    from dlcourse.grading import sandbox

    course, _ = graded
    monkeypatch.setattr(sandbox, "sandbox_status", lambda: (False, "bubblewrap (bwrap) is not installed"))
    assert cli.main(["grade", TINY, "--course-dir", str(course), "--student", "truncated"]) == 2


def test_probe_declarations_never_reach_students(graded, tmp_path):
    course, _ = graded
    assert not (course / "autograded" / "good" / TINY / "probes.py").exists()
    proc = dlcourse("release", "--course-dir", str(course))
    assert proc.returncode == 0, proc.stderr
    assert not (course / "assignments" / TINY / "probes.py").exists()


def test_written_answers_await_a_human_and_their_grades_survive_a_regrade(tmp_path):
    """Markdown answer cells are left to a grader; re-grading keeps their manual scores while the answer is unchanged."""
    from nbgrader.api import Gradebook

    from course_fixtures import TINY_ANSWER
    from dlcourse.grading.pipeline import generate_release, grade

    course = make_course(tmp_path / "course", written_answer=True)
    release_dir = generate_release(course, TINY, tmp_path / "release")
    submission = write_submission("complete", course / "solutions" / TINY, release_dir,
                                  course / "submitted" / "ann" / TINY) / f"{TINY}.ipynb"
    nb = nbformat.read(submission, as_version=4)
    assert any(TINY_ANSWER in c.source for c in nb.cells), "the complete submission should hold the written answer"

    first = grade(TINY, course, jobs=1, unsafe=UNSAFE)
    (res,) = first.results
    assert (first.max_score, first.manual_max_score, first.auto_max_score) == (7, 2, 5)
    assert (res.status, res.score, res.manual_pending) == ("graded", 5, 2), res.message
    assert "2 points of written answers await manual grading" in res.message
    page = page_text(course / "feedback" / "ann" / TINY / f"{TINY}.html")
    assert "Written response (awaiting manual grading (2.0 points))" in page, "the feedback should say it awaits a grader"
    assert "2.0 of these points are for written answers that are awaiting manual grading" in page
    assert "Score: 0.0 / 2.0" not in page, "an ungraded written answer must not read as a zero"

    db_url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(db_url) as gb:  # what a TA does in the formgrader
        grade_row = gb.find_grade("why_add", TINY, TINY, "ann")
        grade_row.manual_score = 1.5
        gb.find_comment("why_add", TINY, TINY, "ann").manual_comment = "Half right."
        gb.db.commit()

    again = grade(TINY, course, jobs=1, unsafe=UNSAFE)
    (res,) = again.results
    assert (res.score, res.manual_pending) == (6.5, 0), res.message
    page = page_text(course / "feedback" / "ann" / TINY / f"{TINY}.html")
    assert "Written response (Score: 1.5 / 2.0)" in page and "awaiting manual grading" not in page, \
        "once graded, the answer shows its score"
    assert "kept the manual grades of 1 unchanged written answer(s)" in res.message
    with Gradebook(db_url) as gb:
        assert gb.find_comment("why_add", TINY, TINY, "ann").manual_comment == "Half right."

    for cell in nb.cells:  # the student rewrites the answer: it must be graded again
        if TINY_ANSWER in cell.source:
            cell.source = "Because a + b = b + a for real numbers."
    nbformat.write(nb, submission)
    third = grade(TINY, course, jobs=1, unsafe=UNSAFE)
    (res,) = third.results
    assert (res.score, res.manual_pending) == (5, 2), res.message
    assert "1 written answer(s) changed since they were graded by hand" in res.message


def test_points_the_probes_withdraw_are_explained_in_the_feedback(tmp_path):
    """A submission that silences the tests in its kernel passes them there; the probes take the points back,
    and the student's feedback says which check failed and how, in whole sentences."""
    from dlcourse.grading.pipeline import generate_release, grade

    course = make_course(tmp_path / "course")
    release_dir = generate_release(course, TINY, tmp_path / "release")
    dest = write_submission("complete", course / "solutions" / TINY, release_dir, course / "submitted" / "tam" / TINY)
    nb = nbformat.read(dest / f"{TINY}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "add":
            cell.source = "def add(a, b):\n    return a - b\n\nassert_close = lambda *args, **kwargs: None"
    nbformat.write(nb, dest / f"{TINY}.ipynb")
    (res,) = grade(TINY, course, jobs=1, unsafe=UNSAFE).results
    assert (res.status, res.score) == ("graded", 0), res.message
    assert "probes overrode nbgrader on 2 cell(s)" in res.message and "probe 'add'" in res.message, res.message
    page = page_text(course / "feedback" / "tam" / TINY / f"{TINY}.html")
    for points in (2, 3):
        assert (f"The tests passed in your notebook, but {points} of its {points} points were withdrawn: your functions "
                "were run again outside the notebook, with new inputs, and did not give the expected results. add:"
                ) in page, page[-3000:]
    assert "The tests ran without an error, but the recorded score" not in page


def test_plain_nbgrader_autograde_is_refused_and_points_to_dlcourse_grade(graded, tmp_path):
    """The formgrader's Autograde button and `nbgrader autograde` run plain nbgrader: no sandbox, no probes."""
    course, _ = graded
    copy = tmp_path / "course"
    shutil.copytree(course, copy)
    env = {k: v for k, v in os.environ.items() if k != "DLCOURSE_GRADING"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", TINY, "--student=good", "--force"],
                          cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"plain nbgrader autograde ran:\n{output[-2000:]}"
    assert "dlcourse grade" in output and "sandbox" in output, output[-2000:]
    graded_nb = copy / "autograded" / "good" / TINY / f"{TINY}.ipynb"
    assert not graded_nb.exists() or graded_nb.read_bytes() == (course / "autograded" / "good" / TINY / graded_nb.name).read_bytes()


def test_grades_csv_carries_the_rosters_names_and_the_cli_its_version(graded, tmp_path):
    from nbgrader.api import Gradebook

    from dlcourse import __version__

    course, _ = graded
    copy = tmp_path / "course"
    shutil.copytree(course, copy)
    with Gradebook(f"sqlite:///{copy / 'gradebook.db'}") as gb:
        gb.update_or_create_student("good", first_name="Ada", last_name="Lovelace", email="ada@example.org")
    proc = dlcourse("grade", TINY, "--course-dir", str(copy), "--student", "good", *(["--unsafe"] if UNSAFE else []))
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = read_csv(copy / "grades.csv")["good"]
    assert (row["first_name"], row["last_name"], row["email"]) == ("Ada", "Lovelace", "ada@example.org"), row
    assert read_csv(copy / "grades.csv")["blank"]["first_name"] == "", "a student without names keeps empty ones"
    version = dlcourse("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"dlcourse {__version__}", version
