"""One printable line of student-derived text, for a terminal or a CSV cell."""

from __future__ import annotations

import re
import unicodedata


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


def printable_char(char: str) -> str:
    category = unicodedata.category(char)
    if category in ("Cc", "Zl", "Zp"):  # C0 and C1 controls, DEL, line and paragraph separators
        return " "
    if category == "Cf":  # zero-width and bidirectional controls (U+202E, U+2066-2069, ...)
        return ""
    if category == "Cs":  # a lone surrogate cannot be encoded for a terminal or a file
        return "\ufffd"
    return char


def _cap(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ``…`` included: after its last whole sentence that fits;
    when not even the first sentence fits, at a clause boundary near the limit or else at a word."""
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
    sentences = [m.end() for m in _SENTENCE_END.finditer(head)]
    if sentences:  # whole sentences only, however far back the last one ends
        return head[:sentences[-1]] + "…"
    clauses = [m.end() for m in _CLAUSE_END.finditer(head, int(room * (1 - _BOUNDARY_WINDOW)))]
    if clauses:
        head = head[:clauses[-1]]
    return head.rstrip(" ,;:") + "…"


def as_text(value: object) -> str:
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
    space. A longer text keeps its whole sentences that fit and ends with ``…``; only when
    its first sentence alone is longer than the limit is that sentence cut, after a clause
    that ends within the last 30 % of the limit or else at a word boundary; only a single
    word longer than the limit is cut inside.

    Args:
        text: Anything; bytes are decoded as UTF-8 (invalid bytes replaced), other
            objects are converted with ``str``.
        limit: The longest result, in characters.
    """
    raw = as_text(text)[: max(limit, 0) * 20 + 10_000]  # bounds the work on a huge input
    line = "".join(map(printable_char, _ESCAPE_SEQUENCE.sub("", raw)))
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
