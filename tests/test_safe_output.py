"""Student-derived text is made safe for the terminal, CSV reports and the HTML views.

A battery of hostile notebooks (markdown, raw cells, forged outputs, metadata) is sanitised
and rendered with nbconvert's HTML templates (lab and classic) and nbgrader's feedback
template; the pages are parsed, and every tag, attribute and script is compared with the
page of a clean notebook. Text checks alone would not do: a sanitised page *shows* the
student's ``<img onerror=...>`` as text, and must, so a TA sees what was handed in.
"""

from __future__ import annotations

import base64
import copy
import html
import json
import re
import struct
import uuid
import zlib
from collections import Counter
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import nbgrader
import pytest
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat import NotebookNode
from traitlets.config import Config

from dlcourse.grading.feedback_status import TEMPLATE_FILE, TEMPLATE_NAME, template_dirs
from dlcourse.grading.safe import (
    console_text,
    csv_cell,
    literal_markdown,
    plain_markdown,
    repeats_hidden,
    safe_markdown,
    sanitize_notebook,
    strip_hidden_echo,
)


def _png(width: int = 2, height: int = 2) -> str:
    """A real PNG (grey pixels), base64-encoded as a kernel sends it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


# the hostile notebook names a pygments lexer that does not exist
pytestmark = pytest.mark.filterwarnings("ignore:No lexer found:UserWarning")

PNG = _png()
TEMPLATES = ("lab", "classic", "feedback", "dlcourse_feedback")
NBGRADER_TEMPLATES = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
#: nbgrader's feedback template and dlcourse's extension of it (dlcourse.grading.feedback_status)
FEEDBACK_TEMPLATES = ("feedback", TEMPLATE_NAME)
FEEDBACK_RESOURCES = {"nbgrader": {"notebook": "a1", "score": 1.0, "max_score": 2.0, "late_penalty": 0}}

WRITTEN_ANSWER = ("The gradient vanishes because $a<b$ and $\\sigma'(x) \\le 1/4$ for every $x$. "
                  "See [the docs](https://example.org/docs).\n\n```python\nif a < b and b > c:\n    pass\n```")


def _cell(cell_type: str, source: str, **fields) -> NotebookNode:
    """A cell built as a notebook file may hold it: no validation, hostile fields allowed."""
    cell = {"id": uuid.uuid4().hex[:8], "cell_type": cell_type, "metadata": {}, "source": source, **fields}
    if cell_type == "code":
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", 1)
    return nbformat.from_dict(cell)


def _out(output_type: str, **fields) -> dict:
    return {"output_type": output_type, **fields}


def legitimate_cells() -> list[NotebookNode]:
    """What an honest submission holds; all of it must survive sanitising."""
    answer = _cell("markdown", WRITTEN_ANSWER, metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "grade_id": "answer_q1", "points": 2.0,
        "schema_version": 3, "cell_type": "markdown"}})
    code = _cell("code", "def add(a, b):\n    return a + b\nprint(add(2, 3))", outputs=[
        _out("stream", name="stdout", text="5\nhello from the kernel\n"),
        _out("execute_result", data={"text/plain": "'<b>kept as text</b>'"}, metadata={}, execution_count=1),
        _out("display_data", data={"image/png": PNG, "text/plain": "<Figure>"},
             metadata={"image/png": {"width": 120, "height": 80}}),
        _out("error", ename="ZeroDivisionError", evalue="division by zero",
             traceback=["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"]),
    ])
    return [_cell("markdown", "# Exercise 1\n\nCompute $\\sum_i x_i$ where $x_i<1$."), answer, code]


SVG_SCRIPT = base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>").decode()

HOSTILE_MARKDOWN = [
    "<script>alert('md-script')</script>",
    "Text <img src=\"x\" onerror=\"alert('md-img')\"> more",
    "Text <img src=x onerror=alert('unquoted')> more",
    "<iframe src='https://evil.example/frame'></iframe>",
    "<object data='https://evil.example/x.swf'></object><embed src='https://evil.example/e'>",
    "<svg onload=alert('md-svg')><circle r=1 /></svg>",
    "<meta http-equiv='refresh' content='0;url=https://evil.example/'>",
    "<link rel=stylesheet href='https://evil.example/x.css'>",
    "<style>body { background: url(https://evil.example/bg.png) }</style>",
    "<base href='https://evil.example/'>",
    "<form action='https://evil.example/'><input name=q onfocus=alert(1) autofocus></form>",
    "<details open ontoggle=alert('details')>x</details>",
    "<a href='https://example.org' onmouseover=alert('attr')>link</a>",
    "<!-- a comment --><p style='background:url(https://evil.example/c)'>styled</p>",
    "[click me](javascript:alert('md-link'))",
    "[click](&#106;avascript:alert('entity'))",
    "[click](<javascript:alert('angle')>)",
    "[click](JaVaScRiPt:alert('case'))",
    "<javascript:alert('autolink')>",
    "[ref link][evil]\n\n[evil]: javascript:alert('ref')",
    "[vb](vbscript:msgbox('x'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![pixel](https://evil.example/pixel.png)",
    "![relative](//evil.example/pixel.png)",
    "![missing](attachment:nothere.png)",
    "![svg](attachment:evil.svg) and ![ok](attachment:ok.png)",
    "```mermaid\ngraph TD; A[\"<img src=x onerror=alert('mermaid')>\"]\n```",
    "`$`<img src=\"x\" onerror=\"alert('codespan-math')\">`$`",
    "$x$<b onmouseover=alert('after-math')>bold</b>",
    "> <div onclick=alert('quote')>quoted</div>",
    "* <a href='javascript:alert(1)'>list item</a>",
    "| a | b |\n|---|---|\n| <img src=\"x\" onerror=\"alert('table')\"> | 2 |",
    ">" * 3000 + " deeply nested",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>",
]


def hostile_cells() -> list[NotebookNode]:
    """Everything a submission can put into a notebook that a renderer might make active."""
    cells = []
    for index, source in enumerate(HOSTILE_MARKDOWN):
        cells.append(_cell("markdown", source, id=f"md-{index}"))
    (with_attachments,) = [cell for cell in cells if "attachment:evil.svg" in cell.source]
    with_attachments.attachments = {"evil.svg": {"image/svg+xml": SVG_SCRIPT}, "ok.png": {"image/png": PNG}}
    cells += [
        _cell("raw", "<script>alert('raw')</script>", metadata={"raw_mimetype": "text/html"}),
        _cell("raw", "````\n<img src=x onerror=alert('raw-fence')>\n````", metadata={"raw_mimetype": "text/html"}),
        _cell("raw", "<img src=x onerror=alert('raw-md')>", metadata={"raw_mimetype": "text/markdown"}),
        _cell("raw", "\\href{javascript:alert(1)}{x}", metadata={"raw_mimetype": "text/latex"}),
        _cell("heading", "<script>alert('unknown cell type')</script>"),
        _cell("markdown", "tagged", metadata={"tags": ["\"><script>alert('tag')</script>", "x onmouseover=alert(1)"],
                                              "alt": "\" onerror=alert('alt')"}),
        _cell("markdown", "bad id", id="\"><svg onload=alert('id')>"),
        _cell("markdown", "written", metadata={"nbgrader": {
            "grade": True, "solution": True, "locked": False, "points": "2 onmouseover=alert(1)",
            "grade_id": "q\"><script>alert('grade_id')</script>", "schema_version": 3,
            "comment": "<img src=x onerror=alert('comment')>", "score": "<script>"}}),
        _cell("code", "x = 0", execution_count="<script>alert('count')</script>"),
        _cell("code", "x = 1", outputs=[
            _out("display_data", data={"text/html": "<script>alert('html-out')</script>", "text/plain": "html"},
                 metadata={}),
            _out("display_data", data={"text/html": "<script>alert('isolated')</script>"},
                 metadata={"text/html": {"isolated": True}}),
            _out("display_data", data={"application/javascript": "alert('js-out')"}, metadata={}),
            _out("display_data", data={"image/svg+xml": "<svg onload=alert('svg-out')/>"}, metadata={}),
            _out("display_data", data={"text/markdown": "<img src=x onerror=alert('md-out')>"}, metadata={}),
            _out("display_data", data={"text/latex": "\\href{javascript:alert('latex')}{x}"}, metadata={}),
            _out("display_data", data={"text/vnd.mermaid": "graph TD; A[\"<img src=x onerror=alert(1)>\"]"},
                 metadata={}),
            _out("display_data", data={"application/vnd.jupyter.widget-view+json": {
                "model_id": "</script><script>alert('widget')</script>", "version_major": 2, "version_minor": 0}},
                metadata={}),
            _out("display_data", data={"image/png": "\"><script>alert('png')</script>"}, metadata={}),
            _out("display_data", data={"image/png": PNG}, metadata={
                "image/png": {"width": "1 onerror=alert('width')", "height": "1 onload=alert('height')"}}),
            _out("display_data", data={"image/jpeg": PNG}, metadata={
                "filenames": {"image/jpeg": "https://evil.example/track.jpg"}, "alt": "\" onerror=alert(1)"}),
            _out("display_data", data={"image/png": PNG}, metadata={}, svg_filename="https://evil.example/x.svg"),
            _out("execute_result", data={"text/plain": "1"}, metadata={}, execution_count="<script>alert(1)</script>"),
            _out("stream", name="<script>alert('stream name')</script>", text="x"),
            _out("stream", name="stdout", text="<script>alert('printed')</script>\x1b]8;;javascript:alert(1)\x07x"),
            _out("error", ename="<img src=x onerror=alert('ename')>", evalue="<script>alert('evalue')</script>",
                 traceback=["<script>alert('traceback')</script>", 42]),
            _out("update_display_data", data={"text/html": "<script>alert('update')</script>"}, metadata={}),
            _out("display_data", data={}, metadata={}),
        ]),
    ]
    cells.append(cells.pop(len(HOSTILE_MARKDOWN) - 1))  # the unclosed <style> case swallows what follows it
    return cells


def notebook(cells: list[NotebookNode], **metadata) -> NotebookNode:
    nb = nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    nb.metadata.update(kernelspec={"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                       language_info={"name": "python", "version": "3.11.9", "mimetype": "text/x-python",
                                      "codemirror_mode": {"name": "ipython", "version": 3},
                                      "pygments_lexer": "ipython3", "file_extension": ".py"},
                       **metadata)
    return nb


HOSTILE_METADATA = {
    "title": "</title><script>alert('title')</script>",
    "widgets": {"application/vnd.jupyter.widget-state+json": {
        "state": {"x": "</script><script>alert('widget-state')</script>"}, "version_major": 2, "version_minor": 0}},
    "authors": [{"name": "<script>alert('author')</script>"}],
}


def hostile_notebook() -> NotebookNode:
    nb = notebook([*legitimate_cells(), *hostile_cells()], **HOSTILE_METADATA)
    nb.metadata.kernelspec["display_name"] = "<script>alert('kernel')</script>"
    nb.metadata.language_info["pygments_lexer"] = "\"><script>alert('lexer')</script>"
    return nb


@cache
def _exporter(template: str) -> HTMLExporter:
    config = Config()
    if template in FEEDBACK_TEMPLATES:  # as nbgrader's GenerateFeedback and the course's config configure it
        config.HTMLExporter.extra_template_basedirs = [str(NBGRADER_TEMPLATES / "templates"), *template_dirs()]
        config.HTMLExporter.extra_template_paths = [
            str(NBGRADER_TEMPLATES / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    config.HTMLExporter.template_name = template
    if template == TEMPLATE_NAME:
        config.HTMLExporter.template_file = TEMPLATE_FILE
    return HTMLExporter(config=config)


def _graded(nb: NotebookNode) -> NotebookNode:
    """``nb`` as nbgrader's GetGrades leaves it for the feedback template: every grade cell has a score."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("task"):
            meta.setdefault("score", 0.0)
            meta.setdefault("points", 1.0)
    return nb


