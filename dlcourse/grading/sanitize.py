"""Turn whatever a student handed in into a notebook nbgrader can grade fairly.

Submissions arrive mangled in every way a notebook editor allows: cells duplicated
or split (two cells with one grade id), grade ids renamed, nbgrader metadata
stripped, test cells deleted, the notebook renamed, extra notebooks and files
beside it. Left alone, nbgrader crashes on some of these and silently grades
others as zero. :func:`stage_submission` copies a submission into a staging
folder that nbgrader grades instead of ``submitted/``:

- only the assignment's notebooks are copied (a renamed notebook is matched by its
  grade ids); extra notebooks and every other file are left behind, so a
  ``numpy.py`` beside the notebook never reaches the grading kernel;
- in each notebook, a cell keeps its nbgrader metadata only when its grade id is
  one of the assignment's and it is the last cell carrying that id; the metadata
  is replaced by the release's own (points and flags cannot be edited);
- test and other locked cells that are missing are put back where the release has
  them (nbgrader then restores their source, hidden tests included, from the gradebook).

Student code is never dropped: a cell that loses its metadata still runs as plain code.
Every repair is reported in words, for the grading report.

The submission folder is untrusted input: only regular files are read, never through a link
(a notebook that is a symbolic link, a hard link to another file, a FIFO or a device is
refused with the reason), and only up to a size limit. The staged copy carries no outputs and
nothing active: markdown is neutralised for the HTML views (see
:func:`dlcourse.grading.safe.sanitize_notebook`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dlcourse.grading.safe import sanitize_notebook

MAX_NOTEBOOK_BYTES = 64 * 2**20
MAX_TIMESTAMP_BYTES = 1024
#: A student id: a letter or digit, then letters, digits and ``._-@+`` (nbgrader globs ``--student``).
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")


def check_student_id(name: str) -> str | None:
    """Why ``name`` cannot be a student id (for the report), or None when it can."""
    if STUDENT_ID.fullmatch(name):
        return None
    return ("is not a valid student id (1 to 64 letters, digits and . _ - @ +, starting with a letter or a digit; "
            "ids are handed to nbgrader, which reads them as patterns)")


def read_regular_file(path: Path, *, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file with one link and at most ``limit`` bytes.

    Never follows a symbolic link (``O_NOFOLLOW``), never blocks on a FIFO (``O_NONBLOCK``),
    and checks the opened file itself, so a swap between the check and the read changes nothing.

    Raises:
        OSError: with a reason a student can act on.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(path):
            raise OSError(f"{path.name} is a symbolic link (links are never followed)") from None
        raise OSError(f"{path.name} cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file (a FIFO, device, socket or folder)")
        if info.st_nlink != 1:
            raise OSError(f"{path.name} is a hard link to another file ({info.st_nlink} names)")
        if info.st_size > limit:
            raise OSError(f"{path.name} is {info.st_size / 2**20:.1f} MiB, more than the {limit / 2**20:.0f} MiB allowed")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:
                raise OSError(f"{path.name} is more than the {limit / 2**20:.0f} MiB allowed")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@dataclass
class StagedSubmission:
    """What :func:`stage_submission` did: the fatal problem if any, and the repairs made."""

    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)  # names of the notebooks staged


def _nbgrader_meta(cell) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else None


def _grade_id(cell) -> str | None:
    meta = _nbgrader_meta(cell)
    gid = meta.get("grade_id") if meta else None
    return gid if isinstance(gid, str) and gid else None


def _is_restorable(meta: dict) -> bool:
    """Cells the instructor owns: tests and locked cells (their source comes from the gradebook)."""
    return bool(meta.get("grade") and not meta.get("solution")) or bool(meta.get("locked") and not meta.get("solution"))


def read_notebook_text(path: Path) -> tuple[dict | None, str | None]:
    """Parse a submitted notebook; return ``(notebook, None)`` or ``(None, reason)``."""
    name = path.name
    try:
        text = read_regular_file(path, limit=MAX_NOTEBOOK_BYTES).decode("utf-8")
    except OSError as exc:
        return None, str(exc)
    except UnicodeDecodeError:
        return None, f"{name} is not a text file (not UTF-8), so it cannot be a notebook"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                      "the file is truncated or corrupted")
    except RecursionError:
        return None, f"{name} nests its JSON too deeply to be a notebook"
    if not isinstance(raw, dict) or not isinstance(raw.get("cells"), list):
        return None, f"{name} is JSON but not a notebook (no list of cells)"
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # noqa: BLE001 - any invalid structure is a reason, not a crash
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return None, f"{name} is not a valid notebook ({type(exc).__name__}: {first})"
    return nb, None


def repair_notebook(nb, release_nb) -> list[str]:
    """Repair ``nb`` in place against ``release_nb``; return what was changed, in words.

    1. Metadata with a grade id the release does not have, or on a cell of the wrong type, is
       dropped; of several cells with one grade id (duplicated or split) the last keeps it.
    2. A cell without metadata that is a release cell (same cell id, or for instructor cells the
       same source) and whose grade id is absent gets its metadata back.
    3. Every kept or restored cell carries the release's metadata (points cannot be edited).
    4. Missing test and locked cells are re-inserted after the nearest earlier release cell
       that the notebook still has.
    """
    unknown: list[str] = []
    duplicates: list[str] = []
    relabelled: list[str] = []
    restored_tests: list[str] = []
    missing_answers: list[str] = []
    release_cells = {gid: cell for cell in release_nb.cells if (gid := _grade_id(cell))}

    last_index: dict[str, int] = {}
    for i, cell in enumerate(nb.cells):
        if _nbgrader_meta(cell) is None:
            cell.get("metadata", {}).pop("nbgrader", None)
            continue
        gid = _grade_id(cell)
        if gid not in release_cells or cell.cell_type != release_cells[gid].cell_type:
            del cell.metadata["nbgrader"]
            if gid:
                unknown.append(gid)
            continue
        last_index[gid] = i
    for i, cell in enumerate(nb.cells):
        gid = _grade_id(cell)
        if gid is not None and last_index.get(gid) != i:
            del cell.metadata["nbgrader"]
            duplicates.append(gid)

    by_id = {cell.get("id"): gid for gid, cell in release_cells.items() if cell.get("id")}
    by_source = {cell.source: gid for gid, cell in release_cells.items()
                 if _is_restorable(cell.metadata["nbgrader"]) and cell.source.strip()}
    for i, cell in enumerate(nb.cells):
        if _grade_id(cell) is not None:
            continue
        gid = by_id.get(cell.get("id")) or by_source.get(cell.get("source"))
        if gid and gid not in last_index and cell.cell_type == release_cells[gid].cell_type:
            cell.metadata["nbgrader"] = {"grade_id": gid}
            last_index[gid] = i
            relabelled.append(gid)

    for gid, i in last_index.items():
        nb.cells[i].metadata["nbgrader"] = copy.deepcopy(release_cells[gid].metadata["nbgrader"])

    release_order = [cell.get("id") for cell in release_nb.cells]
    release_gid_at = {cell.get("id"): _grade_id(cell) for cell in release_nb.cells}
    for pos, rcell in enumerate(release_nb.cells):
        gid = _grade_id(rcell)
        if gid is None or gid in last_index:
            continue
        meta = rcell.metadata["nbgrader"]
        if not _is_restorable(meta):
            missing_answers.append(gid)
            continue
        insert_at = 0
        for prev_id in reversed(release_order[:pos]):
            prev_gid = release_gid_at.get(prev_id)
            found = next((i for i, c in enumerate(nb.cells)
                          if c.get("id") == prev_id or (prev_gid and _grade_id(c) == prev_gid)), None)
            if found is not None:
                insert_at = found + 1
                break
        restored = copy.deepcopy(rcell)
        restored["id"] = uuid.uuid4().hex[:8]
        nb.cells.insert(insert_at, restored)
        last_index = {g: (j + 1 if j >= insert_at else j) for g, j in last_index.items()}
        last_index[gid] = insert_at
        if meta.get("grade"):
            restored_tests.append(gid)

    seen_ids: set[str] = set()
    for cell in nb.cells:
        cid = cell.get("id")
        if not cid or cid in seen_ids:
            cell["id"] = uuid.uuid4().hex[:8]
        seen_ids.add(cell["id"])
    return [note for note in (
        _summary("cell(s) with a grade id the assignment does not have kept as ungraded code", unknown),
        _summary("duplicated or split cell(s) kept as ungraded code, the last copy graded", duplicates),
        _summary("cell(s) had lost their nbgrader metadata and got it back", relabelled),
        _summary("missing test cell(s) restored", restored_tests),
        _summary("answer cell(s) missing", missing_answers),
    ) if note]


def _summary(what: str, ids: list[str], shown: int = 3) -> str:
    """``"3 <what>: 'a', 'b', 'c'"``, or ``""`` when ``ids`` is empty."""
    if not ids:
        return ""
    unique = list(dict.fromkeys(ids))
    listed = ", ".join(repr(i) for i in unique[:shown]) + (", ..." if len(unique) > shown else "")
    return f"{len(unique)} {what}: {listed}"


def _match_notebooks(expected: dict[str, set[str]], found: list[Path]) -> tuple[dict[str, Path], list[str]]:
    """Map each expected notebook name to a submitted file: same name, else the file sharing most grade ids."""
    notes: list[str] = []
    chosen: dict[str, Path] = {}
    by_name = {p.name: p for p in found}
    for name in expected:
        if name in by_name:
            chosen[name] = by_name[name]
    unmatched = [p for p in found if p not in chosen.values()]
    for name, ids in expected.items():
        if name in chosen or not unmatched:
            continue
        scored = []
        for path in unmatched:
            nb, _ = read_notebook_text(path)
            overlap = len(ids & {g for c in nb.cells if (g := _grade_id(c))}) if nb is not None else 0
            scored.append((overlap, path))
        overlap, best = max(scored, key=lambda t: t[0])
        if overlap == 0 and len(expected) == 1 and len(unmatched) == 1:
            best, overlap = unmatched[0], 1  # one notebook, metadata stripped: it is the answer
        if overlap > 0:
            chosen[name] = best
            unmatched.remove(best)
            notes.append(f"graded {best.name} as {name} (renamed notebook)")
    for path in unmatched:
        notes.append(f"ignored extra notebook {path.name}")
    return chosen, notes


def stage_submission(submitted: Path, staged: Path, release_dir: Path) -> StagedSubmission:
    """Copy the gradeable part of the submission folder ``submitted`` into ``staged``, repaired."""
    from nbgrader.utils import parse_utc

    result = StagedSubmission()
    if staged.exists():
        shutil.rmtree(staged)
    staged.mkdir(parents=True)
    releases = {p.name: nbformat.read(p, as_version=4) for p in sorted(release_dir.glob("*.ipynb"))}
    expected = {name: {g for c in nb.cells if (g := _grade_id(c))} for name, nb in releases.items()}
    if submitted.is_symlink() or not submitted.is_dir():
        result.problem = "the submission folder is a link or not a folder (links are never followed)"
        return result
    entries = sorted(os.scandir(submitted), key=lambda e: e.name)
    special = [e.name for e in entries if e.name.endswith(".ipynb") and not _is_plain_file(e)]
    if special:
        reasons = []
        for name in special[:3]:
            try:
                read_regular_file(submitted / name, limit=MAX_NOTEBOOK_BYTES)
            except OSError as exc:
                reasons.append(str(exc))
        result.problem = "refused: " + "; ".join(reasons or special)
        return result
    found = [Path(e.path) for e in entries if e.name.endswith(".ipynb")]
    chosen, notes = _match_notebooks(expected, found)
    result.notes.extend(notes)
    if not chosen:
        listing = ", ".join(p.name for p in found) or "no notebooks"
        result.problem = f"no {', '.join(expected)} in the submission (found: {listing})"
        return result
    for name, path in chosen.items():
        nb, reason = read_notebook_text(path)
        if nb is None:
            result.problem = reason
            return result
        result.notes.extend(repair_notebook(nb, releases[name]))
        for cell in nb.cells:  # the grading run makes its own outputs; forged ones are never shown
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        sanitize_notebook(nb)
        nbformat.write(nb, staged / name)
        result.notebooks.append(name)
    for name in expected:
        if name not in chosen:
            result.notes.append(f"{name} is missing: its tests score 0")
    others = [e.name for e in entries if not e.name.endswith(".ipynb") and e.name != "timestamp.txt"]
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        result.notes.append(f"ignored {len(others)} file(s) beside the notebook: {shown}")
    stamp = submitted / "timestamp.txt"
    if os.path.lexists(stamp):
        try:
            text = read_regular_file(stamp, limit=MAX_TIMESTAMP_BYTES).decode("utf-8").strip()
            parse_utc(text)
            (staged / "timestamp.txt").write_text(text + "\n")
        except Exception:  # noqa: BLE001 - links, FIFOs, garbage: the timestamp is ignored, not followed
            result.notes.append("ignored an unreadable timestamp.txt")
    return result


def _is_plain_file(entry: os.DirEntry) -> bool:
    """A regular file that is no link (lstat): the only kind of entry a submission's notebook may be."""
    return not entry.is_symlink() and entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_nlink == 1
