"""The graded exercises of an assignment, read from the instructor's source notebook and probes.

An exercise is a function or class the student writes: a top-level ``def`` or ``class`` in a
solution cell of ``solutions/<assignment>/<assignment>.ipynb`` (nbgrader's ``solution`` cells),
and every name the assignment's probes call in the student's namespace. Nobody lists them: a
new exercise is found as soon as its solution cell exists.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import nbformat

from dlcourse.course import SOURCE_DIR

PROBES_FILE = "probes.py"
_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def python_source(cell_source: str) -> str:
    """A code cell's source with IPython magics and shell escapes blanked (line numbers kept)."""
    return _MAGIC.sub("", cell_source)


def defined_names(source: str) -> set[str]:
    """Names of the top-level functions and classes that ``source`` defines."""
    tree = ast.parse(source)
    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def solution_cell_names(notebook: str | Path) -> set[str]:
    """Names defined at top level by the solution cells of an nbgrader source notebook.

    Raises:
        ValueError: when a solution cell is not valid Python (naming the cell).
    """
    return _cell_names(notebook, solution=True)


def given_names(notebook: str | Path) -> set[str]:
    """Names defined at top level by the other code cells (code the release gives the student)."""
    return _cell_names(notebook, solution=False)


def _cell_names(notebook: str | Path, *, solution: bool) -> set[str]:
    nb = nbformat.read(str(notebook), as_version=4)
    names: set[str] = set()
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or bool(meta.get("solution")) != solution:
            continue
        try:
            names |= defined_names(python_source(cell.source))
        except SyntaxError as exc:
            raise ValueError(f"notebook: code cell {meta.get('grade_id', index)!r} of {notebook} "
                             f"is not valid Python: {exc}") from exc
    return names


def probe_targets(probes_file: str | Path) -> set[str]:
    """Names the probes call in the student's namespace (``Probe(name, cells, call, ...)``).

    Read statically: the third positional argument or ``call=`` of every ``Probe(...)`` whose value is
    a string literal, plus the free names the probes' ``SETUP`` helpers call. Helpers the probes define
    themselves (``_probe_*``) are not exercises, nor is code the release gives (see
    :func:`assignment_exercises`).
    """
    path = Path(probes_file)
    if not path.is_file():
        return set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    targets: set[str] = set()
    setup_sources: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Probe":
            call = node.args[2] if len(node.args) > 2 else next(
                (kw.value for kw in node.keywords if kw.arg == "call"), None)
            if isinstance(call, ast.Constant) and isinstance(call.value, str):
                targets.add(call.value)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "SETUP" for t in node.targets):
            setup_sources += [c.value for c in ast.walk(node.value)
                              if isinstance(c, ast.Constant) and isinstance(c.value, str) and "\n" in c.value]
    for source in setup_sources:
        try:
            targets |= _free_called_names(source)
        except SyntaxError:
            continue  # a fragment, not a program: its names are found in the solution cells anyway
    return {t for t in targets if t.isidentifier() and not t.startswith("_")}


def _free_called_names(source: str) -> set[str]:
    """Names called in ``source`` that it neither defines, imports nor assigns (the student's names)."""
    tree = ast.parse(source)
    bound: set[str] = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            bound |= {a.arg for a in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs)} \
                if not isinstance(node, ast.ClassDef) else set()
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return called - bound


def assignment_exercises(course_dir: str | Path, assignment: str) -> set[str]:
    """The exercise names of one assignment: its solution cells' definitions and its probes' targets."""
    folder = Path(course_dir) / SOURCE_DIR / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise ValueError(f"assignment: {assignment!r} has no source notebook in {folder}")
    names: set[str] = set()
    given: set[str] = set()
    for notebook in notebooks:
        names |= solution_cell_names(notebook)
        given |= given_names(notebook)
    return names | (probe_targets(folder / PROBES_FILE) - given)