def render(nb: NotebookNode, template: str) -> str:
    if template in FEEDBACK_TEMPLATES:
        nb, resources = _graded(nb), copy.deepcopy(FEEDBACK_RESOURCES)
    else:
        resources = {}
    body, _ = _exporter(template).from_notebook_node(nb, resources=resources)
    return body


class Page(HTMLParser):
    """The tags, attributes and script bodies of a rendered page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: Counter = Counter()
        self.scripts: Counter = Counter()
        self.attributes: list[tuple[str, str, str]] = []
        self._in_script = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags[(tag, tuple(attrs))] += 1
        self.attributes += [(tag, name, value or "") for name, value in attrs]
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[data] += 1


# Tags that run code, load something, restyle the page or take input; a page of a sanitised
# notebook has exactly the ones its template puts there.
ACTIVE_TAGS = {"script", "iframe", "frame", "frameset", "object", "embed", "applet", "svg", "math", "meta",
               "link", "style", "base", "form", "input", "button", "textarea", "select", "details",
               "audio", "video", "source", "track", "picture", "marquee", "template"}
URL_ATTRIBUTES = {"href", "src", "srcset", "action", "formaction", "data", "poster", "background", "xlink:href",
                  "content", "ping", "cite", "longdesc", "manifest"}
IMAGE_DATA_URL = re.compile(r"data:image/(png|jpeg);base64,[A-Za-z0-9+/]*=*")


def _scheme(url: str) -> str:
    key = "".join(c for c in url if c > " ").lower()
    match = re.match(r"([a-z][a-z0-9+.-]*):", key)
    return match.group(1) if match else ""


def active_content(page: Page, clean: Page) -> list[str]:
    """Everything in ``page`` that could run or load something and is not in ``clean``, the template's page."""
    found = []
    for (tag, attrs), count in page.tags.items():
        if tag in ACTIVE_TAGS and count > clean.tags[(tag, attrs)]:
            found.append(f"<{tag} {attrs}>")
        if any(name == "style" for name, _ in attrs) and count > clean.tags[(tag, attrs)]:
            found.append(f"style attribute on <{tag} {attrs}>")
    clean_urls = {value for _, name, value in clean.attributes if name in URL_ATTRIBUTES}
    for tag, name, value in page.attributes:
        if name.startswith("on"):
            found.append(f"event handler {name}={value!r} on <{tag}>")
        if name in URL_ATTRIBUTES and value not in clean_urls:
            scheme = _scheme(value)
            if scheme in ("javascript", "vbscript") or (scheme == "data" and not IMAGE_DATA_URL.fullmatch(value)):
                found.append(f"{name}={value[:80]!r} on <{tag}>")
            elif name != "href" and value and not IMAGE_DATA_URL.fullmatch(value):
                found.append(f"{tag} loads {value[:80]!r}")
    found += [f"script {body[:80]!r}" for body, n in page.scripts.items() if n > clean.scripts[body]]
    return found


