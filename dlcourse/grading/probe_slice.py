"""The part of a student's notebook the probes need: their code and the definitions it uses, not the demos.

The probe runner (:mod:`dlcourse.grading.probe_runner`) re-runs the student's code out of process
before it calls the probes. Running every code cell again repeats the notebook's demonstrations
(training runs, plots, timing loops) that nbgrader has just run, and the probes do not need them:
on a1 that second run took 5.5 s of the 5.8 s the probes took. :func:`needed_code` keeps

- every solution cell in full (the student's own code, as the student wrote it);
- from the other code cells, every function and class definition, and each other top-level
  statement only when it binds or changes a name that kept code uses (a backward slice over
  top-level statements: ``import torch`` stays when a kept function uses ``torch``;
  ``data = load_digits()`` stays when a student's function reads the global ``data``;
  ``params, history = train(...)`` goes when nothing kept reads them).

It is a fast path, never the verdict's last word: :func:`dlcourse.grading.probes.verify` runs the
whole notebook again whenever the sliced run fails any probe, so a slice that left out something a
function needed can cost time but never points.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable

__all__ = ["ProbeCell", "needed_code"]

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass(frozen=True)
class ProbeCell:
    """One code cell of the autograded notebook as the probe runner executes it."""

    source: str  # Python (IPython syntax already transformed)
    solution: bool  # an nbgrader solution cell: the student's own code


def loaded_names(node: ast.AST) -> set[str]:
    """The global names ``node`` reads: at top level, and inside its functions, classes, lambdas and
    comprehensions only the names that are not theirs (a function's own locals are not needed)."""
    import symtable

    try:
        table = symtable.symtable(ast.unparse(node), "<probe slice>", "exec")
    except (SyntaxError, ValueError, RecursionError):  # never narrower than every name it mentions
        return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    names = {sym.get_name() for sym in table.get_symbols() if sym.is_referenced()}
    stack = list(table.get_children())
    while stack:
        child = stack.pop()
        names |= {sym.get_name() for sym in child.get_symbols() if sym.is_global() and sym.is_referenced()}
        stack += child.get_children()
    return names


def bound_names(node: ast.AST) -> set[str]:
    """The top-level names ``node`` binds or changes: assignment targets, and the objects whose
    attributes or items it assigns or whose methods it calls for their effect (``data.X = ...``,
    ``np.random.seed(0)``)."""
    names: set[str] = set()

    def root(expr: ast.AST) -> str | None:
        while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
            expr = expr.func if isinstance(expr, ast.Call) else expr.value
        return expr.id if isinstance(expr, ast.Name) else None

    def visit(n: ast.AST) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            return
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in n.names)
            return
        if isinstance(n, _SCOPES):
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.Attribute, ast.Subscript)) and isinstance(n.ctx, (ast.Store, ast.Del)):
            if (name := root(n)) is not None:
                names.add(name)
        elif isinstance(n, ast.Expr) and isinstance(n.value, ast.Call) and isinstance(n.value.func, ast.Attribute):
            # a method called for its effect may change its object: params.update(...), np.random.seed(0)
            if (name := root(n.value.func)) is not None:
                names.add(name)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            names.update(n.names)
        for child in ast.iter_child_nodes(n):
            visit(child)

    visit(node)
    return names


@dataclass
class _Statement:
    cell: int
    first_line: int  # 1-based, decorators included
    last_line: int
    node: ast.stmt
    keep: bool


def needed_code(cells: Iterable[ProbeCell], roots: Iterable[str]) -> list[str] | None:
    """The cells' code reduced to what the probes can need (see the module docstring).

    ``roots`` are the names the probes use (the functions they call, the names their setup code
    reads). Returns the reduced cells (cells left empty are dropped), or None when a cell does not
    parse as Python (then only the whole notebook says what happens).
    """
    cells = list(cells)
    statements: list[_Statement] = []
    needed = set(roots)
    for index, cell in enumerate(cells):
        try:
            tree = ast.parse(cell.source)
        except (SyntaxError, ValueError):
            return None
        for node in tree.body:
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            keep = cell.solution or isinstance(node, _DEFINITIONS) or _star_import(node)
            statements.append(_Statement(index, first, node.end_lineno or node.lineno, node, keep))
            if keep:
                needed |= loaded_names(node)
    changed = True
    while changed:  # grow the slice until no dropped statement binds a needed name
        changed = False
        for st in statements:
            if not st.keep and bound_names(st.node) & needed:
                st.keep = changed = True
                needed |= loaded_names(st.node)
    return _assemble(cells, statements)


def _star_import(node: ast.stmt) -> bool:
    """``from m import *``: which names it binds is unknown here, so it is always kept."""
    return isinstance(node, ast.ImportFrom) and any(alias.name == "*" for alias in node.names)


def _assemble(cells: list[ProbeCell], statements: list[_Statement]) -> list[str]:
    """The kept statements' own lines, cell by cell (statements sharing a line keep that line whole)."""
    kept_lines: dict[int, set[int]] = {}
    for st in statements:
        if st.keep:
            kept_lines.setdefault(st.cell, set()).update(range(st.first_line, st.last_line + 1))
    out = []
    for index, cell in enumerate(cells):
        if cell.solution:
            out.append(cell.source)
            continue
        lines = kept_lines.get(index)
        if not lines:
            continue
        source_lines = cell.source.splitlines()
        out.append("\n".join(source_lines[i - 1] for i in sorted(lines) if i <= len(source_lines)))
    return out
