"""Independent solutions and made-up copies, as submissions, for testing copy detection.

An independent solution lives in ``tests/similarity_corpus/<assignment>/<style>.py``: one section per
solution cell of the release, each starting with a line ``# %% [<grade_id>]`` followed by the whole
cell (signature, docstring and the body that replaces ``raise NotImplementedError()``). They were
written from the release notebooks alone, without reading the instructor's solutions or references,
in deliberately different styles, to calibrate the threshold and measure false positives.

Run as a script to check one of them against the release's visible tests::

    python tests/similarity_fixtures.py a1_backprop tests/similarity_corpus/a1_backprop/loops.py
"""

from __future__ import annotations

import ast
import random
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "similarity_corpus"
_SECTION = re.compile(r"^# %% \[([A-Za-z0-9_.-]+)\]\s*$", re.MULTILINE)


def read_sections(path: str | Path) -> dict[str, str]:
    """grade_id -> cell source of an independent solution file."""
    text = Path(path).read_text(encoding="utf-8")
    parts = _SECTION.split(text)
    return {grade_id: body.strip("\n") + "\n" for grade_id, body in zip(parts[1::2], parts[2::2])}


def submission_from_sections(assignment: str, sections: dict[str, str]) -> nbformat.NotebookNode:
    """The release notebook of ``assignment`` with its solution cells replaced by ``sections``.

    Raises:
        ValueError: when a section names no solution cell of the release, or one is missing.
    """
    nb = nbformat.read(REPO / "assignments" / assignment / f"{assignment}.ipynb", as_version=4)
    solution_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if c.cell_type == "code"
                    and c.metadata.get("nbgrader", {}).get("solution")]
    unknown = sorted(set(sections) - set(solution_ids))
    missing = sorted(set(solution_ids) - set(sections))
    if unknown or missing:
        raise ValueError(f"sections: unknown grade ids {unknown}, missing {missing} (the release has {solution_ids})")
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in sections:
            cell.source = sections[grade_id]
    return nb


def independent_solutions(assignment: str) -> dict[str, dict[str, str]]:
    """style -> sections, for every independent solution of ``assignment`` in the corpus."""
    return {path.stem: read_sections(path) for path in sorted((CORPUS / assignment).glob("*.py"))}


def solution_sections(assignment: str) -> dict[str, str]:
    """The instructor's solution cells of ``assignment`` as a submission would hold them (markers removed)."""
    from dlcourse.grading.similarity.documents import solution_cells, strip_markers

    nb = nbformat.read(REPO / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)
    return {grade_id: strip_markers(source) for grade_id, source in solution_cells(nb).items()}


def _bound_locally(fn: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> set[str]:
    """Names a function binds in its own body (not in nested functions), minus global/nonlocal ones."""
    bound, declared = set(), set()
    stack = list(fn.body) if isinstance(fn.body, list) else [fn.body]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            stack.extend(node.decorator_list)
            continue  # its body is another scope
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared |= set(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return bound - declared


class _Renamer(ast.NodeTransformer):
    """Rename the local variables of every function (its parameters, module-level names, attributes and
    keyword names stay: callers and other cells rely on them)."""

    def __init__(self, rng: random.Random):
        self.rng, self.scopes, self.count = rng, [], 0

    def _fresh(self) -> str:
        self.count += 1
        return f"{self.rng.choice(['tmp', 'val', 'q', 'item', 'res', 'z'])}{self.count}"

    def _function(self, node):
        params = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
        mapping = {name: self._fresh() for name in sorted(_bound_locally(node) - params)}
        self.scopes.append(mapping)
        self.generic_visit(node)
        self.scopes.pop()
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Name(self, node):
        for mapping in reversed(self.scopes):
            if node.id in mapping:
                node.id = mapping[node.id]
                break
        return node

    def visit_ExceptHandler(self, node):
        if node.name:
            for mapping in reversed(self.scopes):
                if node.name in mapping:
                    node.name = mapping[node.name]
                    break
        self.generic_visit(node)
        return node


def obfuscate(code: str, seed: int = 0) -> str:
    """``code`` as a copier disguises it: the functions' local variables renamed, comments and
    docstrings gone, the top-level functions in another order, and another layout (``ast.unparse``).
    Names other cells and the tests use (module-level names, parameters, attributes) stay, so the
    disguised code still passes the notebook's tests."""
    tree = ast.parse(code)
    rng = random.Random(seed)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    tree = _Renamer(rng).visit(tree)
    # functions may be defined in any order (their names are looked up when called); the rest stays
    slots = [i for i, n in enumerate(tree.body) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    functions = [tree.body[i] for i in slots]
    rng.shuffle(functions)
    for i, fn in zip(slots, functions):
        tree.body[i] = fn
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def obfuscated_sections(sections: dict[str, str], seed: int = 0) -> dict[str, str]:
    """Every section of a solution disguised with :func:`obfuscate` (sections that do not parse are kept)."""
    out = {}
    for i, (grade_id, code) in enumerate(sections.items()):
        try:
            out[grade_id] = obfuscate(code, seed + i)
        except SyntaxError:
            out[grade_id] = code
    return out


if __name__ == "__main__":  # check a solution file against the visible tests of its release
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    assignment, path = sys.argv[1], sys.argv[2]
    nb = submission_from_sections(assignment, read_sections(path))
    failures = []
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO / "assignments" / assignment)}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as exc:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", index)
                failures.append(f"cell {grade_id}: {exc.ename}: {str(exc.evalue)[:300]}")
    print("\n".join(failures) if failures else f"OK: every cell of {assignment} ran and every visible test passed")
    sys.exit(1 if failures else 0)