def visible_text(page: str) -> str:
    """What a reader sees (and a script could read): tags dropped, entities decoded, whitespace normalised."""
    return " ".join(html.unescape(re.sub(r"<[^>]*>", " ", page)).split())


def raw_tag_counts(text: str) -> dict[str, int]:
    """The brief's text check: opening tags as they appear in the page source."""
    return {tag: len(re.findall(rf"<{tag}\b", text, flags=re.I))
            for tag in ("script", "iframe", "object", "embed", "svg", "meta", "link", "style", "base", "form")}


@pytest.fixture(scope="module")
def sanitized() -> tuple[NotebookNode, list[str]]:
    nb = hostile_notebook()
    report = sanitize_notebook(nb)
    return nb, report


@pytest.fixture(scope="module")
def pages(sanitized) -> dict[str, tuple[str, str]]:
    """Per template: the sanitised hostile page and the page of the clean notebook."""
    nb, _ = sanitized
    return {t: (render(nb, t), render(notebook(legitimate_cells()), t)) for t in TEMPLATES}


# ---------------------------------------------------------------------------------------------
# The HTML views


def _valid(nb: NotebookNode) -> bool:
    try:
        nbformat.validate(nb, relax_add_props=True)  # what nbconvert requires before it renders
    except nbformat.ValidationError:
        return False
    return True


