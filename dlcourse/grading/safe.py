"""Student-derived data made safe for where it goes: a terminal, a CSV cell, an HTML page.

Everything that comes out of a submission is hostile: markdown and raw cells, metadata,
outputs (the kernel runs student code, so any output can be forged), exception names and
messages, file names. This module is the one place that makes such data safe:

- :func:`console_text` makes one printable line: no terminal escapes, no control or
  bidirectional characters, no line breaks, and a length cap at a word boundary;
- :func:`csv_cell` also neutralises spreadsheet formulas;
- :func:`sanitize_notebook` leaves a notebook that nbconvert's HTML templates (lab,
  classic, and nbgrader's formgrader and feedback templates built on them) render without
  running a script or loading anything from elsewhere;
- :func:`plain_markdown` turns text into markdown that renders exactly that text;
- :func:`strip_hidden_echo` and :func:`repeats_hidden` find hidden test code that a
  message repeats.

nbconvert's own ``SanitizeHTML`` preprocessor is not enough for the notebook: it runs
bleach over markdown *source*, which knows nothing of markdown (``[x](javascript:...)``
links, images from other sites and mermaid blocks, which nbconvert emits unescaped, pass;
``$a<b$`` and ``a<b`` in code become ``&lt;`` and then render as ``&amp;lt;``), and it
leaves output metadata alone (an image's ``width`` is written into an unquoted attribute,
``filenames`` into ``src``), as well as execution counts, attachments and raw cells of
other formats. So markdown is checked here with nbconvert's own markdown parser, and
outputs are rebuilt from an allowlist.
"""

from __future__ import annotations

import html
import io
import math
import re
import textwrap
import tokenize
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import unquote

import nbformat
from mistune.helpers import unescape_char
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser
from nbformat import NotebookNode

# ---------------------------------------------------------------------------------------------
# One line of text

# Terminal escape sequences are removed whole, so that no "[31m" debris is left behind.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor movement, erasing
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: window title, hyperlinks
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS, SOS, PM and APC strings
    r"|\x1b[ -/]*[0-~]"  # every other escape (character sets, keypad modes, ...)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # CSI in its 8-bit form
)
_SENTENCE_END = re.compile(r"(?<=\S)[.!?](?= )")
_CLAUSE_END = re.compile(r"(?<=[^\W\d]|[)\]\"'])[,;:](?= )")  # after a word or a bracket: not in "(4, 3)"
# A cap may end at a sentence or clause boundary this far back, rather than at the last word.
_BOUNDARY_WINDOW = 0.3


def _printable(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):  # C0 and C1 controls, DEL, line and paragraph separators
        return " "
    if category == "Cf":  # zero-width and bidirectional controls (U+202E, U+2066-2069, ...)
        return ""
    if category == "Cs":  # a lone surrogate cannot be encoded for a terminal or a file
        return "\ufffd"
    return char


