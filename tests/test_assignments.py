"""What every assignment in solutions/ must be, checked without grading (the grading batch is
tests/test_hostile_corpus.py): 100 points, an exercise = visible + hidden tests + probes, written
answers graded by hand, and a committed release that is exactly what `dlcourse release` generates."""

import nbformat
import pytest

from course_fixtures import REPO, copy_course
from dlcourse.course import list_assignments
from dlcourse.grading.feedback import BEGIN_HIDDEN
from dlcourse.grading.pipeline import generate_release
from dlcourse.grading.probes import load_probes

ASSIGNMENTS = list_assignments(REPO)


def source_notebook(aid):
    (path,) = sorted((REPO / "solutions" / aid).glob("*.ipynb"))
    return nbformat.read(path, as_version=4)


def grade_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_points_add_up_to_100(aid):
    points = {c.metadata.nbgrader["grade_id"]: c.metadata.nbgrader["points"] for c in grade_cells(source_notebook(aid))}
    assert sum(points.values()) == 100, f"{aid}: points {points} sum to {sum(points.values())}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_exercise_has_visible_and_hidden_tests(aid):
    cells = grade_cells(source_notebook(aid))
    tests = [c for c in cells if c.cell_type == "code" and not c.metadata.nbgrader.get("solution")]
    hidden = [c for c in tests if BEGIN_HIDDEN in c.source]
    visible = [c for c in tests if BEGIN_HIDDEN not in c.source]
    assert hidden and visible, f"{aid}: {len(visible)} visible and {len(hidden)} hidden test cells"
    assert len(hidden) >= len(visible) - 1, f"{aid}: most exercises lack hidden tests ({len(hidden)} of {len(visible)})"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_written_answers_are_manually_graded_markdown(aid):
    for cell in grade_cells(source_notebook(aid)):
        meta = cell.metadata.nbgrader
        if cell.cell_type == "markdown":
            assert meta.get("solution") and not meta.get("task"), f"{aid}/{meta['grade_id']}: not an answer cell"
            assert meta["points"] <= 10, f"{aid}/{meta['grade_id']}: a written answer worth {meta['points']} points"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_probes_cover_every_autograded_cell(aid):
    spec = load_probes(REPO / "solutions" / aid)
    assert spec is not None, f"solutions/{aid}/probes.py is missing"
    covered = {cell for probe in spec.probes for cell in probe.cells}
    autograded = {c.metadata.nbgrader["grade_id"] for c in grade_cells(source_notebook(aid)) if c.cell_type == "code"}
    assert covered <= autograded, f"{aid}: probes name cells the notebook lacks: {sorted(covered - autograded)}"
    assert covered == autograded, f"{aid}: autograded cells no probe re-checks: {sorted(autograded - covered)}"
    assert spec.forbidden, f"{aid}: no FORBIDDEN reference modules"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_release_equals_generated_release(aid, tmp_path):
    course = copy_course(tmp_path / "course", [aid])
    release_dir = generate_release(course, aid, tmp_path / "release")
    committed = REPO / "assignments" / aid
    assert committed.is_dir(), f"assignments/{aid} missing: run `dlcourse release {aid}` and commit"
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in release_dir.iterdir()), \
        f"assignments/{aid} lists other files than `dlcourse release` generates"
    for path in release_dir.glob("*.ipynb"):
        fresh = nbformat.read(path, as_version=4)
        ours = nbformat.read(committed / path.name, as_version=4)
        assert ours.metadata == fresh.metadata
        assert len(ours.cells) == len(fresh.cells), f"{path.name}: run `dlcourse release {aid}` and commit"
        for i, (a, b) in enumerate(zip(ours.cells, fresh.cells)):
            assert (a.cell_type, a.source, a.metadata) == (b.cell_type, b.source, b.metadata), \
                f"{path.name} cell {i} is stale: run `dlcourse release {aid}` and commit assignments/"
            assert not a.get("outputs"), f"{path.name} cell {i}: release notebooks carry no outputs"
            assert BEGIN_HIDDEN not in a.source and "### BEGIN SOLUTION" not in a.source, \
                f"{path.name} cell {i} leaks hidden tests or a solution"
