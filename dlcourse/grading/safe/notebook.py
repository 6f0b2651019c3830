"""Notebooks rebuilt from an allow-list, so that HTML templates render nothing active."""

from __future__ import annotations

import math
import re
from collections import Counter

import nbformat
from nbformat import NotebookNode

from dlcourse.grading.safe.markdown import literal_markdown, safe_markdown
from dlcourse.grading.safe.text import as_text, console_text


TEXT_LIMIT = 100_000  # characters of one stream or text/plain output
IMAGE_LIMIT = 10_000_000  # base64 characters of one image
OUTPUTS_PER_CELL = 200
ENAME_LIMIT = 200
EVALUE_LIMIT = 5_000
TRACEBACK_LINES = 200
TRACEBACK_LINE_LIMIT = 5_000
_TRUNCATED = "\n... (output truncated)"
_IMAGE_TYPES = ("image/png", "image/jpeg")
_DATA_WORDS = {
    "text/html": "HTML", "application/javascript": "JavaScript", "text/javascript": "JavaScript",
    "image/svg+xml": "SVG", "text/markdown": "Markdown", "text/latex": "LaTeX", "application/pdf": "PDF",
    "application/vnd.jupyter.widget-view+json": "widget",
}
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # nbformat's pattern and length
_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")
_CHECKSUM = re.compile(r"[0-9a-f]{32}")
_CELL_FIELDS = {"cell_type", "id", "metadata", "source", "outputs", "execution_count", "attachments"}
_NBGRADER_FLAGS = ("grade", "solution", "locked", "task")
_NBGRADER_CELL_TYPES = ("code", "markdown", "raw")
_LABEL_CHARACTERS = re.compile(r"[^\w .+()/-]")


def _capped(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(_TRUNCATED)] + _TRUNCATED


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _execution_count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _base64(value: object) -> str | None:
    """``value`` as strict base64 (whitespace removed), or None when it is not."""
    if not isinstance(value, (str, list)):
        return None
    text = "".join(as_text(value).split())
    return text if 0 < len(text) <= IMAGE_LIMIT and len(text) % 4 == 0 and _BASE64.fullmatch(text) else None


def _label(value: str) -> str:
    """A kernel or language name: printable, short, and no characters with a meaning in HTML."""
    return _LABEL_CHARACTERS.sub("", console_text(value, limit=100))


def _nbgrader_metadata(meta: object) -> dict:
    """The nbgrader keys of ``meta`` that have the type nbgrader gives them (score and comment by GetGrades)."""
    if not isinstance(meta, dict):
        return {}
    clean: dict = {}
    for key, value in meta.items():
        if key in _NBGRADER_FLAGS and isinstance(value, bool):
            clean[key] = value
        elif key == "schema_version" and isinstance(value, int) and not isinstance(value, bool):
            clean[key] = value
        elif key in ("points", "score") and (_is_number(value) or (key == "score" and value is None)):
            clean[key] = value
        elif key == "grade_id" and isinstance(value, str):
            clean[key] = _NOT_ID.sub("_", value)  # the templates write it into attributes unescaped
        elif key == "checksum" and isinstance(value, str) and _CHECKSUM.fullmatch(value):
            clean[key] = value
        elif key == "cell_type" and value in _NBGRADER_CELL_TYPES:
            clean[key] = value
        elif key == "comment" and (value is None or isinstance(value, str)):
            clean[key] = value if value is None else safe_markdown(value)[0]  # rendered as markdown
    return clean


def _attachments(value: object) -> dict:
    """The PNG and JPEG attachments of a markdown cell whose data is strict base64."""
    if not isinstance(value, dict):
        return {}
    kept = {}
    for name, bundle in value.items():
        if isinstance(name, str) and isinstance(bundle, dict):
            images = {mime: _base64(bundle.get(mime)) for mime in _IMAGE_TYPES}
            images = {mime: data for mime, data in images.items() if data}
            if images:
                kept[name] = images
    return kept


def _image_metadata(meta: object, data: dict) -> dict:
    """Numeric width and height of each image in ``data``; the templates write them unquoted."""
    if not isinstance(meta, dict):
        return {}
    clean = {}
    for mime in _IMAGE_TYPES:
        if mime not in data:
            continue
        own = meta.get(mime) if isinstance(meta.get(mime), dict) else {}
        size = {}
        for key in ("width", "height"):
            value = own.get(key, meta.get(key))
            if _is_number(value) and value > 0:
                size[key] = value
        if size:
            clean[mime] = size
    return clean


