"""Markdown from a submission, made to render as what it says and nothing active."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from urllib.parse import unquote

from mistune.helpers import unescape_char
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath, MathInlineParser

from dlcourse.grading.safe.text import as_text, console_text, printable_char


MARKDOWN_LIMIT = 200_000  # characters of one markdown cell
_LINK_SCHEMES = ("http", "https", "mailto")
_IMAGE_DATA_URL = re.compile(r"data:image/(?:png|jpeg);base64,[a-z0-9+/]*=*")  # matched lowercased
_SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):")
_ATTACHMENT = "attachment:"


def _url_key(url: str) -> str:
    """``url`` as a browser reads its scheme: entities decoded, controls and spaces dropped."""
    decoded = html.unescape(url)
    return "".join(c for c in decoded if c > " " and printable_char(c) == c).lower()


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
    lines = (console_text(line, limit=10_000) for line in as_text(text).splitlines())
    escaped = (re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", line) for line in lines if line)
    return "  \n".join(escaped)
