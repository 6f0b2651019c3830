"""Sample submissions made from an assignment's source and release notebooks.

The demo and the pipeline tests need submissions that stay in step with the
assignment as instructors edit it, so they are built, not stored:

- ``complete``: the release notebook with every solution cell filled in from the source
  (the ``### BEGIN/END SOLUTION`` marker lines dropped), as a student who solved
  everything would hand it in;
- ``partial``: the same for the first half of the solution cells only;
- ``untouched``: the release notebook as students receive it;
- ``broken_json``: the complete notebook cut off half-way (an unreadable file).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
KINDS = ("complete", "partial", "untouched", "broken_json")


def solution_text(source: str) -> str:
    """A solution cell's source as the student would write it: without the marker lines."""
    return "\n".join(
        line for line in source.split("\n") if BEGIN_SOLUTION not in line and END_SOLUTION not in line
    )


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade_id") if meta.get("solution") else None


def fill_solutions(release_nb, source_nb, fraction: float = 1.0):
    """Return a copy of ``release_nb`` whose first ``fraction`` of solution cells hold the source's solution."""
    solutions = {gid: solution_text(c.source) for c in source_nb.cells if (gid := _grade_id(c))}
    filled = nbformat.from_dict(release_nb)
    ids = [gid for c in filled.cells if (gid := _grade_id(c)) in solutions]
    chosen = set(ids[: round(len(ids) * fraction)])
    for cell in filled.cells:
        gid = _grade_id(cell)
        if gid in chosen:
            cell.source = solutions[gid]
    return filled


def write_submission(kind: str, source_dir: Path, release_dir: Path, dest: Path) -> Path:
    """Write a ``kind`` submission of one assignment into ``dest`` (created or replaced)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for release_path in sorted(release_dir.glob("*.ipynb")):
        release_nb = nbformat.read(release_path, as_version=4)
        source_nb = nbformat.read(source_dir / release_path.name, as_version=4)
        target = dest / release_path.name
        if kind == "untouched":
            nb = release_nb
        else:
            nb = fill_solutions(release_nb, source_nb, 0.5 if kind == "partial" else 1.0)
        text = nbformat.writes(nb)
        if kind == "broken_json":
            text = text[: len(text) // 2]
        target.write_text(text)
    return dest
