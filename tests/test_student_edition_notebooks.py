"""Every lecture and every release notebook runs in the student edition with the edition's package alone.

A lecture runs top to bottom; an untouched release runs up to its first exercise test, which must fail
with NotImplementedError. A last cell checks that every module the notebook loaded from ``dlcourse``
came from the edition and nothing from the instructor's tree (the editable install is switched off).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_fixtures import REPO
from dlcourse.course import list_assignments
from edition_fixtures import edition, edition_env  # noqa: F401 - the fixture

ASSIGNMENTS = list_assignments(REPO)
LECTURES = sorted(p.name for p in (REPO / "lectures").glob("L[0-9][0-9]_*.ipynb"))


CHECK_ORIGIN = r"""
import sys as _sys
from pathlib import Path as _Path
_edition = _Path({edition!r}).resolve()
_instructor = _Path({instructor!r}).resolve()
_outside = {{n: getattr(m, "__file__", None) for n, m in list(_sys.modules.items())
            if n.split(".")[0] == "dlcourse" and getattr(m, "__file__", None)
            and not _Path(m.__file__).resolve().is_relative_to(_edition)}}
_mine = {{n: m.__file__ for n, m in list(_sys.modules.items()) if getattr(m, "__file__", None)
         and _Path(m.__file__).resolve().is_relative_to(_instructor)
         and ".venv" not in _Path(m.__file__).resolve().relative_to(_instructor).parts}}
assert not _outside and not _mine, f"loaded from outside the edition: {{_outside or _mine}}"
print("dlcourse modules from the edition:", sum(n.split(".")[0] == "dlcourse" for n in _sys.modules))
"""


def _client(nb, edition: Path, cwd: Path) -> NotebookClient:
    return NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})


def _origin_cell(edition: Path):
    return nbformat.v4.new_code_cell(CHECK_ORIGIN.format(edition=str(edition), instructor=str(REPO)))


@pytest.mark.parametrize("name", LECTURES, ids=lambda n: n[:3])
def test_lecture_runs_in_the_edition(edition, name):
    path = edition / "lectures" / name
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(_origin_cell(edition))
    client = _client(nb, edition, path.parent)
    try:
        client.execute(env=edition_env(edition))
    except CellExecutionError as exc:
        pytest.fail(f"{name} fails in the student edition:\n{str(exc)[-3000:]}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_runs_up_to_its_first_exercise_test(edition, assignment):
    path = edition / "assignments" / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    tests = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"
             and c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.get("nbgrader", {}).get("solution")]
    assert tests, f"{assignment} has no test cells"
    client = _client(nb, edition, path.parent)
    failed_at, error = None, None
    with client.setup_kernel(env=edition_env(edition)):
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                failed_at, error = index, exc
                break
        nb.cells.append(_origin_cell(edition))
        client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
    assert failed_at is not None, f"{assignment}: the untouched release ran through without failing a test"
    assert error.ename == "NotImplementedError", (
        f"{assignment}: cell {failed_at} failed with {error.ename} before the first exercise test "
        f"(expected NotImplementedError):\n{str(error)[-2000:]}")
    assert failed_at <= tests[0], (
        f"{assignment}: the first failure is in cell {failed_at}, after the first exercise test (cell {tests[0]})")
