"""Hidden test code that a message repeats: found, and cut out or withheld."""

from __future__ import annotations

import io
import re
import textwrap
import tokenize
from collections.abc import Iterable
from functools import lru_cache


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