def _renderable(nb: NotebookNode) -> NotebookNode:
    """The parts of ``nb`` that nbconvert renders unsanitised: it refuses invalid notebooks outright."""
    def alone(cell):
        return nbformat.from_dict({**nb, "cells": [cell]})
    cells = []
    for cell in nb.cells:
        if "attachment:nothere" in str(cell.get("source")):  # nbconvert fails on a missing attachment
            continue
        if cell.get("cell_type") == "code":
            cell.outputs = [o for o in cell.outputs if _valid(alone({**cell, "outputs": [o], "execution_count": 1}))]
        if _valid(alone(cell)):
            cells.append(cell)
    nb.cells = cells
    return nb


@pytest.mark.filterwarnings("ignore:Your element with mimetype:UserWarning")
def test_the_battery_is_dangerous_when_not_sanitised():
    """Guards the checks below: without sanitising, the same notebook renders active content."""
    nb = _renderable(hostile_notebook())
    for template in ("lab", "classic"):
        text = render(nb, template)
        found = active_content(Page(text), Page(render(notebook(legitimate_cells()), template)))
        for marker in ("md-script", "md-img", "md-link", "entity", "mermaid", "width", "html-out", "svg+xml"):
            assert any(marker in item for item in found), f"{template}: the unsanitised {marker!r} case was not caught"


