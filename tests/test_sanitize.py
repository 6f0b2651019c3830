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


# ---- the submission folder is untrusted: only regular files, never through a link ---------------

import os  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from dlcourse.grading.sanitize import check_student_id, read_regular_file  # noqa: E402


def test_read_regular_file_refuses_links_fifos_hard_links_and_big_files(tmp_path):
    plain = tmp_path / "plain.ipynb"
    plain.write_bytes(b"{}")
    assert read_regular_file(plain, limit=10) == b"{}"
    (tmp_path / "link.ipynb").symlink_to(plain)
    os.mkfifo(tmp_path / "fifo.ipynb")
    other = tmp_path / "elsewhere.ipynb"
    other.write_bytes(b"{}")
    os.link(other, tmp_path / "hard.ipynb")
    (tmp_path / "big.ipynb").write_bytes(b"x" * 11)
    for name, says in [("link.ipynb", "symbolic link"), ("fifo.ipynb", "not a regular file"),
                       ("hard.ipynb", "hard link"), ("big.ipynb", "MiB allowed"), ("missing.ipynb", "cannot be read")]:
        with pytest.raises(OSError, match=says):
            read_regular_file(tmp_path / name, limit=10)


@pytest.mark.parametrize("name", ["alice", "a.b-c_d@uni+1", "42", "x" * 64])
def test_ordinary_student_ids_are_accepted(name):
    assert check_student_id(name) is None


@pytest.mark.parametrize("name", ["?????", "*", "[ab]", "-rf", ".hidden", "a b", "a\nb", "a\x1b[2J", "=1+1", "+x", "@x",
                                  "x" * 65, "", "é", "a/b", "$(id)"])
def test_hostile_student_ids_are_refused_with_a_reason(name):
    assert "not a valid student id" in check_student_id(name)


def test_a_submission_whose_notebook_is_a_link_is_refused_not_followed(tmp_path):
    release_dir = tmp_path / "release"
    release_dir.mkdir()
    nbformat.write(_release(), release_dir / "tiny.ipynb")
    secret = tmp_path / "instructor.ipynb"
    nbformat.write(tiny_source_notebook(), secret)
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    (submitted / "tiny.ipynb").symlink_to(secret)
    staged = stage_submission(submitted, tmp_path / "staged", release_dir)
    assert staged.problem and "symbolic link" in staged.problem
    assert not list((tmp_path / "staged").iterdir()), "nothing may be staged from a link"
    deep = tmp_path / "deep"
    deep.mkdir()
    (deep / "tiny.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    assert "too deeply" in stage_submission(deep, tmp_path / "staged2", release_dir).problem
    assert Path(tmp_path / "staged2").is_dir()
