"""A corpus of broken, mangled and hostile submissions, generated from any assignment.

Each case turns the assignment's release notebook (and its complete solution, built from
the source notebook) into what a student might hand in, and states the outcome the grader
must reach. The corpus is generic: it runs on the tiny fixture assignment and on every
assignment in ``solutions/``.
"""

from __future__ import annotations

import ast
import copy
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from nbformat.v4 import new_code_cell

from dlcourse.grading.samples import fill_solutions

FULL, ZERO, ERROR, GRADED = "full", "zero", "error", "graded"


@dataclass(frozen=True)
class Case:
    build: Callable[[nbformat.NotebookNode, nbformat.NotebookNode, Path, str], None]  # (complete, release, dest, name)
    expect: str  # FULL, ZERO (graded with 0) or ERROR (a row with 0 and a reason)
    says: str | None = None  # a fragment the report line must contain


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _solution_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _meta(c).get("solution")]


def _test_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if _meta(c).get("grade") and not _meta(c).get("solution")]


def _write(nb, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def _fresh_copy(cell):
    dup = copy.deepcopy(cell)
    dup["id"] = uuid.uuid4().hex[:8]
    return dup


def _with_cell_after_first_solution(code: str):
    def build(complete, release, dest, name):
        nb = copy.deepcopy(complete)
        nb.cells.insert(_solution_indices(nb)[0] + 1, new_code_cell(code))
        _write(nb, dest, name)
    return build


def correct(complete, release, dest, name):
    _write(complete, dest, name)


def untouched(complete, release, dest, name):
    _write(release, dest, name)


def duplicated_cells(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for i in reversed(_solution_indices(nb) + _test_indices(nb)):
        nb.cells.insert(i + 1, _fresh_copy(nb.cells[i]))
    _write(nb, dest, name)


def split_cells(complete, release, dest, name):
    """Split every solution cell in two, as Jupyter does: both halves keep the metadata."""
    nb = copy.deepcopy(complete)
    for i in reversed(_solution_indices(nb)):
        cell = nb.cells[i]
        lines = cell.source.split("\n")
        body = ast.parse(cell.source).body
        cut = body[1].lineno - 1 if len(body) > 1 else 0  # between top-level statements
        first, second = _fresh_copy(cell), cell
        first.source, second.source = "\n".join(lines[:cut]), "\n".join(lines[cut:])
        nb.cells.insert(i, first)
    _write(nb, dest, name)


def renamed_grade_ids(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for i in _solution_indices(nb) + _test_indices(nb):
        nb.cells[i].metadata.nbgrader["grade_id"] += "_mine"
    _write(nb, dest, name)


def stripped_metadata(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    _write(nb, dest, name)


def deleted_tests(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in set(_test_indices(nb))]
    _write(nb, dest, name)


def tests_edited_to_pass(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].source = "pass"
    _write(nb, dest, name)


def tests_stripped_and_edited(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].source = "pass"
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    _write(nb, dest, name)


def inflated_points(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].metadata.nbgrader["points"] = 1000
        nb.cells[i].source = "pass"
    _write(nb, dest, name)


def renamed_notebook(complete, release, dest, name):
    _write(complete, dest, "my_work (1).ipynb")


def extra_notebook(complete, release, dest, name):
    _write(complete, dest, name)
    _write(release, dest, "scratch.ipynb")


def truncated_json(complete, release, dest, name):
    dest.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(complete)
    (dest / name).write_text(text[: len(text) // 2])


def numpy_beside(complete, release, dest, name):
    _write(complete, dest, name)
    (dest / "numpy.py").write_text('raise ImportError("a numpy.py shipped with the submission was imported")\n')


def warnings_in_tests(complete, release, dest, name):
    """Every function the student defines writes a warning to stderr (inside the test cells)."""
    nb = copy.deepcopy(complete)
    for i in _solution_indices(nb):
        names = [n.name for n in ast.parse(nb.cells[i].source).body if isinstance(n, ast.FunctionDef)]
        if names:
            nb.cells[i].source += (
                "\n\nimport functools as _ft, sys as _sys\n"
                "def _noisy(_f):\n"
                "    @_ft.wraps(_f)\n"
                "    def _wrapped(*args, **kwargs):\n"
                "        _sys.stderr.write('student.py:3: RuntimeWarning: overflow encountered in exp\\n')\n"
                "        return _f(*args, **kwargs)\n"
                "    return _wrapped\n"
                f"for _name in {names!r}:\n"
                "    globals()[_name] = _noisy(globals()[_name])\n"
            )
    _write(nb, dest, name)


CASES: dict[str, Case] = {
    "correct": Case(correct, FULL, "test cells passed"),
    "untouched": Case(untouched, ZERO, "graded: 0 of"),
    "duplicated_cells": Case(duplicated_cells, FULL, "duplicated or split cell(s)"),
    "split_cells": Case(split_cells, FULL, "duplicated or split cell(s)"),
    "renamed_grade_ids": Case(renamed_grade_ids, FULL, "a grade id the assignment does not have"),
    "stripped_metadata": Case(stripped_metadata, FULL, "lost their nbgrader metadata"),
    "deleted_tests": Case(deleted_tests, FULL, "missing test cell(s) restored"),
    "tests_edited_to_pass": Case(tests_edited_to_pass, ZERO),
    "tests_stripped_and_edited": Case(tests_stripped_and_edited, ZERO),
    "inflated_points": Case(inflated_points, ZERO),
    "renamed_notebook": Case(renamed_notebook, FULL, "graded my_work (1).ipynb as"),
    "extra_notebook": Case(extra_notebook, FULL, "ignored extra notebook scratch.ipynb"),
    "truncated_json": Case(truncated_json, ERROR, "is not valid JSON"),
    "numpy_beside": Case(numpy_beside, FULL, "ignored 1 file(s) beside the notebook: numpy.py"),
    "warnings_in_tests": Case(warnings_in_tests, FULL),
    "infinite_loop": Case(_with_cell_after_first_solution("while True:\n    pass"), FULL, "timed out"),
    "ignores_interrupt": Case(_with_cell_after_first_solution(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"), FULL, "the kernel hung in"),
    "os_exit": Case(_with_cell_after_first_solution("import os\nos._exit(3)"), FULL, "the kernel died in"),
    "segfault": Case(_with_cell_after_first_solution("import ctypes\nctypes.string_at(0)"), FULL, "the kernel died in"),
    "memory_hog": Case(_with_cell_after_first_solution(
        "hog = []\nwhile True:\n    hog.append(bytearray(2**28))"), FULL, "ran out of memory in"),
    "huge_output": Case(_with_cell_after_first_solution(
        "line = 'x' * 99\nfor _ in range(300_000):\n    print(line)"), FULL),
}


def write_case(name: str, source_dir: Path, release_dir: Path, dest: Path) -> None:
    """Write the submission of case ``name`` for a one-notebook assignment into ``dest``."""
    (release_path,) = sorted(release_dir.glob("*.ipynb"))
    release = nbformat.read(release_path, as_version=4)
    source = nbformat.read(source_dir / release_path.name, as_version=4)
    complete = fill_solutions(release, source, 1.0)
    CASES[name].build(complete, release, dest, release_path.name)
