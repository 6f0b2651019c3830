"""Assignment a1_backprop through nbgrader: the committed release is current, the solution
earns every point, the untouched release earns none, and a mixed batch grades cleanly."""

import html
import re

import nbformat
import pytest
from nbgrader.api import Gradebook

from course_fixtures import REPO, UNSAFE, copy_course
from dlcourse.grading.feedback import BEGIN_HIDDEN, END_HIDDEN
from dlcourse.grading.pipeline import generate_release, grade
from dlcourse.grading.samples import write_submission

pytestmark = pytest.mark.pipeline

A1 = "a1_backprop"
SOURCE = REPO / "solutions" / A1 / f"{A1}.ipynb"
STUDENTS = {"s_complete": "complete", "s_partial": "partial", "s_untouched": "untouched", "s_broken": "broken_json"}


def graded_cells(nb) -> dict[str, float]:
    return {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"]
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def hidden_lines(nb) -> list[str]:
    """Distinctive lines of the hidden test regions that appear nowhere else in the source notebook."""
    hidden, visible = [], set()
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            if BEGIN_HIDDEN in line:
                inside = True
            elif END_HIDDEN in line:
                inside = False
            elif inside:
                if len(line.strip()) > 25 and not line.strip().startswith("#"):
                    hidden.append(line.strip())
            else:
                visible.add(line.strip())
    return [line for line in hidden if line not in visible]


def test_points_add_up_to_100_and_every_exercise_has_hidden_tests():
    nb = nbformat.read(SOURCE, as_version=4)
    points = graded_cells(nb)
    assert sum(points.values()) == 100, points
    hidden = [c for c in nb.cells if BEGIN_HIDDEN in c.source]
    assert len(hidden) >= 7, "every exercise needs a hidden test cell"
    assert all(c.metadata.nbgrader.get("grade") for c in hidden), "hidden tests must sit in graded cells"


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = copy_course(tmp_path_factory.mktemp("a1course"), [A1])
    release_dir = generate_release(course, A1, tmp_path_factory.mktemp("a1release"))
    for student, kind in STUDENTS.items():
        write_submission(kind, course / "solutions" / A1, release_dir, course / "submitted" / student / A1)
    report = grade(A1, course, jobs=2, unsafe=UNSAFE)
    return course, release_dir, {r.student: r for r in report.results}, report


def test_committed_release_equals_generated_release(batch):
    _, release_dir, _, _ = batch
    committed = REPO / "assignments" / A1
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in release_dir.iterdir()), \
        "assignments/a1_backprop lists other files than `dlcourse release` generates"
    for path in release_dir.glob("*.ipynb"):
        fresh = nbformat.read(path, as_version=4)
        ours = nbformat.read(committed / path.name, as_version=4)
        assert ours.metadata == fresh.metadata
        assert len(ours.cells) == len(fresh.cells), f"{path.name}: run `dlcourse release {A1}` and commit"
        for i, (a, b) in enumerate(zip(ours.cells, fresh.cells)):
            assert (a.cell_type, a.source, a.metadata) == (b.cell_type, b.source, b.metadata), \
                f"{path.name} cell {i} is stale: run `dlcourse release {A1}` and commit assignments/"


def test_solution_earns_every_point(batch):
    _, _, results, report = batch
    assert report.max_score == 100
    res = results["s_complete"]
    assert (res.status, res.score) == ("graded", 100), res.message


def test_untouched_release_scores_zero_on_every_autograded_cell(batch):
    course, _, results, _ = batch
    assert results["s_untouched"].score == 0
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        sub = gb.find_submission(A1, "s_untouched")
        grades = [g for nb in sub.notebooks for g in nb.grades]
        assert len(grades) == len(graded_cells(nbformat.read(SOURCE, as_version=4)))
        nonzero = {g.name: g.score for g in grades if g.score != 0}
        assert not nonzero, f"cells that pass on the untouched release (vacuous tests): {nonzero}"


def test_partial_submission_earns_part_of_the_points(batch):
    _, _, results, _ = batch
    res = results["s_partial"]
    assert res.status == "graded" and 0 < res.score < 100, (res.score, res.message)


def test_broken_submission_gets_a_row_and_a_reason(batch):
    course, _, results, _ = batch
    res = results["s_broken"]
    assert (res.status, res.score) == ("error", 0) and "not valid JSON" in res.message
    assert "s_broken" in (course / "grades.csv").read_text()


def test_feedback_shows_no_hidden_test_code(batch):
    course, _, _, _ = batch
    secrets = hidden_lines(nbformat.read(SOURCE, as_version=4))
    assert secrets
    for student in ("s_complete", "s_partial", "s_untouched"):
        html_files = list((course / "feedback" / student / A1).glob("*.html"))
        assert html_files, f"no feedback for {student}"
        text = html.unescape(re.sub(r"<[^>]+>", "", "".join(p.read_text() for p in html_files)))
        assert BEGIN_HIDDEN not in text
        leaked = [line for line in secrets if line in text]
        assert not leaked, f"hidden test code in {student}'s feedback: {leaked[:3]}"
