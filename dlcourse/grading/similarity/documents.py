"""The code to compare: what each student wrote in the solution cells, and the instructor's code.

A :class:`Document` is one author's code for one assignment, as exercise sections in release order.

- A student's document holds, for every solution cell of their (staged) notebook, the lines they
  wrote: the release's own lines of that cell (signature, docstring, ``# YOUR CODE HERE``) are taken
  out by a line diff, and so are import statements. Tests and given cells are never read.
- The instructor's documents are the solution regions of ``solutions/<id>/<id>.ipynb`` (one
  document) and, for every module of the reference packages that defines one of the assignment's
  exercises, the source of those definitions and of their private cores (one document per module,
  named by its dotted name).
"""

from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dlcourse.course import SOURCE_DIR

#: At most this much student code is compared (a notebook may be 64 MiB; honest solutions are ~10 KB).
MAX_CODE_CHARS = 200_000
_IMPORT = re.compile(r"^\s*(import\s+\S|from\s+\S+\s+import\s)")
_MARKER_LINE = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*(\n|$)", re.M)
REFERENCE_PACKAGES = ("dlcourse.numpy_ref", "dlcourse.torch_ref")


@dataclass
class Document:
    """One author's code: ``owner`` is a student id or ``reference:<where>``."""

    owner: str
    sections: list[tuple[str, str]] = field(default_factory=list)  # (exercise, code)

    @property
    def text(self) -> str:
        """The sections joined, each under a ``# <exercise>`` line (what is fingerprinted and shown)."""
        return "".join(f"# {name}\n{code.rstrip()}\n\n" for name, code in self.sections if code.strip())

    def offsets(self) -> dict[str, int]:
        """Where each section's code starts in :attr:`text`."""
        found, at = {}, 0
        for name, code in self.sections:
            if code.strip():
                found[name] = at + len(f"# {name}\n")
                at += len(f"# {name}\n{code.rstrip()}\n\n")
        return found

    @property
    def is_reference(self) -> bool:
        return self.owner.startswith("reference:")


def solution_cells(nb: nbformat.NotebookNode) -> dict[str, str]:
    """grade_id -> source of every solution code cell of a notebook (the last one of a duplicated id)."""
    cells = {}
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and isinstance(meta, dict) and meta.get("solution"):
            grade_id = meta.get("grade_id")
            if isinstance(grade_id, str) and isinstance(cell.get("source"), str):
                cells[grade_id] = cell.source
    return cells


def written_lines(code: str, skeleton: str) -> str:
    """The lines of ``code`` that are not the ``skeleton`` it started from, and not imports."""
    mine, given = code.splitlines(), skeleton.splitlines()
    keep = [True] * len(mine)
    for block in difflib.SequenceMatcher(a=mine, b=given, autojunk=False).get_matching_blocks():
        for i in range(block.a, block.a + block.size):
            keep[i] = False
    return "\n".join(line for line, k in zip(mine, keep) if k and not _IMPORT.match(line))


def normalized(code: str) -> str:
    """``code`` in one canonical form: top-level functions and classes sorted by name after the other
    statements, laid out by ``ast.unparse`` (comments gone). Code that does not parse is left as it is.

    Fingerprints are k-grams of the code: in another order, short functions lose the k-grams that
    cross their boundaries, and parentheses or line breaks a reformatter adds change the token
    stream. In one canonical form neither matters.
    """
    try:
        tree = ast.parse(code)
        named = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        tree.body = [n for n in tree.body if not isinstance(n, named)] + sorted(
            (n for n in tree.body if isinstance(n, named)), key=lambda n: n.name)
        return ast.unparse(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return code


def student_document(student: str, notebooks: list[Path], release: dict[str, str]) -> Document:
    """What ``student`` wrote in the solution cells of their staged ``notebooks``.

    Args:
        release: grade_id -> the release's source of each solution cell (the skeleton).
    """
    cells: dict[str, str] = {}
    for path in notebooks:
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:  # noqa: BLE001 - a staged notebook nbformat cannot read: nothing to compare
            continue
        cells.update(solution_cells(nb))
    return document_from_cells(student, cells, release)


def document_from_cells(owner: str, cells: dict[str, str], release: dict[str, str]) -> Document:
    """A document from solution cells (grade_id -> source): what was written beyond the ``release``'s skeleton."""
    written: dict[str, str] = {}
    budget = MAX_CODE_CHARS
    for grade_id in release:
        if grade_id in cells and budget > 0:
            written[grade_id] = written_lines(normalized(cells[grade_id][:budget]), normalized(release[grade_id]))
            budget -= len(written[grade_id])
    return Document(owner, list(written.items()))


def release_skeleton(release_notebooks: list[Path]) -> tuple[dict[str, str], str]:
    """The release's solution cells (grade_id -> source) and all its code, normalized (for the boilerplate)."""
    cells: dict[str, str] = {}
    code = []
    for path in release_notebooks:
        nb = nbformat.read(str(path), as_version=4)
        cells.update(solution_cells(nb))
        code += [normalized(c.source) for c in nb.cells if c.cell_type == "code"]
    return cells, "\n\n".join(code)


def strip_markers(source: str) -> str:
    """A source cell as a student who wrote the solution would hand it in: nbgrader's markers removed."""
    return _MARKER_LINE.sub("", source)


def reference_documents(course_dir: Path, assignment: str, package_dir: Path, release: dict[str, str]
                        ) -> list[Document]:
    """The instructor's code for ``assignment``: its solution cells, and the reference modules' exercises.

    Args:
        release: grade_id -> the release's source of each solution cell (the skeleton to leave out).
    """
    from dlcourse.edition.exercises import assignment_exercises
    from dlcourse.edition.package_index import PackageIndex

    documents = []
    for path in sorted((course_dir / SOURCE_DIR / assignment).glob("*.ipynb")):
        cells = {g: strip_markers(src) for g, src in solution_cells(nbformat.read(str(path), as_version=4)).items()}
        documents.append(document_from_cells(f"reference:{SOURCE_DIR}/{assignment}/{path.name}", cells, release))
    index = PackageIndex(package_dir)
    exercises = assignment_exercises(course_dir, assignment)
    seeds = {d for d in index.named(exercises) if d[0].startswith(REFERENCE_PACKAGES)}
    cores = index.withheld_closure(seeds) & {d.id for d in index.definitions() if d.private} | seeds
    by_module: dict[str, list[str]] = {}
    for module, name in sorted(cores):
        if not module.startswith(REFERENCE_PACKAGES):
            continue
        definition = index.definition((module, name))
        segment = ast.get_source_segment(index.modules[module].source, definition.node)
        if segment:
            by_module.setdefault(module, []).append((name, normalized(segment)))
    for module, parts in by_module.items():
        documents.append(Document(f"reference:{module}", list(parts)))
    return documents