@pytest.mark.parametrize("template", TEMPLATES)
def test_sanitised_hostile_notebook_renders_nothing_active(pages, template):
    text, clean = pages[template]
    found = active_content(Page(text), Page(clean))
    assert not found, f"{template}: active content from the submission reached the page: {found[:5]}"
    assert raw_tag_counts(text) == raw_tag_counts(clean), \
        f"{template}: expected only the template's own tags, got {raw_tag_counts(text)} vs {raw_tag_counts(clean)}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_legitimate_content_survives(pages, template):
    text, _ = pages[template]
    assert "hello from the kernel" in text, "the printed output is missing"
    assert "&lt;b&gt;kept as text&lt;/b&gt;" in text, "a text/plain result must be shown, escaped"
    assert f"data:image/png;base64,{PNG}" in text, "the PNG figure is missing"
    assert 'width="120"' in text, "the figure's numeric width must be kept"
    assert "$a&lt;b$" in text, "inline math must reach MathJax as $a<b$ (escaped once)"
    assert "$x_i&lt;1$" in text, "math in the instructions must be untouched"
    assert '<a href="https://example.org/docs">the docs</a>' in text, "a normal https link must survive"
    assert "The gradient vanishes because" in text, "the written answer is missing"
    assert "if a < b and b > c :" in visible_text(text), "the fenced code in the answer is missing"
    assert "ZeroDivisionError" in text, "the error output is missing"


def test_sanitising_reports_in_words_and_is_idempotent(sanitized):
    nb, report = sanitized
    said = " ".join(report)
    for words in ("HTML", "JavaScript", "SVG", "widget", "not valid base64", "raw or unknown cells",
                  "markdown cells", "cell ids", "notebook metadata"):
        assert words in said, f"the report should mention {words!r}: {report}"
    once = json.dumps(nb, sort_keys=True)
    assert sanitize_notebook(nb) == [], "a second pass should find nothing to remove"
    assert json.dumps(nb, sort_keys=True) == once, "a second pass should change nothing"
    nbformat.validate(nb)  # a sanitised notebook is a valid notebook, whatever came in


def test_sanitised_notebook_keeps_only_allowed_parts(sanitized):
    nb, _ = sanitized
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, f"unexpected notebook metadata {set(nb.metadata)}"
    assert "<" not in json.dumps(nb.metadata), "kernel and language names must lose their markup"
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids), ids
    for cell in nb.cells:
        assert cell.cell_type in ("code", "markdown"), f"a {cell.cell_type} cell was left"
        assert set(cell.metadata) <= {"nbgrader"}, f"cell metadata {set(cell.metadata)} was left"
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        assert re.fullmatch(r"[A-Za-z0-9_-]*", grade_id), f"grade id {grade_id!r} was left"
        for name, bundle in cell.get("attachments", {}).items():
            assert set(bundle) <= {"image/png", "image/jpeg"}, f"attachment {name} kept {set(bundle)}"
        for output in cell.get("outputs", []):
            assert set(output.get("data", {})) <= {"text/plain", "image/png", "image/jpeg"}, output
            for size in output.get("metadata", {}).values():
                assert all(isinstance(v, (int, float)) for v in size.values()), f"non-numeric image size {size}"
            if "execution_count" in output:
                assert output.execution_count is None or isinstance(output.execution_count, int)


