"""A correct notebook passes `nbgrader validate`, and no release test cell ends in a value nbgrader would score.

nbgrader reads the value of a test cell's last expression as a partial-credit score (a float
below the cell's points fails the cell; a tuple or list earns a warning), and `nbgrader validate`
counts any stderr output of a test cell as a failure. A student who solved everything and
pressed *Validate* must see a clean result, so for every assignment:

- static (fast): no test cell of the committed release ends in an expression statement
  (a ``print(...)`` call is allowed: it has no value); the "check that your code runs" lines
  that stand in for hidden tests assign their results instead;
- executed (slow): the release notebook with every solution cell filled in from the source
  notebook (code and written answers, matched by grade id, as ``dlcourse.grading.samples``
  builds a complete submission) is validated by nbgrader's ``Validator`` with the course's
  ``nbgrader_config.py``, which must report nothing. Each assignment is a test class of its
  own, so that ``pytest -n N --dist loadscope`` runs the notebooks in parallel; each works in
  its own temporary folder.
"""

from __future__ import annotations

import ast
import os

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from traitlets.config.loader import PyFileConfigLoader

from course_fixtures import REPO
from dlcourse.course import list_assignments
from dlcourse.grading.samples import fill_solutions

ASSIGNMENTS = list_assignments(REPO)


def release_notebook(aid: str):
    (path,) = sorted((REPO / "assignments" / aid).glob("*.ipynb"))
    return path, nbformat.read(path, as_version=4)


def source_notebook(aid: str, name: str):
    return nbformat.read(REPO / "solutions" / aid / name, as_version=4)


def graded_test_cells(nb):
    """The autograded test cells: grade cells that are code and not solutions."""
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield index, meta["grade_id"], cell


def ends_in_a_value(source: str) -> str | None:
    """The source of a cell's last statement when it is an expression with a value, else None."""
    code = TransformerManager().transform_cell(source)
    tree = ast.parse(code)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return None
    last = tree.body[-1].value
    if isinstance(last, ast.Call) and isinstance(last.func, ast.Name) and last.func.id == "print":
        return None  # print() returns None: no execute_result, nothing to score
    return ast.get_source_segment(code, tree.body[-1])


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_no_release_test_cell_ends_in_an_expression(aid):
    path, nb = release_notebook(aid)
    offenders = [f"cell {index} ({grade_id}) ends in `{line}`"
                 for index, grade_id, cell in graded_test_cells(nb) if (line := ends_in_a_value(cell.source))]
    assert not offenders, (
        f"{path.relative_to(REPO)}: nbgrader reads the value of a test cell's last expression as a partial score; "
        "assign it (`_ = ...`) or end the cell with a statement:\n" + "\n".join(offenders))


def course_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()


def validate_complete_notebook(aid: str, tmp_path) -> None:
    from nbgrader.validator import Validator

    path, release = release_notebook(aid)
    filled = fill_solutions(release, source_notebook(aid, path.name))
    target = tmp_path / aid / path.name
    target.parent.mkdir(parents=True)
    nbformat.write(filled, target)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    results = Validator(config=course_config()).validate(str(target))
    if results:
        lines = [f"nbgrader validate on the complete {aid} notebook is not clean:"]
        for kind, cells in results.items():
            for cell in cells:
                lines.append(f"--- {kind}: {cell.get('source', '')[:400]}")
                if cell.get("raw_error"):
                    lines.append(cell["raw_error"][-1500:])
                for key in ("old_type", "new_type"):
                    if key in cell:
                        lines.append(f"{key}: {cell[key]}")
        pytest.fail("\n".join(lines), pytrace=False)


def _validation_class(aid: str):
    """A test class per assignment: `--dist loadscope` sends each class to its own worker."""

    @pytest.mark.pipeline
    class Validate:
        def test_a_complete_notebook_passes_nbgrader_validate(self, tmp_path):
            validate_complete_notebook(aid, tmp_path)

    Validate.__name__ = Validate.__qualname__ = f"TestValidate_{aid}"
    return Validate


for _aid in ASSIGNMENTS:
    globals()[f"TestValidate_{_aid}"] = _validation_class(_aid)
del _aid
