"""What the package defines and what each definition uses, read from its source (nothing is imported).

The student edition withholds the references of open assignments. A reference is rarely one
function: ``Adam`` calls its math core ``_single_tensor_adam``, which the textbook ``adam_update``
calls too, and ``FullyConnectedNet`` is built from the layers a student writes. So a name is
withheld together with

- the private helpers of its own module that it uses (its math core), and
- every definition, anywhere in the package, that uses something withheld,

until nothing changes. :class:`PackageIndex` holds, per module, its top-level definitions
(functions, classes and assignments) and the definitions each of them refers to, with imports
resolved (``from .layers import affine_forward``, ``from . import layers as L; L.relu_forward``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

DefId = tuple[str, str]  # (dotted module, top-level name)


@dataclass
class Definition:
    """One top-level definition: a function, a class or the targets of one assignment."""

    module: str
    name: str
    kind: str  # "function", "class" or "assignment"
    node: ast.stmt
    uses: set[DefId] = field(default_factory=set)

    @property
    def id(self) -> DefId:
        return (self.module, self.name)

    @property
    def private(self) -> bool:
        return self.name.startswith("_")


@dataclass
class Module:
    """A parsed module: its definitions and how its imported names resolve."""

    name: str
    path: Path
    source: str
    tree: ast.Module
    definitions: dict[str, Definition] = field(default_factory=dict)
    imported: dict[str, DefId] = field(default_factory=dict)  # local name -> (module, name)
    module_aliases: dict[str, str] = field(default_factory=dict)  # local name -> dotted module


def module_name(package_root: Path, path: Path) -> str:
    """``dlcourse/numpy_ref/layers.py`` -> ``dlcourse.numpy_ref.layers`` (``__init__`` -> the package)."""
    parts = list(path.relative_to(package_root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve_relative(module: Module, level: int, target: str | None) -> str:
    """The dotted module a ``from <level dots><target> import ...`` in ``module`` names."""
    package = module.name if module.path.name == "__init__.py" else module.name.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    if level == 0:
        return target or ""
    return f"{package}.{target}" if target else package


def _assigned_names(node: ast.stmt) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names: list[str] = []
    for target in targets:
        for sub in ast.walk(target):
            if isinstance(sub, ast.Name):
                names.append(sub.id)
    return names


class PackageIndex:
    """Every module of a package directory, parsed, with the references between definitions."""

    def __init__(self, package_dir: str | Path):
        self.package_dir = Path(package_dir).resolve()
        self.modules: dict[str, Module] = {}
        for path in sorted(self.package_dir.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            name = module_name(self.package_dir, path)
            source = path.read_text(encoding="utf-8")
            self.modules[name] = Module(name, path, source, ast.parse(source, filename=str(path)))
        for module in self.modules.values():
            self._read_top_level(module)
        for module in self.modules.values():
            for definition in module.definitions.values():
                definition.uses = self._uses(module, definition.node) - {definition.id}

    # -- reading -------------------------------------------------------------------------------
    def _read_top_level(self, module: Module) -> None:
        for node in module.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                module.definitions[node.name] = Definition(module.name, node.name, "function", node)
            elif isinstance(node, ast.ClassDef):
                module.definitions[node.name] = Definition(module.name, node.name, "class", node)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                for name in _assigned_names(node):
                    if name != "__all__":
                        module.definitions[name] = Definition(module.name, name, "assignment", node)
            elif isinstance(node, ast.ImportFrom):
                source = resolve_relative(module, node.level, node.module)
                for alias in node.names:
                    local = alias.asname or alias.name
                    if f"{source}.{alias.name}" in self.modules:
                        module.module_aliases[local] = f"{source}.{alias.name}"
                    elif source in self.modules:
                        module.imported[local] = (source, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in self.modules:
                        module.module_aliases[alias.asname or alias.name] = alias.name

    def _uses(self, module: Module, node: ast.AST) -> set[DefId]:
        found: set[DefId] = set()
        for sub in _walk_code(node):
            if isinstance(sub, ast.Name):
                target = self.resolve(module.name, sub.id)
                if target is not None:
                    found.add(target)
            elif isinstance(sub, ast.Attribute):
                dotted = _dotted(sub)
                if dotted is None:
                    continue
                head, *rest = dotted
                prefix = module.module_aliases.get(head)
                if prefix is None and head in self.modules:
                    prefix = head
                while prefix is not None and rest:
                    candidate = f"{prefix}.{rest[0]}"
                    if candidate in self.modules:
                        prefix, rest = candidate, rest[1:]
                        continue
                    target = self.resolve(prefix, rest[0])
                    if target is not None:
                        found.add(target)
                    break
            elif isinstance(sub, (ast.ImportFrom, ast.Import)) and sub is not node:
                # a function-level import: its names count as used by the enclosing definition
                if isinstance(sub, ast.ImportFrom):
                    source = resolve_relative(module, sub.level, sub.module)
                    for alias in sub.names:
                        target = self.resolve(source, alias.name)
                        if target is not None:
                            found.add(target)
        return found

    def resolve(self, module_name: str, name: str, _seen: frozenset[DefId] = frozenset()) -> DefId | None:
        """The definition ``name`` means in ``module_name`` (imports and re-exports followed)."""
        module = self.modules.get(module_name)
        if module is None or (module_name, name) in _seen:
            return None
        if name in module.definitions:
            return (module_name, name)
        if name in module.imported:
            source, original = module.imported[name]
            return self.resolve(source, original, _seen | {(module_name, name)})
        return None

    # -- queries -------------------------------------------------------------------------------
    def definitions(self) -> Iterable[Definition]:
        for module in self.modules.values():
            yield from module.definitions.values()

    def definition(self, def_id: DefId) -> Definition:
        return self.modules[def_id[0]].definitions[def_id[1]]

    def named(self, names: Iterable[str], *, kinds: tuple[str, ...] = ("function", "class")) -> set[DefId]:
        """Every function or class defined under one of ``names``, in any module."""
        wanted = set(names)
        return {d.id for d in self.definitions() if d.name in wanted and d.kind in kinds}

    def withheld_closure(self, seeds: Iterable[DefId]) -> set[DefId]:
        """``seeds``, their cores, and everything that uses any of them.

        A core is a private helper of a seed's own module that the seed uses (``Adam`` ->
        ``_single_tensor_adam``), or that a core uses. A definition that uses a seed or a core is
        withheld with it (``adam_update`` calls ``_single_tensor_adam``), and so on until nothing
        changes. Private helpers that only withheld definitions used go too (see
        :meth:`unused_private`); those of the rest stay.
        """
        seeds = set(seeds)
        cores = set(seeds)
        frontier = list(seeds)
        while frontier:
            current = self.definition(frontier.pop())
            for used in current.uses:
                if used not in cores and used[0] == current.module and used[1].startswith("_"):
                    cores.add(used)
                    frontier.append(used)
        withheld = set(cores)
        changed = True
        while changed:
            changed = False
            for definition in self.definitions():
                if definition.id not in withheld and definition.uses & withheld:
                    withheld.add(definition.id)
                    changed = True
        return withheld

    def unused_private(self, removed: set[DefId]) -> set[DefId]:
        """``removed`` plus what served only it: private definitions nothing else uses, and the classes
        of a module that loses definitions (cache and result types) that only removed code used."""
        removed = set(removed)
        losing = {module for module, _ in removed}
        while True:
            kept = [d for d in self.definitions() if d.id not in removed]
            used = set().union(*(d.uses for d in kept))
            used_by_removed = set().union(*(self.definition(r).uses for r in removed)) if removed else set()
            dead = {d.id for d in kept if d.id not in used and not _dunder(d.name) and (
                d.private or (d.kind == "class" and d.module in losing and d.id in used_by_removed))}
            if not dead:
                return removed
            removed |= dead


def _dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _dotted(node: ast.Attribute) -> list[str] | None:
    parts: list[str] = []
    current: ast.AST = node
    while isinstance(current, ast.Attribute):
        parts.append(current.attr)
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    parts.append(current.id)
    return parts[::-1]


def _walk_code(node: ast.AST):
    """``ast.walk`` without annotations: a type named in an annotation is not a use (PEP 563 strings)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for name, value in ast.iter_fields(current):
            if name in ("annotation", "returns"):
                continue
            if isinstance(value, ast.AST):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.AST))
