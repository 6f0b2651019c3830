"""Build the course website: every lecture (with its committed outputs) and every assignment's release text
as static HTML, with Sphinx and myst-nb (nothing is executed).

The pages come from a staged copy of the notebooks, never from the originals:

* each explorer's saved widget state becomes static HTML (:mod:`dlcourse.site.static_widgets`), so the page
  shows the controls and the first figure without a widget manager or a network connection;
* each page starts with links that open the notebook in JupyterLab (``make lab``) and on Binder;
* only ``lectures/*.ipynb`` and ``assignments/<id>/<id>.ipynb`` (the releases) are read: solutions, hidden
  tests and grading files never enter the site, and a release that still carries a solution or
  hidden-test region stops the build;
* math is rendered by a MathJax 3 copy bundled with the site (from the ``sphinx-mathjax-offline`` package), so
  pages need no network; search is Sphinx's own (an index shipped with the pages).

The home page holds the course map: each lecture with the assignments that grade it (read from the line
"graded in assignment A1" that opens every lecture) and each assignment with its title.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import nbformat

from dlcourse.site.static_widgets import staticize_widgets

__all__ = ["DEFAULT_BINDER_REPO", "DEFAULT_LAB_URL", "SiteError", "SitePage", "SiteReport", "build_site",
           "find_course_dir"]

#: The GitHub repository of the student edition, which Binder launches (as ``dlcourse student-edition``).
DEFAULT_BINDER_REPO = "dlcourse/dlcourse-student"
#: Where ``make lab`` serves the course (JupyterLab's default port, the course folder as its root).
DEFAULT_LAB_URL = "http://localhost:8888/lab/tree"
TITLE = "Training Deep Neural Networks"
#: nbgrader regions that must never reach a page (a release never holds them; the build checks anyway).
FORBIDDEN = re.compile(r"BEGIN (SOLUTION|HIDDEN TESTS)|END (SOLUTION|HIDDEN TESTS)")


class SiteError(Exception):
    """The site cannot be built from this folder (what is missing or wrong, and where)."""


@dataclass(frozen=True)
class SitePage:
    kind: str            # "lecture" or "assignment"
    source: str          # the notebook, relative to the course folder
    page: str            # the HTML page, relative to the site folder
    title: str
    graded_in: tuple[str, ...] = ()   # lectures: the assignments that grade them ("A1", ...)
    widgets: int = 0     # explorers rendered from saved state


@dataclass
class SiteReport:
    out: Path
    pages: list[SitePage]
    seconds: float
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lectures = sum(p.kind == "lecture" for p in self.pages)
        lines = [f"site in {self.out}: {lectures} lecture(s), {len(self.pages) - lectures} assignment(s), "
                 f"{sum(p.widgets for p in self.pages)} explorer(s) from saved state, built in {self.seconds:.0f} s; "
                 f"open {self.out / 'index.html'}"]
        lines += [f"  warning: {w}" for w in self.warnings[:20]]
        return "\n".join(lines)


def find_course_dir(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current one) that has ``lectures/``."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "lectures").is_dir():
            return folder
    raise SiteError(f"no course folder (one with lectures/) at or above {here}")


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^# (.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def _launch_cell(relative: str, binder_repo: str, lab_url: str):
    lab = f"{lab_url.rstrip('/')}/{quote(relative)}"
    binder = f"https://mybinder.org/v2/gh/{binder_repo}/HEAD?labpath={quote(relative, safe='')}"
    return nbformat.v4.new_markdown_cell(
        f'<p class="dl-launch">Open this notebook: <a class="dl-launch-lab" href="{lab}">in JupyterLab</a> '
        f'(after <code>make lab</code>) · <a class="dl-launch-binder" href="{binder}">on Binder</a> · '
        f'<a href="https://github.com/{binder_repo}/blob/HEAD/{quote(relative)}">source</a></p>')


def _stage_notebook(source: Path, target: Path, relative: str, binder_repo: str, lab_url: str) -> tuple[str, int]:
    nb = nbformat.read(source, as_version=4)
    for i, cell in enumerate(nb.cells):
        if FORBIDDEN.search(cell.source):
            raise SiteError(f"{relative} cell {i} holds an nbgrader solution or hidden-test region: "
                            "the site is built from releases only (run dlcourse release)")
    widgets = staticize_widgets(nb)
    title = _title(nb, source.stem)
    nb.cells.insert(1 if nb.cells and nb.cells[0].cell_type == "markdown" else 0,
                    _launch_cell(relative, binder_repo, lab_url))
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return title, widgets


def _index(pages: list[SitePage]) -> str:
    lectures = [p for p in pages if p.kind == "lecture"]
    assignments = [p for p in pages if p.kind == "assignment"]
    by_label = {re.sub(r"^a(\d+).*", r"A\1", Path(p.source).stem): p for p in assignments}

    def link(p: SitePage, text: str | None = None) -> str:
        return f"[{text or p.title}]({Path(p.page).with_suffix('.ipynb').as_posix()})"

    rows = []
    for p in lectures:
        graded = ", ".join(link(by_label[a], a) if a in by_label else a for a in p.graded_in) or "–"
        rows.append(f"| {link(p)} | {graded} |")
    arows = [f"| {link(p, Path(p.source).stem)} | {p.title} |" for p in assignments]
    toc_l = "\n".join(Path(p.page).with_suffix("").as_posix() for p in lectures)
    toc_a = "\n".join(Path(p.page).with_suffix("").as_posix() for p in assignments)
    return f"""# {TITLE}

