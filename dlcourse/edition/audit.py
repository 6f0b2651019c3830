"""Check a built student edition for everything it must not contain.

:func:`audit_edition` returns one line per problem (an empty list when the edition is clean):

- instructor folders and files: ``solutions/``, ``tests/``, ``benchmarks/``, ``scripts/``, ``.ci/``,
  ``probes.py``, gradebooks, nbgrader's working folders;
- nbgrader's markers (``BEGIN SOLUTION``, ``BEGIN HIDDEN TESTS``, ...) in any file;
- the code of hidden tests: passages of consecutive lines that the release itself does not show,
  searched in every text file of the edition (passages of solution regions are listed for the
  instructor by :func:`solution_overlaps`);
- in the package: a function or class named after an exercise of an open assignment (at any depth),
  an import of a name its module no longer defines, and the instructor's tools.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

from dlcourse.course import SOURCE_DIR
from dlcourse.edition.exercises import assignment_exercises
from dlcourse.edition.package_index import PackageIndex, resolve_relative

FORBIDDEN_PATHS = ("solutions", "tests", "benchmarks", "scripts", ".ci", "submitted", "autograded", "feedback",
                   "release", "nbgrader_config.py", "gradebook.db", "dlcourse/edition", "dlcourse/cli.py",
                   "dlcourse/grading/probes.py", "dlcourse/grading/sandbox.py", "dlcourse/grading/pipeline.py")
FORBIDDEN_NAMES = ("probes.py", "gradebook.db", "conftest.py")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
           "BEGIN MARK SCHEME", "END MARK SCHEME")
#: Hidden-test and solution code is searched as passages of this many consecutive code lines with at
#: least this many characters (spaces aside): one common line is no leak, three in a row are.
PASSAGE_LINES = 4
MIN_SPECIFIC_CHARS = 100
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".json", ".yml", ".yaml", ".toml", ".cfg", ".html", ""}
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
_SOLUTION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


def audit_edition(edition: str | Path, course_dir: str | Path, open_assignments: list[str]) -> list[str]:
    """Everything wrong with the edition at ``edition`` (see the module docstring); [] when clean."""
    root = Path(edition)
    course = Path(course_dir)
    problems: list[str] = []
    for relative in FORBIDDEN_PATHS:
        if (root / relative).exists():
            problems.append(f"{relative} must not be in the student edition")
    files = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts]
    for path in files:
        if path.name in FORBIDDEN_NAMES:
            problems.append(f"{path.relative_to(root)} must not be in the student edition")
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in files
             if p.suffix in TEXT_SUFFIXES and p.stat().st_size < 8 * 2**20}
    for path, text in texts.items():
        for marker in MARKERS:
            if marker in text:
                problems.append(f"{path.relative_to(root)} holds nbgrader's marker {marker!r}")
    problems += [f"{where} holds {assignment}'s hidden-test code (from {first!r})"
                 for where, assignment, kind, first in _passages_found(root, course, texts, open_assignments)
                 if kind == "hidden test"]
    problems += _package_problems(root / "dlcourse", course, open_assignments)
    if (root / "dlcourse").is_dir():
        problems += _notebook_import_problems(root)
    return problems


def _notebook_import_problems(root: Path) -> list[str]:
    """Every ``dlcourse`` name a lecture or release imports must exist in the edition's package."""
    from dlcourse.edition.exercises import python_source

    index = PackageIndex(root / "dlcourse")
    problems = []
    for notebook in sorted([*root.glob("lectures/*.ipynb"), *root.glob("assignments/*/*.ipynb")]):
        where = notebook.relative_to(root)
        aliases: dict[str, str] = {}
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(python_source(cell.source))
            except SyntaxError:
                continue  # a cell that is not Python (or a student's unfinished line): nothing to check
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("dlcourse"):
                    for alias in node.names:
                        full = f"{node.module}.{alias.name}"
                        if full in index.modules:
                            aliases[alias.asname or alias.name] = full
                        elif node.module not in index.modules:
                            problems.append(f"{where} imports {node.module}, which the edition does not have")
                        elif index.resolve(node.module, alias.name) is None \
                                and alias.name not in _lazy_names(index, node.module):
                            problems.append(f"{where} imports {alias.name} from {node.module}, which the edition "
                                            "withholds or lacks")
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if alias.name.startswith("dlcourse"):
                            if alias.name not in index.modules:
                                problems.append(f"{where} imports {alias.name}, which the edition does not have")
                            elif alias.asname:
                                aliases[alias.asname] = alias.name
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
                    module = aliases[node.value.id]
                    if f"{module}.{node.attr}" not in index.modules and index.resolve(module, node.attr) is None \
                            and node.attr not in _lazy_names(index, module):
                        problems.append(f"{where} uses {module}.{node.attr}, which the edition withholds or lacks")
    return sorted(set(problems))