class _Tally:
    """What sanitising removed, counted, and said in words."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self.rich: Counter[str] = Counter()

    def words(self) -> list[str]:
        said = {
            "bad images": "removed {} images that were not valid base64 or too large",
            "surplus outputs": "removed {} outputs beyond the first 200 of a cell",
            "empty outputs": "removed {} outputs left empty or of an unknown kind",
            "trimmed outputs": "trimmed {} outputs (size, metadata or fields)",
            "defused": "escaped raw HTML or removed unsafe links in {} markdown cells",
            "literal": "showed {} markdown cells as literal text",
            "raw": "turned {} raw or unknown cells into literal text",
            "attachments": "removed attachments other than PNG or JPEG images from {} cells",
            "cell metadata": "removed metadata other than nbgrader's from {} cells",
            "cell fields": "removed unknown fields from {} cells",
            "ids": "replaced {} invalid or duplicate cell ids",
            "notebook metadata": "removed {} notebook metadata keys (all but kernelspec and language_info)",
            "notebook labels": "cleaned the kernel and language names",
        }
        lines = []
        if self.rich:
            total = sum(self.rich.values())
            kinds = "/".join(sorted(self.rich))
            lines.append(f"removed {total} {kinds} output{'s' if total != 1 else ''}")
        lines += [text.format(self.count[key]) for key, text in said.items() if self.count[key]]
        return lines


def _stream(output: dict) -> NotebookNode | None:
    if output.get("name") not in ("stdout", "stderr"):
        return None
    return NotebookNode(output_type="stream", name=output["name"],
                        text=_capped(as_text(output.get("text", "")), TEXT_LIMIT))


def _error(output: dict) -> NotebookNode:
    lines = output.get("traceback")
    lines = [_capped(as_text(line), TRACEBACK_LINE_LIMIT) for line in lines] if isinstance(lines, list) else []
    if len(lines) > TRACEBACK_LINES:
        lines = [*lines[: TRACEBACK_LINES - 1], "... (traceback truncated)"]
    return NotebookNode(output_type="error", ename=_capped(as_text(output.get("ename", "")), ENAME_LIMIT),
                        evalue=_capped(as_text(output.get("evalue", "")), EVALUE_LIMIT), traceback=lines)


def _rich(output: dict, tally: _Tally) -> NotebookNode | None:
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    kept = {}
    for mime, value in data.items():
        if mime == "text/plain":
            kept[mime] = _capped(as_text(value), TEXT_LIMIT)
        elif mime in _IMAGE_TYPES:
            image = _base64(value)
            if image is None:
                tally.count["bad images"] += 1
            else:
                kept[mime] = image
        else:
            tally.rich[_DATA_WORDS.get(mime, "other")] += 1
    if not kept:
        return None
    clean = NotebookNode(output_type=output["output_type"], data=kept,
                         metadata=_image_metadata(output.get("metadata"), kept))
    if output["output_type"] == "execute_result":
        clean.execution_count = _execution_count(output.get("execution_count"))
    return clean


def _outputs(outputs: object, tally: _Tally) -> list:
    kept = []
    for output in outputs if isinstance(outputs, list) else []:
        kind = output.get("output_type") if isinstance(output, dict) else None
        if kind == "stream":
            clean = _stream(output)
        elif kind == "error":
            clean = _error(output)
        elif kind in ("execute_result", "display_data"):
            clean = _rich(output, tally)
        else:
            clean = None
        if clean is None:
            tally.count["empty outputs"] += 1
            continue
        if clean != output:
            tally.count["trimmed outputs"] += 1
        kept.append(clean)
    if len(kept) > OUTPUTS_PER_CELL:
        tally.count["surplus outputs"] += len(kept) - OUTPUTS_PER_CELL
        del kept[OUTPUTS_PER_CELL:]
    return kept


def _cell(cell: dict, tally: _Tally) -> NotebookNode:
    kind = cell.get("cell_type")
    source = as_text(cell.get("source", ""))
    metadata = cell.get("metadata")
    nbgrader = _nbgrader_metadata(metadata.get("nbgrader") if isinstance(metadata, dict) else None)
    clean = NotebookNode(cell_type="code" if kind == "code" else "markdown",
                         metadata=NotebookNode(nbgrader=nbgrader) if nbgrader else NotebookNode())
    if clean.metadata != metadata:
        tally.count["cell metadata"] += 1
    if kind == "code":
        clean.source = source
        clean.execution_count = _execution_count(cell.get("execution_count"))
        clean.outputs = _outputs(cell.get("outputs"), tally)
    elif kind == "markdown":
        attachments = _attachments(cell.get("attachments"))
        if attachments != cell.get("attachments", {}):
            tally.count["attachments"] += 1
        clean.source, change = safe_markdown(source, attachments)
        if change:
            tally.count[change] += 1
        if attachments:
            clean.attachments = attachments
    else:  # raw cells render as HTML, LaTeX or anything their raw_mimetype says
        tally.count["raw"] += 1
        clean.source = literal_markdown(source)
    if "id" in cell:
        clean.id = cell["id"]
    if set(cell) - _CELL_FIELDS:
        tally.count["cell fields"] += 1
    return nbformat.from_dict(clean)  # nested dicts as NotebookNodes, as nbformat.read gives them


def _give_ids(cells: list[NotebookNode], required: bool, tally: _Tally) -> None:
    """Valid, unique ids (nbformat's pattern): the templates write them into attributes."""
    seen: set[str] = set()
    for index, cell in enumerate(cells):
        if "id" not in cell and not required:
            continue
        wanted = cell.get("id")
        if isinstance(wanted, str) and _CELL_ID.fullmatch(wanted) and wanted not in seen:
            seen.add(wanted)
            continue
        base = _NOT_ID.sub("-", str(wanted or ""))[:50] or "cell"
        new, suffix = base, index
        while new in seen:
            new, suffix = f"{base}-{suffix}", suffix + 1
        seen.add(new)
        cell.id = new
        tally.count["ids"] += 1


def _notebook_metadata(meta: object) -> NotebookNode:
    """The kernelspec and language_info of ``meta``, their strings cleaned; nothing else (title, widgets)."""
    meta = meta if isinstance(meta, dict) else {}
    clean = NotebookNode()
    spec = meta.get("kernelspec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("display_name"), str):
        clean.kernelspec = NotebookNode({key: _label(spec[key]) for key in ("name", "display_name", "language")
                                         if isinstance(spec.get(key), str)})
    info = meta.get("language_info")
    if isinstance(info, dict) and isinstance(info.get("name"), str):
        keys = ("name", "version", "mimetype", "file_extension", "pygments_lexer", "nbconvert_exporter")
        language = NotebookNode({key: _label(info[key]) for key in keys if isinstance(info.get(key), str)})
        mode = info.get("codemirror_mode")
        if isinstance(mode, str):
            language.codemirror_mode = _label(mode)
        elif isinstance(mode, dict) and isinstance(mode.get("name"), str):
            language.codemirror_mode = NotebookNode(name=_label(mode["name"]))
            if isinstance(mode.get("version"), int) and not isinstance(mode.get("version"), bool):
                language.codemirror_mode.version = mode["version"]
        clean.language_info = language
    return clean


def sanitize_notebook(nb: NotebookNode) -> list[str]:
    """Make a notebook safe to render as HTML; in place. Returns what was removed, in words.

    Afterwards nbconvert's HTML templates (lab, classic, nbgrader's) run no script from it
    and load nothing from elsewhere:

    - outputs are streams (stdout, stderr), errors (as text) and results with ``text/plain``,
      ``image/png`` or ``image/jpeg`` (strict base64) data; output metadata is reduced to
      numeric image width and height, long texts are cut;
    - markdown goes through :func:`safe_markdown`; raw cells, and cells of unknown types,
      become markdown that shows their text as a code block;
    - cell metadata is reduced to nbgrader's keys with nbgrader's types, attachments to
      PNG and JPEG images, cell ids to nbformat's pattern (unique);
    - notebook metadata is reduced to ``kernelspec`` and ``language_info``.

    Sanitising a sanitised notebook changes nothing and returns an empty list.
    """
    tally = _Tally()
    metadata = _notebook_metadata(nb.get("metadata"))
    original = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    tally.count["notebook metadata"] = len(set(original) - set(metadata))
    if not tally.count["notebook metadata"] and metadata != original:
        tally.count["notebook labels"] = 1
    cells = nb.get("cells")
    clean = [_cell(cell, tally) for cell in (cells if isinstance(cells, list) else []) if isinstance(cell, dict)]
    minor = nb.get("nbformat_minor")
    _give_ids(clean, isinstance(minor, int) and minor >= 5, tally)
    for key in set(nb) - {"nbformat", "nbformat_minor", "metadata", "cells"}:
        del nb[key]
    nb.metadata = nbformat.from_dict(metadata)
    nb.cells = clean
    return tally.words()
