"""Small nbgrader courses built in a temporary folder, for testing the grading machinery fast."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
TINY = "tiny"
# Grading refuses to run unsandboxed unless told so: tests grade unsafely only where bubblewrap is missing.
from dlcourse.grading.sandbox import sandbox_status  # noqa: E402

SANDBOXED = sandbox_status()[0]
UNSAFE = not SANDBOXED
TINY_PROBES = '''"""Probes of the tiny fixture assignment."""
import numpy as np

from dlcourse.grading.probes import Probe

PROBES = [
    Probe("add", cells=("test_add_visible", "test_add_hidden"), call="add",
          args=lambda rng: (rng.normal(size=(3, 4)), rng.normal(size=(3, 4))), expect=np.add),
]
'''
TINY_HIDDEN_LINE = "assert_close(add(secret_a, secret_b), secret_a + secret_b, name='hidden sum')"


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, points: float | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


TINY_ANSWER = "Adding is commutative because ..."


def tiny_source_notebook(written_answer: bool = False) -> nbformat.NotebookNode:
    """One exercise (``add``) with a 2-point visible and a 3-point hidden test cell.

    With ``written_answer``, also a 2-point manually graded markdown answer cell (``why_add``).
    """
    cells = [
        new_markdown_cell("# Tiny assignment\nWrite `add(a, b)`.", metadata=_meta("intro")),
        new_code_cell("import numpy as np\nfrom dlcourse.grading import assert_close, student_rng",
                      metadata=_meta("imports")),
        new_code_cell('def add(a, b):\n    """Return a + b."""\n    ### BEGIN SOLUTION\n    return a + b\n'
                      "    ### END SOLUTION", metadata=_meta("add", solution=True)),
        new_code_cell("assert_close(add(2.0, 3.0), 5.0, name='add(2, 3)')",
                      metadata=_meta("test_add_visible", grade=True, points=2)),
        new_code_cell("# Hidden tests for add run when your notebook is graded.\n### BEGIN HIDDEN TESTS\n"
                      "secret_a, secret_b = student_rng('add').normal(size=2)\n"
                      f"{TINY_HIDDEN_LINE}\n### END HIDDEN TESTS",
                      metadata=_meta("test_add_hidden", grade=True, points=3)),
    ]
    if written_answer:
        cells.append(new_markdown_cell("Why is `add` commutative?", metadata=_meta("why_add_question")))
        cells.append(new_markdown_cell(f"### BEGIN SOLUTION\n{TINY_ANSWER}\n### END SOLUTION",
                                       metadata=_meta("why_add", solution=True, grade=True, points=2)))
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    return nb


def make_course(root: Path, written_answer: bool = False) -> Path:
    """A course folder with the repo's nbgrader_config.py and the tiny assignment."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    (root / "solutions" / TINY).mkdir(parents=True, exist_ok=True)
    nbformat.write(tiny_source_notebook(written_answer), root / "solutions" / TINY / f"{TINY}.ipynb")
    (root / "solutions" / TINY / "probes.py").write_text(TINY_PROBES)
    return root


def copy_course(root: Path, assignments: list[str]) -> Path:
    """A course folder with the repo's nbgrader_config.py and the source of ``assignments``."""
    from dlcourse.course import copy_course as copy

    return copy(REPO, root, assignments)