A course on training deep neural networks, from the perceptron to transfer learning: lectures you can read
here and run in JupyterLab, and assignments that you complete in numpy and PyTorch. Every page is a notebook:
the links at its top open it in JupyterLab or on Binder.

## Course map

| Lecture | Graded in |
| --- | --- |
{chr(10).join(rows)}

## Assignments

The student versions of the assignments: the tasks, the visible tests, and where your code goes.

| Assignment | Title |
| --- | --- |
{chr(10).join(arows)}

```{{toctree}}
:caption: Lectures
:maxdepth: 1
:hidden:

{toc_l}
```

```{{toctree}}
:caption: Assignments
:maxdepth: 1
:hidden:

{toc_a}
```
"""


CONF = """\
# Generated by dlcourse.site: the configuration of the course website (Sphinx + myst-nb).
project = {title!r}
html_title = {title!r}
extensions = ["myst_nb"]
nb_execution_mode = "off"          # the pages show the committed outputs; nothing is executed
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
html_theme = "sphinx_book_theme"
html_theme_options = {{"home_page_in_toc": True, "show_navbar_depth": 1, "use_download_button": True}}
html_static_path = ["_static"]
html_css_files = ["dlcourse.css"]
html_show_sourcelink = False
html_favicon = "_static/favicon.svg"
html_context = {{"default_mode": "light"}}
# MathJax 3, copied into _static/mathjax from the sphinx-mathjax-offline package: no network needed.
mathjax_path = "mathjax/tex-chtml.js"
"""

CSS = """\
.dl-launch { font-size: 0.9em; padding: 0.4em 0.8em; border-left: 3px solid #4a7bb7; background: #f3f6fa; }
.dl-widget-static { border: 1px solid #ccd; border-radius: 4px; padding: 0.5em; margin: 0.5em 0; }
.dl-widget { display: inline-flex; align-items: center; gap: 0.4em; margin: 0.1em 0; }
.dl-widget-label { min-width: 7em; text-align: right; }
.dl-widget-output img { max-width: 100%; }
.dl-widget-note { font-size: 0.85em; color: #555; margin: 0.3em 0 0 0; }
details { margin: 0.3em 0 0.8em 0; } details summary { cursor: pointer; color: #2a5d9f; }
"""


FAVICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2a5d9f"/>
<circle cx="4" cy="5" r="1.6" fill="#fff"/><circle cx="4" cy="11" r="1.6" fill="#fff"/><circle cx="12" cy="8" r="1.6" fill="#fff"/>
<path d="M5.5 5.4 10.5 7.6M5.5 10.6 10.5 8.4" stroke="#fff" stroke-width="1.1"/></svg>
"""


def _mathjax_dir() -> Path:
    """MathJax 3 as the ``sphinx-mathjax-offline`` package ships it (tex-chtml.js with its fonts)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    folder = Path(next(iter(spec.submodule_search_locations))) / "static" / "mathjax" if spec else None
    if folder is None or not (folder / "tex-chtml.js").is_file():
        raise SiteError("the site needs MathJax from the sphinx-mathjax-offline package (math without a network): "
                        "pip install the course's dependencies")
    return folder


def build_site(out: Path | str = "site", course_dir: Path | str | None = None, *,
               binder_repo: str = DEFAULT_BINDER_REPO, lab_url: str = DEFAULT_LAB_URL, jobs: int = 2) -> SiteReport:
    """Build the website into ``out`` (replaced) from ``course_dir``'s ``lectures/`` and ``assignments/``.

    Args:
        out: the site folder; its ``index.html`` is the home page.
        course_dir: the course (instructor repository or student edition); default: the nearest folder at
            or above the current one that has ``lectures/``.
        binder_repo: ``OWNER/NAME`` of the GitHub repository that Binder launches (the student edition).
        lab_url: the JupyterLab tree URL that the "in JupyterLab" links start with.
        jobs: Sphinx processes (>= 1).

    Returns:
        a :class:`SiteReport` (pages, seconds, Sphinx's warnings).

    Raises:
        SiteError: no lectures, a bad argument, a release with a solution region, or Sphinx failed.
    """
    started = time.perf_counter()
    if course_dir is None:
        course = find_course_dir()
    elif (Path(course_dir) / "lectures").is_dir():
        course = Path(course_dir).resolve()
    else:
        raise SiteError(f"course_dir {course_dir} has no lectures/ folder")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", binder_repo or ""):
        raise SiteError(f"binder_repo must be OWNER/NAME of a GitHub repository, got {binder_repo!r}")
    if not re.match(r"https?://", lab_url or ""):
        raise SiteError(f"lab_url must be an http(s) URL, got {lab_url!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SiteError(f"jobs must be a positive integer, got {jobs!r}")
    lectures = sorted((course / "lectures").glob("L[0-9][0-9]_*.ipynb"))
    if not lectures:
        raise SiteError(f"no lectures (lectures/Lxx_*.ipynb) in {course}")
    releases = sorted(p for p in (course / "assignments").glob("*/*.ipynb")
                      if p.stem == p.parent.name and ".ipynb_checkpoints" not in p.parts) \
        if (course / "assignments").is_dir() else []
    out = Path(out).resolve()
    if out == course or course in out.parents and out.parent == course and out.name in ("lectures", "assignments"):
        raise SiteError(f"refusing to build the site into {out}")

    with tempfile.TemporaryDirectory(prefix="dlcourse-site-") as tmp:
        src = Path(tmp) / "source"
        pages = []
        for nb_path in lectures:
            relative = nb_path.relative_to(course).as_posix()
            title, widgets = _stage_notebook(nb_path, src / "lectures" / nb_path.name, relative, binder_repo, lab_url)
            first = nbformat.read(nb_path, as_version=4).cells[0].source if nb_path.stat().st_size else ""
            graded = re.findall(r"\bA\d+\b", (re.search(r"graded in[^\n]*", first) or [""])[0])
            pages.append(SitePage("lecture", relative, f"lectures/{nb_path.stem}.html", title, tuple(graded), widgets))
        for nb_path in releases:
            relative = nb_path.relative_to(course).as_posix()
            title, widgets = _stage_notebook(nb_path, src / "assignments" / nb_path.name, relative, binder_repo,
                                             lab_url)
            pages.append(SitePage("assignment", relative, f"assignments/{nb_path.stem}.html", title, (), widgets))
        (src / "index.md").write_text(_index(pages), encoding="utf-8")
        (src / "conf.py").write_text(CONF.format(title=TITLE), encoding="utf-8")
        static = src / "_static"
        shutil.copytree(_mathjax_dir(), static / "mathjax")
        (static / "favicon.svg").write_text(FAVICON, encoding="utf-8")
        (static / "dlcourse.css").write_text(CSS, encoding="utf-8")

        if out.exists():
            shutil.rmtree(out)
        warnings_file = Path(tmp) / "warnings.txt"
        command = [sys.executable, "-m", "sphinx", "-b", "html", "-q", "-j", str(jobs), "-d", str(Path(tmp) / "doctrees"),
                   "-w", str(warnings_file), str(src), str(out)]
        env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
        proc = subprocess.run(command, capture_output=True, text=True, env=env)
        warnings = [w for w in warnings_file.read_text(errors="replace").splitlines() if w.strip()] \
            if warnings_file.exists() else []
        if proc.returncode != 0:
            raise SiteError(f"sphinx-build failed (exit {proc.returncode}):\n{(proc.stderr or proc.stdout)[-3000:]}")
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ as it is
    (out / "pages.json").write_text(json.dumps([p.__dict__ for p in pages], indent=1, default=list))
    warnings = [w.replace(str(src), "") for w in warnings]
    return SiteReport(out, pages, time.perf_counter() - started, warnings)
