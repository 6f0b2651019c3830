"""Remove withheld definitions from a copy of the package's source, keeping everything else as written.

Only the lines of what is withheld change: a removed function or class (with its decorators), the
names it leaves in ``from ... import`` statements and ``__all__`` lists, and a module whose every
definition is withheld (its file goes, and the imports of it with it). A comment under each changed
module's docstring tells the student what was withheld there and why.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse.edition.package_index import DefId, PackageIndex, resolve_relative

_BLANK_RUNS = re.compile(r"\n{4,}")


@dataclass
class StripReport:
    """What :func:`strip_package` removed: definitions per module, and the modules deleted whole."""

    removed: dict[str, list[str]] = field(default_factory=dict)
    deleted_modules: list[str] = field(default_factory=list)

    def count(self) -> int:
        return sum(len(v) for v in self.removed.values())


def strip_package(package_dir: str | Path, withheld: set[DefId], *,
                  why: Mapping[str, str] | None = None) -> StripReport:
    """Remove ``withheld`` (and the private helpers only they used) from the package at ``package_dir``.

    Args:
        package_dir: a *copy* of the package (modified in place).
        withheld: (module, name) pairs, as :meth:`PackageIndex.withheld_closure` returns them.
        why: public name -> the assignment it belongs to, for the note in each changed module.

    Returns:
        A :class:`StripReport`.
    """
    index = PackageIndex(package_dir)
    remove = index.unused_private({d for d in withheld if d[0] in index.modules
                                   and d[1] in index.modules[d[0]].definitions})
    report = StripReport()
    doomed: set[str] = set()
    for name, module in index.modules.items():
        if module.path.name == "__init__.py" or not module.definitions:
            continue
        if all((name, d) in remove for d in module.definitions):
            doomed.add(name)
    for name, module in index.modules.items():
        gone = sorted(d for d in module.definitions if (name, d) in remove)
        if gone:
            report.removed[name] = gone
        if name in doomed:
            module.path.unlink()
            report.deleted_modules.append(name)
            continue
        source = _rewrite(index, module, remove, doomed, why or {})
        if source != module.source:
            module.path.write_text(source, encoding="utf-8")
    return report


def _rewrite(index: PackageIndex, module, remove: set[DefId], doomed: set[str], why: Mapping[str, str]) -> str:
    lines = module.source.splitlines(keepends=True)
    edits: list[tuple[int, int, str]] = []  # (first line, last line) 1-based inclusive -> replacement
    removed_public: list[str] = []
    for node in module.tree.body:
        names = _names_of(node)
        if names and all((module.name, n) in remove for n in names):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            edits.append((first, node.end_lineno, ""))
            removed_public += [n for n in names if not n.startswith("_")]
    removed_ranges = [(first, last) for first, last, _ in edits]

    def inside_removed(node: ast.AST) -> bool:
        return any(first <= node.lineno <= last for first, last in removed_ranges)

    for node in ast.walk(module.tree):
        if inside_removed(node) if isinstance(node, ast.stmt) else True:
            continue
        if isinstance(node, ast.ImportFrom):
            kept = [a for a in node.names if not _import_gone(index, module, node, a, remove, doomed)]
            if len(kept) != len(node.names):
                removed_public += [a.asname or a.name for a in node.names
                                   if a not in kept and not (a.asname or a.name).startswith("_")
                                   and f"{resolve_relative(module, node.level, node.module)}.{a.name}" not in index.modules]
                text = "" if not kept else _indent(node, module) + ast.unparse(
                    ast.ImportFrom(module=node.module, names=kept, level=node.level)) + "\n"
                edits.append((node.lineno, node.end_lineno, text))
        elif isinstance(node, (ast.Assign, ast.AugAssign)) and _is_all(node):
            value = node.value
            if isinstance(value, (ast.List, ast.Tuple)):
                kept_elts = [e for e in value.elts if not (isinstance(e, ast.Constant) and (
                    (module.name, e.value) in remove or f"{_package_of(module)}.{e.value}" in doomed
                    or _reexport_gone(index, module, e.value, remove, doomed)))]
                if len(kept_elts) != len(value.elts):
                    new_value = type(value)(elts=kept_elts, ctx=ast.Load())
                    target = "__all__ += " if isinstance(node, ast.AugAssign) else "__all__ = "
                    edits.append((node.lineno, node.end_lineno,
                                  _indent(node, module) + target + ast.unparse(new_value) + "\n"))
    if not edits:
        return module.source
    for first, last, text in sorted(edits, reverse=True):
        lines[first - 1:last] = [text] if text else []
    source = _BLANK_RUNS.sub("\n\n\n", "".join(lines))
    if removed_public:
        source = _add_note(source, sorted(set(removed_public)), why)
    return source


def _names_of(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        return [n for n in names if n != "__all__"]
    return []


def _package_of(module) -> str:
    return module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]


def _import_gone(index: PackageIndex, module, node: ast.ImportFrom, alias: ast.alias,
                 remove: set[DefId], doomed: set[str]) -> bool:
    source = resolve_relative(module, node.level, node.module)
    if f"{source}.{alias.name}" in index.modules:  # `from pkg import submodule`
        return f"{source}.{alias.name}" in doomed
    if source in doomed:
        return True
    target = index.resolve(source, alias.name)
    return target is not None and target in remove


def _reexport_gone(index: PackageIndex, module, name: str, remove: set[DefId], doomed: set[str]) -> bool:
    target = index.resolve(module.name, name)
    if target is not None:
        return target in remove
    alias = module.module_aliases.get(name)
    return alias is not None and alias in doomed


def _is_all(node: ast.stmt) -> bool:
    target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else getattr(node, "target", None)
    return isinstance(target, ast.Name) and target.id == "__all__"


def _indent(node: ast.stmt, module) -> str:
    line = module.source.splitlines()[node.lineno - 1]
    return line[: len(line) - len(line.lstrip())]


def _add_note(source: str, names: list[str], why: Mapping[str, str]) -> str:
    """A comment under the module docstring naming what the student edition withholds here."""
    grouped: dict[str, list[str]] = {}
    for name in names:
        grouped.setdefault(why.get(name, "an open assignment"), []).append(name)
    parts = [f"{', '.join(sorted(v))} ({k})" for k, v in sorted(grouped.items())]
    note = ("# Student edition: withheld here until the instructor releases them after the deadline:\n"
            + "".join(f"#   {p}\n" for p in parts))
    tree = ast.parse(source)
    body = tree.body
    at = body[0].end_lineno if body and isinstance(body[0], ast.Expr) and isinstance(
        getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str) else 0
    lines = source.splitlines(keepends=True)
    return "".join(lines[:at]) + ("\n" if at else "") + note + "".join(lines[at:])