def _cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ``…`` included, at a word (or better, clause) boundary."""
    if len(text) <= limit:
        return text
    room = limit - 1  # one character for the ellipsis
    if room < 1:
        return "…"[:max(limit, 0)]
    head = text[:room]
    if text[room] != " ":  # the cut falls inside a word: end at the previous one
        space = head.rfind(" ")
        # a single word longer than the limit can only be cut inside
        head = head[:space] if space > 0 else head
    floor = int(room * (1 - _BOUNDARY_WINDOW))
    for boundary in (_SENTENCE_END, _CLAUSE_END):
        ends = [m.end() for m in boundary.finditer(head, floor)]
        if ends:
            head = head[:ends[-1]]
            break
    return head.rstrip(" ,;:") + "…"


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)  # nbformat's multiline strings
    return value if isinstance(value, str) else str(value)


def console_text(text: object, limit: int = 300) -> str:
    """One printable line of at most ``limit`` characters, for a terminal, a log or a report.

    Terminal escape sequences are removed whole; other control characters (tab, CR, LF,
    BEL, DEL, C1), line separators and format characters (zero-width, bidirectional
    overrides and isolates) are removed or become spaces; runs of whitespace become one
    space. A longer text is cut at a word boundary, preferably after a sentence or clause
    that ends within the last 30 % of the limit, and ends with ``…``; only a single word
    longer than the limit is cut inside.

    Args:
        text: Anything; bytes are decoded as UTF-8 (invalid bytes replaced), other
            objects are converted with ``str``.
        limit: The longest result, in characters.
    """
    raw = _as_text(text)[: max(limit, 0) * 20 + 10_000]  # bounds the work on a huge input
    line = "".join(map(_printable, _ESCAPE_SEQUENCE.sub("", raw)))
    return _cap(" ".join(line.split()), limit)


def csv_cell(text: object, limit: int = 500) -> str:
    """:func:`console_text` for a CSV cell, with spreadsheet formulas neutralised.

    A cell starting with ``=``, ``+``, ``-`` or ``@`` gets a leading ``'``, so a spreadsheet
    shows it as text instead of evaluating it (``=HYPERLINK(...)``, ``+cmd|...``). The
    other starts OWASP lists, tab and carriage return, cannot survive :func:`console_text`.
    Meant for text; numbers that may be negative belong in their own, unescaped columns.
    """
    cell = console_text(text, limit)
    if cell.startswith(("=", "+", "-", "@")):
        cell = "'" + console_text(text, limit - 1)
    return cell


# ---------------------------------------------------------------------------------------------
# Hidden test code repeated by a message


def _normalise(text: str) -> str:
    return " ".join(text.split())


def strip_hidden_echo(text: str, hidden_lines: str | Iterable[str], min_length: int = 12) -> str:
    """``text`` with every hidden-test source line it repeats replaced by ``…``.

    Lines are compared with whitespace runs normalised; lines shorter than ``min_length``
    characters (``)``, ``else:``, ``x = 1``) are too common to be evidence and are kept.

    Args:
        text: A message that student code may have filled with hidden test code.
        hidden_lines: The hidden test source, as one string or as lines.
        min_length: The shortest line, once normalised, that is removed.
    """
    lines = hidden_lines.splitlines() if isinstance(hidden_lines, str) else hidden_lines
    words = {tuple(line.split()) for line in lines if len(_normalise(line)) >= min_length}
    if not words:
        return text
    # longest first, so that a line is not left half-removed by a shorter line inside it
    ordered = sorted(words, key=lambda w: len(" ".join(w)), reverse=True)
    pattern = "|".join(r"\s+".join(map(re.escape, w)) for w in ordered)
    return re.sub(pattern, "…", text)


def _code_pieces(source: str) -> list[str]:
    """The stretches of Python ``source`` between its string literals, whitespace normalised.

    Falls back to the whole source when it does not tokenize (a fragment of a block).
    """
    code = textwrap.dedent(source)
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError):
        return [_normalise(code)]
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(position: tuple[int, int]) -> int:
        return starts[position[0] - 1] + position[1]

    pieces, start = [], 0
    for token in tokens:
        if token.type == tokenize.STRING:
            pieces.append(code[start:offset(token.start)])
            start = offset(token.end)
    pieces.append(code[start:])
    return [_normalise(piece) for piece in pieces]


def _runs(text: str, size: int) -> set[str]:
    return {text[i:i + size] for i in range(len(text) - size + 1)}


@lru_cache(maxsize=64)  # one hidden source is checked against many messages
def _code_runs(source: str, size: int) -> frozenset[str]:
    return frozenset().union(*(_runs(piece, size) for piece in _code_pieces(source)))


def repeats_hidden(text: str, hidden_source: str, run: int = 20) -> bool:
    """Whether ``text`` contains ``run`` or more consecutive characters of hidden test code.

    Whitespace runs are normalised on both sides. The contents of string literals do not
    count: a hidden test's own assertion message is written for the student to read, and
    the message of a failing ``assert`` repeats it by design.

    This catches hidden code echoed as it is; text that student code encoded first
    (reversed, base64) cannot be recognised, which is why callers show messages of tests
    only, capped, and never other output.
    """
    return not _runs(_normalise(text), run).isdisjoint(_code_runs(hidden_source, run))


# ---------------------------------------------------------------------------------------------
# Markdown

MARKDOWN_LIMIT = 200_000  # characters of one markdown cell
_LINK_SCHEMES = ("http", "https", "mailto")
_IMAGE_DATA_URL = re.compile(r"data:image/(?:png|jpeg);base64,[a-z0-9+/]*=*")  # matched lowercased
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_ATTACHMENT = "attachment:"


def _url_key(url: str) -> str:
    """``url`` as a browser reads its scheme: entities decoded, controls and spaces dropped."""
    decoded = html.unescape(url)
    return "".join(c for c in decoded if c > " " and _printable(c) == c).lower()


def _safe_link(url: str) -> bool:
    scheme = _SCHEME.match(_url_key(url))
    return scheme is None or scheme.group(1) in _LINK_SCHEMES


def _safe_image(url: str, attachments: Iterable[str]) -> bool:
    # Only images inside the notebook: anything else is a request to another server.
    if url.startswith(_ATTACHMENT):
        return url[len(_ATTACHMENT):] in attachments  # nbconvert fails on a missing attachment
    key = _url_key(url)
    return key == "" or _IMAGE_DATA_URL.fullmatch(key) is not None


class _HazardFinder(IPythonRenderer):
    """nbconvert's markdown renderer, noting what it would emit unescaped or fetch.

    These are its only ways of putting source text into a page other than as escaped text:
    raw HTML blocks and inline HTML (comments, processing instructions and declarations
    included), link and image URLs, and mermaid diagrams.
    """

    def __init__(self, attachments: Iterable[str]):
        super().__init__(escape=False)
        self.attachment_names = set(attachments)
        self.html: list[str] = []
        self.urls: list[str] = []
        self.mermaid = False

    def block_html(self, html: str) -> str:
        self.html.append(html)
        return ""

    def inline_html(self, html: str) -> str:
        self.html.append(html)
        return ""

    def link(self, text: str, url: str, title: str | None = None) -> str:
        if not _safe_link(url):
            self.urls.append(url)
        return text

    def image(self, text: str, url: str, title: str | None = None) -> str:
        if not _safe_image(url, self.attachment_names):
            self.urls.append(url)
        return ""

    def block_code(self, code: str, info: str | None = None) -> str:
        if info and info.strip().lower().startswith("mermaid"):
            self.mermaid = True
        return ""


def _hazards(source: str, attachments: Iterable[str]) -> _HazardFinder | None:
    """What nbconvert would render unsafely from ``source``; None when nothing."""
    finder = _HazardFinder(attachments)
    try:
        MarkdownWithMath(renderer=finder).render(source)
    except Exception:  # noqa: BLE001 - what nbconvert cannot parse is shown as literal text
        finder.html.append(source)
    return finder if (finder.html or finder.urls or finder.mermaid) else None


# Spans whose "<" and "&" the markdown renderer escapes itself (code and math): escaping them
# again would show "&lt;". nbconvert's own math patterns, so that "$a<b$" stays math.
_ESCAPED_BY_RENDERER = re.compile("|".join([
    r"(?ms:^[ \t]{0,3}(?P<fence>`{3,}|~{3,}).*?^[ \t]{0,3}(?P=fence)[`~]*[ \t]*$)",
    r"(?<!`)(?P<ticks>`+)(?!`)(?s:.+?)(?<!`)(?P=ticks)(?!`)",
    MathInlineParser.BLOCK_MATH_TEX,
    MathInlineParser.BLOCK_MATH_LATEX,
    MathInlineParser.INLINE_MATH_TEX,
    MathInlineParser.INLINE_MATH_LATEX,
    MathInlineParser.LATEX_ENVIRONMENT,
]))
_MERMAID_FENCE = re.compile(r"(?im)^([ \t>*+\-\d.)]*(?:`{3,}|~{3,})[ \t]*)mermaid")


def _escape_markup(text: str) -> str:
    """``text`` with ``&`` and ``<`` escaped outside code and math, so no HTML tag remains.

    ``>`` is left alone: it opens no markup, and escaping it would undo block quotes.
    """
    parts, start = [], 0
    for span in _ESCAPED_BY_RENDERER.finditer(text):
        parts.append(text[start:span.start()].replace("&", "&amp;").replace("<", "&lt;"))
        parts.append(span.group())
        start = span.end()
    parts.append(text[start:].replace("&", "&amp;").replace("<", "&lt;"))
    return "".join(parts)


_DESTINATION = re.compile(
    r"(?P<inline>\]\(\s*)(?P<url><[^<>\n]*>|(?:[^\s()<]|\([^\s()]*\))+)"  # [text](url), ![alt](url)
    r"|(?m:(?P<definition>^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*(?:\n[ \t]*)?)(?P<defined><[^<>\n]*>|\S+))"  # [ref]: url
    r"|<(?P<autolink>[A-Za-z][A-Za-z0-9+.-]{1,31}:[^\s<>]*)>"  # <scheme:...>
)


def _url_form(url: str) -> str:
    """A URL as written in markdown and as the parser hands it on, reduced to the same form."""
    return unquote(html.unescape(unescape_char(url.strip("<>"))))


def _drop_urls(text: str, urls: Iterable[str]) -> str:
    """``text`` without the destinations ``urls`` (as the parser saw them): links and images keep their text."""
    unsafe = {_url_form(url) for url in urls}

    def drop(found: re.Match) -> str:
        if found["autolink"] is not None:
            return "" if _url_form(found["autolink"]) in unsafe else found.group()
        keep, url = (found["inline"], found["url"]) if found["inline"] is not None else (
            found["definition"], found["defined"])
        return keep if _url_form(url) in unsafe else found.group()

    return _DESTINATION.sub(drop, text)


def literal_markdown(text: str) -> str:
    """Markdown that shows ``text`` verbatim, as a code block (its fence outruns every backtick run)."""
    if not text.strip():
        return ""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def safe_markdown(source: str, attachments: Iterable[str] = ()) -> tuple[str, str | None]:
    """Markdown that renders like ``source`` as far as is safe, and what was done to it.

    Unchanged when nbconvert would render it safely. A source longer than
    :data:`MARKDOWN_LIMIT` is cut and shown as a code block. Otherwise raw HTML is escaped (``&``
    and ``<``, outside code and math) and unsafe URLs are removed: links may go to
    ``http``, ``https``, ``mailto`` or a relative address, images may only be PNG or JPEG
    data URLs or the cell's own attachments. Mermaid blocks become plain code. When that
    is not enough (the source disguises something), the source is shown as a code block.
    Each result is checked with nbconvert's own markdown parser.

    Args:
        source: Markdown from a submission.
        attachments: The names of the cell's attachments (``attachment:NAME`` images).

    Returns:
        The markdown, and None, ``"defused"`` or ``"literal"``.
    """
    if len(source) > MARKDOWN_LIMIT:  # parsing takes seconds per megabyte; no answer is this long
        cut = source[: MARKDOWN_LIMIT // 2] + "\n... (cut: the cell is too long to show)"
        return literal_markdown(cut), "literal"
    names = list(attachments)
    found = _hazards(source, names)
    if found is None:
        return source, None
    text = _drop_urls(source, found.urls) if found.urls else source
    if found.mermaid:
        text = _MERMAID_FENCE.sub(r"\1text", text)
    if found.html:
        text = _escape_markup(text)
    if _hazards(text, names) is None:
        return text, "defused"
    return literal_markdown(source), "literal"


def plain_markdown(text: object) -> str:
    """Markdown that renders as ``text``, literally: every line its own, nothing is markup.

    Every ASCII punctuation character is backslash-escaped (CommonMark allows it for all
    of them), so no link, HTML, math, list or heading can form; leading spaces are dropped
    so no code block forms either.
    """
    lines = (console_text(line, limit=10_000) for line in _as_text(text).splitlines())
    escaped = (re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", line) for line in lines if line)
    return "  \n".join(escaped)


# ---------------------------------------------------------------------------------------------
# Notebooks

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
    text = "".join(_as_text(value).split())
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
                        text=_capped(_as_text(output.get("text", "")), TEXT_LIMIT))


def _error(output: dict) -> NotebookNode:
    lines = output.get("traceback")
    lines = [_capped(_as_text(line), TRACEBACK_LINE_LIMIT) for line in lines] if isinstance(lines, list) else []
    if len(lines) > TRACEBACK_LINES:
        lines = [*lines[: TRACEBACK_LINES - 1], "... (traceback truncated)"]
    return NotebookNode(output_type="error", ename=_capped(_as_text(output.get("ename", "")), ENAME_LIMIT),
                        evalue=_capped(_as_text(output.get("evalue", "")), EVALUE_LIMIT), traceback=lines)


def _rich(output: dict, tally: _Tally) -> NotebookNode | None:
    data = output.get("data") if isinstance(output.get("data"), dict) else {}
    kept = {}
    for mime, value in data.items():
        if mime == "text/plain":
            kept[mime] = _capped(_as_text(value), TEXT_LIMIT)
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
    source = _as_text(cell.get("source", ""))
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