def solution_overlaps(edition: str | Path, course_dir: str | Path, open_assignments: list[str]) -> list[str]:
    """Where the edition shows code of an open assignment's solution regions, for the instructor to review.

    Not an error: lectures teach the techniques that exercises ask for, and a later assignment's release
    may give an earlier one's answer as a helper (then publish it after that deadline). Each line names
    the file, the assignment and the first line of the passage.
    """
    root = Path(edition)
    files = [p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts]
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in files
             if p.suffix in TEXT_SUFFIXES and p.stat().st_size < 8 * 2**20}
    return [f"{where} shows code of {assignment}'s solution (from {first!r})"
            for where, assignment, kind, first in _passages_found(root, Path(course_dir), texts, open_assignments)
            if kind == "solution"]


def _code_lines(text: str) -> list[str]:
    """Stripped lines of code: no blank lines, no comments, no nbgrader markers."""
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def instructor_passages(course_dir: Path, assignment: str) -> dict[str, str]:
    """Passages of ``assignment``'s hidden tests and solution regions that its release does not show.

    A passage is a run of :data:`PASSAGE_LINES` consecutive code lines of one region (or the whole
    region when it is shorter) holding at least :data:`MIN_SPECIFIC_CHARS` characters, so one
    common line (``xb, yb = xb.to(device), yb.to(device)``) never counts as a leak by itself.

    Returns:
        passage (lines joined by newlines) -> "hidden test" or "solution".
    """
    source = course_dir / SOURCE_DIR / assignment
    release = course_dir / "assignments" / assignment
    shown = "\n".join("\n".join(_code_lines(cell.source)) for notebook in release.glob("*.ipynb")
                      for cell in nbformat.read(str(notebook), as_version=4).cells)
    found: dict[str, str] = {}
    for notebook in source.glob("*.ipynb"):
        for cell in nbformat.read(str(notebook), as_version=4).cells:
            for kind, pattern in (("hidden test", _HIDDEN), ("solution", _SOLUTION)):
                for block in pattern.findall(cell.source):
                    lines = _code_lines(block)
                    size = min(PASSAGE_LINES, len(lines))
                    for i in range(len(lines) - size + 1):
                        passage = "\n".join(lines[i:i + size])
                        if len(passage.replace(" ", "")) >= MIN_SPECIFIC_CHARS and passage not in shown:
                            found.setdefault(passage, kind)
    return found


def _passages_found(root: Path, course: Path, texts: dict[Path, str], open_assignments: list[str]
                    ) -> list[tuple[str, str, str, str]]:
    """(file, assignment, kind, first line) for every instructor passage of an open assignment found."""
    normalized = {path: _normalized(path, text) for path, text in texts.items()}
    found = set()
    for assignment in open_assignments:
        for passage, kind in instructor_passages(course, assignment).items():
            for path, text in normalized.items():
                if passage in text:
                    found.add((str(path.relative_to(root)), assignment, kind, passage.splitlines()[0][:60]))
    return sorted(found)


def _normalized(path: Path, text: str) -> str:
    if path.suffix == ".ipynb":
        try:
            cells = nbformat.reads(text, as_version=4).cells
        except Exception:  # not a notebook after all: searched as text
            return "\n".join(_code_lines(text))
        return "\n\n".join("\n".join(_code_lines(c.source)) for c in cells)
    return "\n".join(_code_lines(text))


def _package_problems(package: Path, course: Path, open_assignments: list[str]) -> list[str]:
    if not package.is_dir():
        return ["dlcourse/ (the course package) is missing"]
    problems = []
    exercises: dict[str, str] = {}
    for assignment in open_assignments:
        for name in assignment_exercises(course, assignment):
            exercises.setdefault(name, assignment)
    index = PackageIndex(package)
    for module in index.modules.values():
        where = module.path.relative_to(package.parent)
        for node in ast.walk(module.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in exercises:
                problems.append(f"{where}:{node.lineno} defines {node.name!r}, an exercise of the open "
                                f"assignment {exercises[node.name]}")
            if isinstance(node, ast.ImportFrom):
                source = resolve_relative(module, node.level, node.module)
                if not source.startswith("dlcourse"):
                    continue
                for alias in node.names:
                    if alias.name == "*" or f"{source}.{alias.name}" in index.modules:
                        continue
                    if source not in index.modules:
                        problems.append(f"{where}:{node.lineno} imports from {source}, which the edition lacks")
                    elif index.resolve(source, alias.name) is None and alias.name not in _lazy_names(index, source):
                        problems.append(f"{where}:{node.lineno} imports {alias.name} from {source}, "
                                        "which the edition does not define")
    return problems


def _lazy_names(index: PackageIndex, module_name: str) -> set[str]:
    """Names a package provides through a module-level ``__getattr__`` table (strings in its dict literals)."""
    module = index.modules[module_name]
    if "__getattr__" not in module.definitions:
        return set()
    return {node.value for node in ast.walk(module.tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier()}