def test_legitimate_notebook_is_left_alone():
    nb = notebook(legitimate_cells())
    before = json.dumps(nb, sort_keys=True)
    assert sanitize_notebook(nb) == [], "nothing should be removed from an honest notebook"
    assert json.dumps(nb, sort_keys=True) == before, "an honest notebook should not change"


def test_raw_cells_show_their_text_literally():
    source = "````\n<img src=x onerror=alert(1)>\n```` and `ticks`"
    nb = notebook([_cell("raw", source, metadata={"raw_mimetype": "text/html"})])
    sanitize_notebook(nb)
    (cell,) = nb.cells
    assert cell.cell_type == "markdown", "a raw cell should become markdown"
    rendered = markdown2html_mistune(cell.source)
    assert "<img" not in rendered and "&lt;img src=x onerror=alert(1)&gt;" in rendered, rendered
    assert "`ticks`" in rendered, "backticks inside the raw text should be shown, not interpreted"


def test_long_outputs_are_cut():
    nb = notebook([_cell("code", "print('x' * 10**6)", outputs=[
        _out("stream", name="stdout", text="x" * 1_000_000),
        _out("error", ename="E" * 1000, evalue="v" * 100_000, traceback=["t" * 100_000] * 1000)])])
    sanitize_notebook(nb)
    stream, error = nb.cells[0].outputs
    assert len(stream.text) <= 100_000 and stream.text.endswith("(output truncated)"), len(stream.text)
    assert len(error.ename) <= 200 and len(error.evalue) <= 5_000, (len(error.ename), len(error.evalue))
    assert len(error.traceback) <= 200 and max(map(len, error.traceback)) <= 5_000, len(error.traceback)
    assert sanitize_notebook(nb) == [], "cut outputs should stay as they are on a second pass"


def test_floods_are_cut():
    flood = [_out("display_data", data={"text/plain": str(i)}, metadata={}) for i in range(10_000)]
    nb = notebook([_cell("code", "flood()", outputs=flood), _cell("markdown", "<b>x</b> " * 100_000)])
    report = sanitize_notebook(nb)
    assert len(nb.cells[0].outputs) == 200, f"expected the first 200 outputs, got {len(nb.cells[0].outputs)}"
    assert any("beyond the first 200" in line for line in report), report
    assert nb.cells[1].source.startswith("```") and len(nb.cells[1].source) < 200_000, "a huge cell is cut and literal"
    assert sanitize_notebook(nb) == [], "a second pass should find nothing to do"


# ---------------------------------------------------------------------------------------------
# Markdown


@pytest.mark.parametrize("source", [
    "plain *text* with **bold**, `a<b` and $a<b$",
    "$$\n\\frac{a}{b} < 1\n$$",
    "\\begin{equation}x<y\\end{equation}",
    "[a link](https://example.org/a?b=1&c=2 \"title\") and <https://example.org> and www.example.org",
    "[relative](#section) and [mail](mailto:ta@example.org)",
    "![figure](data:image/png;base64," + PNG + ")",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "> quoted\n\n1. one\n2. two\n\n- [x] done",
    "```python\nif a < b & c:\n    pass\n```",
    "&alpha; &lt;not a tag&gt;",
])
def test_safe_markdown_leaves_safe_markdown_unchanged(source):
    assert safe_markdown(source) == (source, None), "safe markdown should pass through untouched"


@pytest.mark.parametrize("source", HOSTILE_MARKDOWN)
def test_safe_markdown_output_is_safe(source):
    text, _ = safe_markdown(source, ["ok.png"])
    assert safe_markdown(text, ["ok.png"]) == (text, None), f"the result for {source[:60]!r} is not safe yet"


