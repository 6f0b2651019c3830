"""Staging a submission: unit tests of the repairs, without running nbgrader."""

import copy

import nbformat

from course_fixtures import tiny_source_notebook
from dlcourse.grading.sanitize import repair_notebook, stage_submission


def _release():
    nb = tiny_source_notebook()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell{i}"
    return nb


def _gids(nb):
    return [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]


def test_intact_notebook_is_left_as_is():
    release = _release()
    nb = copy.deepcopy(release)
    assert repair_notebook(nb, release) == []
    assert _gids(nb) == _gids(release) and [c.source for c in nb.cells] == [c.source for c in release.cells]


def test_duplicates_keep_metadata_on_the_last_copy_only():
    release = _release()
    nb = copy.deepcopy(release)
    dup = copy.deepcopy(nb.cells[2])
    dup["id"] = "copy"
    dup.source = "def add(a, b):\n    return a + b"
    nb.cells.insert(3, dup)
    notes = repair_notebook(nb, release)
    assert _gids(nb).count("add") == 1 and nb.cells[3].metadata.nbgrader["grade_id"] == "add"
    assert "nbgrader" not in nb.cells[2].metadata and nb.cells[2].source  # the first copy still runs
    assert notes == ["1 duplicated or split cell(s) kept as ungraded code, the last copy graded: 'add'"]


def test_stripped_metadata_comes_back_by_cell_id_and_points_cannot_be_edited():
    release = _release()
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    nb.cells[4].metadata["nbgrader"] = dict(release.cells[4].metadata["nbgrader"], points=99)
    repair_notebook(nb, release)
    assert _gids(nb) == _gids(release)
    assert nb.cells[4].metadata.nbgrader["points"] == 3


def test_deleted_test_cells_are_restored_in_place():
    release = _release()
    nb = copy.deepcopy(release)
    del nb.cells[3:5]
    notes = repair_notebook(nb, release)
    assert _gids(nb) == _gids(release)
    assert notes == ["2 missing test cell(s) restored: 'test_add_visible', 'test_add_hidden'"]
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)


def test_unknown_grade_ids_lose_their_metadata(tmp_path):
    release = _release()
    nb = copy.deepcopy(release)
    nb.cells[2].metadata.nbgrader["grade_id"] = "add_v2"
    nb.cells[2]["id"] = "new-id"
    notes = repair_notebook(nb, release)
    assert "nbgrader" not in nb.cells[2].metadata
    assert any("a grade id the assignment does not have" in n for n in notes)
    assert any("answer cell(s) missing: 'add'" in n for n in notes)


def test_stage_picks_the_renamed_notebook_and_leaves_other_files_behind(tmp_path):
    release_dir = tmp_path / "release"
    release_dir.mkdir()
    nbformat.write(_release(), release_dir / "tiny.ipynb")
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    nbformat.write(_release(), submitted / "tiny-Copy1.ipynb")
    nbformat.write(nbformat.v4.new_notebook(), submitted / "Untitled.ipynb")
    (submitted / "numpy.py").write_text("raise ImportError")
    (submitted / "timestamp.txt").write_text("not a time")
    staged = tmp_path / "staged"
    result = stage_submission(submitted, staged, release_dir)
    assert result.problem is None
    assert sorted(p.name for p in staged.iterdir()) == ["tiny.ipynb"]
    assert "graded tiny-Copy1.ipynb as tiny.ipynb (renamed notebook)" in result.notes
    assert "ignored extra notebook Untitled.ipynb" in result.notes
    assert "ignored 1 file(s) beside the notebook: numpy.py" in result.notes
    assert "ignored an unreadable timestamp.txt" in result.notes


def test_stage_reports_unreadable_and_missing_notebooks(tmp_path):
    release_dir = tmp_path / "release"
    release_dir.mkdir()
    nbformat.write(_release(), release_dir / "tiny.ipynb")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert stage_submission(empty, tmp_path / "s1", release_dir).problem == \
        "no tiny.ipynb in the submission (found: no notebooks)"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "tiny.ipynb").write_bytes(b"\xff\xfe\x00binary")
    assert "not a text file" in stage_submission(broken, tmp_path / "s2", release_dir).problem
    (broken / "tiny.ipynb").write_text('{"cells": 3}')
    assert "JSON but not a notebook" in stage_submission(broken, tmp_path / "s3", release_dir).problem