@pytest.mark.parametrize("source, change", [
    ("<script>alert(1)</script>", "defused"),
    ("[x](javascript:alert(1))", "defused"),
    ("```mermaid\ngraph TD; A-->B\n```", "defused"),
    ("[x](&#106;avascript:alert(1))", "defused"),
    ("[x](javascript:alert((1)))", "literal"),  # nested brackets: the URL is not found in the source
])
def test_safe_markdown_says_what_it_did(source, change):
    assert safe_markdown(source)[1] == change, f"expected {change!r} for {source!r}"


def test_safe_markdown_escapes_html_but_keeps_math_and_code():
    text, change = safe_markdown("<b>x</b> with $a<b$ and `c<d` and [ok](https://example.org)")
    assert change == "defused", change
    rendered = markdown2html_mistune(text)
    assert "<b>" not in rendered and "<b>x</b> with" in visible_text(rendered), f"the tag should show as text: {rendered}"
    assert "$a&lt;b$" in rendered, f"math should render as it did: {rendered}"
    assert "<code>c&lt;d</code>" in rendered, f"code should render as it did: {rendered}"
    assert '<a href="https://example.org">ok</a>' in rendered, f"the safe link should stay: {rendered}"


def test_unsafe_links_are_removed_and_safe_ones_kept():
    text, _ = safe_markdown("[bad](javascript:alert(1)) [good](https://example.org) ![img](https://evil.example/p)")
    rendered = markdown2html_mistune(text)
    assert "javascript" not in rendered and "evil.example" not in rendered, rendered
    assert 'href="https://example.org"' in rendered, rendered


def test_literal_markdown_outruns_backticks():
    text = "``````\n<script>x</script>"
    rendered = markdown2html_mistune(literal_markdown(text))
    assert rendered.startswith("<pre><code>") and "&lt;script&gt;" in rendered, rendered


def test_plain_markdown_renders_text_literally():
    text = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) $a$ # not a heading\n1. not a list\n    not code"
    rendered = markdown2html_mistune(plain_markdown(text))
    page = Page(rendered)
    assert {tag for tag, _ in page.tags} <= {"p", "br"}, f"only paragraphs and breaks expected: {page.tags}"
    visible = visible_text(rendered)
    assert "<img src=x onerror=alert(1)> [x](javascript:alert(1)) $a$ # not a heading" in visible, visible
    assert "1. not a list" in visible and "not code" in visible, visible


# ---------------------------------------------------------------------------------------------
# One line for a terminal or a report


@pytest.mark.parametrize("text, expected", [
    ("\x1b[31mred\x1b[0m text", "red text"),
    ("title\x1b]0;owned\x07 and link \x1b]8;;https://x\x1b\\here\x1b]8;;\x1b\\", "title and link here"),
    ("over\rwrite", "over write"),
    ("two\nlines\r\nthree", "two lines three"),
    ("tab\there", "tab here"),
    ("bell\x07 and del\x7f", "bell and del"),
    ("c1\x85next \x9b31mx", "c1 next x"),
    ("admin\u202egnp.exe", "admingnp.exe"),
    ("\u2066isolate\u2069 zero\u200bwidth\ufeff", "isolate zerowidth"),
    ("line\u2028separator", "line separator"),
    ("  many   spaces\t\t", "many spaces"),
    (b"bytes \xff ok", "bytes \ufffd ok"),
    (ValueError("boom\nline"), "boom line"),
    (None, "None"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate"),
])
def test_console_text_is_one_printable_line(text, expected):
    assert console_text(text) == expected, f"expected {expected!r}"


def test_console_text_caps_at_a_word_boundary():
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa"
    capped = console_text(text, limit=24)
    assert capped == "alpha beta gamma delta…", f"expected the cut after a whole word, got {capped!r}"
    words = text.split()
    assert all(word in words for word in capped.rstrip("…").split()), f"a word was cut: {capped!r}"


def test_console_text_prefers_a_sentence_end_near_the_limit():
    text = "The kernel died while running cell three. It was restarted and the notebook went on with the next cell"
    capped = console_text(text, limit=56)
    assert capped == "The kernel died while running cell three.…", f"expected the cut at the sentence, got {capped!r}"


def test_console_text_keeps_whole_sentences_however_far_back_the_last_one_ends():
    text = ("sigmoid: 3 of 24 elements differ. The worst is at index (1, 2) where the function returned nan "
            "and the reference returned 0.0 for an input of -1000")
    capped = console_text(text, limit=100)
    assert capped == "sigmoid: 3 of 24 elements differ.…", f"expected only the whole first sentence, got {capped!r}"


def test_console_text_prefers_a_clause_end_near_the_limit():
    text = "the loss did not decrease after the first epoch, so the learning rate is probably too high"
    capped = console_text(text, limit=60)
    assert capped == "the loss did not decrease after the first epoch…", f"expected a cut at the clause: {capped!r}"


def test_console_text_does_not_take_a_comma_between_numbers_for_a_clause():
    capped = console_text("got an array of shape (4, 3) where (3, 4) was expected by the test", limit=33)
    assert capped == "got an array of shape (4, 3)…", f"expected the cut after the shape, got {capped!r}"


@pytest.mark.parametrize("limit", [1, 2, 5, 40, 300])
def test_console_text_never_exceeds_the_limit(limit):
    for text in ("x" * 10_000, "word " * 2_000, "\x1b[1m" * 5_000 + "tail", "é" * 10_000, "a. b, c; " * 1000):
        capped = console_text(text, limit=limit)
        assert len(capped) <= limit, f"{len(capped)} characters for a limit of {limit}"
        assert "\x1b" not in capped and "\n" not in capped


@pytest.mark.parametrize("text, expected", [
    ('=HYPERLINK("http://evil.example","click")', '\'=HYPERLINK("http://evil.example","click")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-1+1", "'-1+1"),
    ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
    ("\t=1+1", "'=1+1"),
    ("\r=1+1", "'=1+1"),
    ("  =1+1", "'=1+1"),
    ("\u200b=1+1", "'=1+1"),
    ("a normal note", "a normal note"),
    ("line one\nline two", "line one line two"),
])
def test_csv_cell_neutralises_formulas(text, expected):
    assert csv_cell(text) == expected, f"expected {expected!r}"


def test_csv_cell_respects_its_limit_with_the_quote():
    cell = csv_cell("=" + "a " * 1000, limit=50)
    assert cell.startswith("'=") and len(cell) <= 50, (cell, len(cell))


# ---------------------------------------------------------------------------------------------
# Hidden test code in messages

HIDDEN = """\
x_secret = np.linspace(-3.0, 3.0, 17)
assert np.allclose(softmax(x_secret).sum(), 1.0), "softmax must return probabilities that sum to one"
"""


def test_strip_hidden_echo_removes_repeated_lines():
    message = ("got: x_secret   =  np.linspace(-3.0, 3.0, 17) then assert np.allclose(softmax(x_secret).sum(), "
               "1.0), \"softmax must return probabilities that sum to one\"")
    stripped = strip_hidden_echo(message, HIDDEN)
    assert "linspace" not in stripped and "allclose" not in stripped, f"hidden lines were left: {stripped!r}"
    assert stripped.startswith("got:"), stripped


def test_strip_hidden_echo_keeps_short_lines_and_other_text():
    assert strip_hidden_echo("x = 1 is fine", "x = 1\n") == "x = 1 is fine", "short lines are not evidence"
    assert strip_hidden_echo("expected 3, got 4", HIDDEN) == "expected 3, got 4"


def test_repeats_hidden_finds_code_but_not_the_tests_own_message():
    assert repeats_hidden("look: np.allclose(softmax(x_secret)", HIDDEN), "a 20-character run of code is an echo"
    assert repeats_hidden("linspace(-3.0,   3.0, 17)", HIDDEN), "whitespace does not hide an echo"
    assert not repeats_hidden("softmax must return probabilities that sum to one", HIDDEN), \
        "the hidden test's own assertion message is meant to be shown"
    assert not repeats_hidden("expected 1.0, got 0.5", HIDDEN)


def test_repeats_hidden_falls_back_to_the_whole_source_when_it_does_not_parse():
    fragment = "    assert f('unterminated"  # a fragment does not tokenize: everything counts
    assert repeats_hidden("assert f('unterminated", fragment + "\n    more = (")
