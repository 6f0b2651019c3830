"""The course website (``make site``, ``python -m dlcourse.site``), built from the *student edition* with the
edition's package alone (what students get includes the site build), then opened page by page in headless
Chromium where it is installed (``make chromium``): no console errors, no request to another host, every
figure and formula rendered, links to JupyterLab and Binder, a working search. A screenshot of one lecture
page is kept in ``test-artifacts/`` (or ``$DLCOURSE_ARTIFACTS``)."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_fixtures import REPO
from dlcourse.site import SiteError, build_site
from dlcourse.site.browser import check_site, find_chromium
from dlcourse.site.static_widgets import WIDGET_STATE, WIDGET_VIEW, render_widget, staticize_widgets
from edition_fixtures import edition, edition_env  # noqa: F401 - the fixture

BINDER_REPO = "course-org/dl-student"
LECTURES = sorted((REPO / "lectures").glob("L[0-9][0-9]_*.ipynb"))
RELEASES = sorted(p for p in (REPO / "assignments").glob("*/*.ipynb") if p.stem == p.parent.name)
ARTIFACTS = Path(os.environ.get("DLCOURSE_ARTIFACTS", REPO / "test-artifacts"))
SCREENSHOT_OF = "lectures/L07_optimization.html"


@pytest.fixture(scope="module")
def site(edition, tmp_path_factory):  # noqa: F811 - the fixture
    out = tmp_path_factory.mktemp("site") / "site"
    proc = subprocess.run([sys.executable, "-m", "dlcourse.site", str(out), "--binder-repo", BINDER_REPO],
                          cwd=edition, env=edition_env(edition), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"the edition's site build failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    print(proc.stdout)
    return out


def _text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


def _figures(nb) -> int:
    """Figures a reader should see: image outputs, and the saved figure of each explorer."""
    count = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            count += "image/png" in data
            if WIDGET_VIEW in data:
                count += 1
    return count


def _try_it_questions(nb) -> int:
    cell = next(c for c in nb.cells if c.cell_type == "markdown" and re.search(r"^## Try it", c.source, re.M))
    section = cell.source.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return len(re.findall(r"^\d+\. ", section, re.M))


def test_home_page_holds_the_course_map_and_every_page(site):
    pages = json.loads((site / "pages.json").read_text())
    assert [p["source"] for p in pages] == ([f"lectures/{p.name}" for p in LECTURES]
                                           + [f"assignments/{p.parent.name}/{p.name}" for p in RELEASES])
    home = _text(site / "index.html")
    for page in pages:
        assert (site / page["page"]).is_file(), f"no page for {page['source']}"
        assert page["page"] in home, f"the home page does not link to {page['page']}"
    for lecture, page in zip(LECTURES, pages):
        first = nbformat.read(lecture, as_version=4).cells[0].source
        expected = re.findall(r"\bA\d\b", re.search(r"graded in[^\n]*", first).group(0))
        assert page["graded_in"] == expected, f"{lecture.name}: course map says {page['graded_in']}, lecture {expected}"
    table = home.split("Course map", 1)[1]
    for label in ("A1", "A2", "A3", "A4", "A5"):
        assert f">{label}<" in table, f"the course map does not link {label} to its assignment"


def test_the_site_never_shows_a_solution_or_a_hidden_test(site):
    """Lines of the solutions' answer and hidden-test regions that no lecture or release shows must not be on
    any page (the site is built from lectures and releases only)."""
    public = "\n".join(p.read_text() for p in LECTURES + RELEASES)
    secret = set()
    for source in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(source, as_version=4).cells:
            for region in re.findall(r"BEGIN (?:SOLUTION|HIDDEN TESTS)(.*?)END (?:SOLUTION|HIDDEN TESTS)", cell.source,
                                     flags=re.S):
                secret |= {line.strip() for line in region.splitlines()
                           if len(line.strip()) >= 40 and json.dumps(line.strip())[1:-1] not in public}
    assert len(secret) > 50, f"too few answer lines to make this test meaningful: {len(secret)}"
    pages = {p: _text(p) for p in site.rglob("*.html")}
    leaked = [(p.relative_to(site).as_posix(), line) for line in sorted(secret) for p, text in pages.items()
              if line in text]
    assert not leaked, f"answer or hidden-test lines on the site: {leaked[:5]}"


def test_explorers_are_shown_from_their_saved_state(site):
    explorers = [p for p in LECTURES if WIDGET_STATE in json.dumps(nbformat.read(p, as_version=4).metadata)]
    assert explorers, "no lecture has saved widget state"
    for lecture in explorers:
        page = (site / "lectures" / lecture.with_suffix(".html").name).read_text(encoding="utf-8")
        static = page.split('class="dl-widget-static"')[1:]
        assert static, f"{lecture.name}: its explorer is not on the page"
        assert any("data:image/png;base64," in block for block in static), f"{lecture.name}: explorer without figure"
        assert "disabled" in static[0] and "application/vnd.jupyter.widget" not in page, lecture.name


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (make chromium installs it as root)")
def test_every_page_reads_well_in_a_headless_browser(site):
    shot = ARTIFACTS / "site-lecture-L07.png"
    checks, hits = check_site(site, screenshot=(SCREENSHOT_OF, shot), search="momentum")
    by_page = {c.page: c for c in checks}
    assert set(by_page) == {"index.html"} | {p["page"] for p in json.loads((site / "pages.json").read_text())}
    problems = {c.page: c.problems for c in checks if c.problems}
    assert not problems, f"pages with problems: {json.dumps(problems, indent=1)[:4000]}"
    for source in LECTURES + RELEASES:
        kind = "lectures" if source in LECTURES else "assignments"
        check = by_page[f"{kind}/{source.stem}.html"]
        nb = nbformat.read(source, as_version=4)
        assert check.images >= _figures(nb), f"{source.name}: {check.images} image(s) on the page, {_figures(nb)} in it"
        relative = source.relative_to(REPO).as_posix()
        lab, binder = check.launch_links
        assert lab.endswith(relative) and "/lab/tree/" in lab, f"{source.name}: JupyterLab link {lab}"
        assert binder.startswith(f"https://mybinder.org/v2/gh/{BINDER_REPO}/") and "labpath=" in binder, binder
        assert check.search_box >= 1, f"{source.name}: no search box"
        if kind == "lectures":
            assert check.math_rendered == check.math and not check.math_raw, f"{source.name}: math not rendered"
            assert check.details >= _try_it_questions(nb), f"{source.name}: {check.details} collapsible answers"
    assert hits and hits > 0, "the search page found nothing for 'momentum'"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, f"no usable screenshot at {shot}"


def _models(**extra):
    img = base64.b64encode(b"\x89PNG fake").decode()
    models = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_row", "IPY_MODEL_out"]}},
        "row": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_lr", "IPY_MODEL_opt", "IPY_MODEL_flag"]}},
        "lr": {"model_name": "FloatSliderModel", "state": {"description": "log10 <lr>", "value": -1.5, "min": -4,
                                                           "max": 0, "step": 0.25, "readout_format": ".2f"}},
        "opt": {"model_name": "DropdownModel", "state": {"description": "optimizer", "index": 1,
                                                         "_options_labels": ["SGD", "Adam"]}},
        "flag": {"model_name": "CheckboxModel", "state": {"description": "all", "value": True}},
        "out": {"model_name": "OutputModel", "state": {"outputs": [
            {"output_type": "display_data", "data": {"image/png": img, "text/plain": "<Figure>"}, "metadata": {}}]}},
    }
    models.update(extra)
    return models


def test_saved_widget_state_renders_as_static_html():
    page = render_widget("box", _models())
    assert 'flex-direction:column' in page and 'flex-direction:row' in page
    assert 'value="-1.5"' in page and ">-1.50<" in page and "log10 &lt;lr&gt;" in page, page
    assert "<option selected>Adam</option>" in page and "<option>SGD</option>" in page
    assert 'type="checkbox" disabled checked' in page
    assert 'src="data:image/png;base64,' in page
    assert page.count("disabled") == 3, "every control is shown disabled"
    # a missing child, a cycle and an unknown model render as nothing instead of failing
    cyclic = _models(row={"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_box", "IPY_MODEL_gone"]}})
    assert 'src="data:image/png' in render_widget("box", cyclic)
    assert render_widget("nothing", _models()) == ""


def test_widget_outputs_are_replaced_and_the_state_dropped():
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {WIDGET_STATE: {"state": _models(), "version_major": 2, "version_minor": 0}}
    cell = nbformat.v4.new_code_cell("explorer")
    cell.outputs = [nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "box"}, "text/plain": "VBox()"}),
                    nbformat.v4.new_output("display_data", data={WIDGET_VIEW: {"model_id": "lost"}, "text/plain": "X"})]
    nb.cells = [cell]
    assert staticize_widgets(nb) == 2
    first, second = (o["data"] for o in cell.outputs)
    assert list(first) == ["text/html"] and "dl-widget-static" in first["text/html"]
    assert "run the notebook" in second["text/html"]
    assert "widgets" not in nb.metadata


def _tiny_course(tmp_path: Path, release_source: str) -> Path:
    (tmp_path / "lectures").mkdir()
    (tmp_path / "assignments" / "a9_demo").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# L01 — demo\ngraded in assignment A9")])
    nbformat.write(nb, tmp_path / "lectures" / "L01_demo.ipynb")
    release = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Assignment 9"),
                                              nbformat.v4.new_code_cell(release_source)])
    nbformat.write(release, tmp_path / "assignments" / "a9_demo" / "a9_demo.ipynb")
    return tmp_path


def test_a_release_that_still_holds_an_answer_stops_the_build(tmp_path):
    course = _tiny_course(tmp_path, "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n")
    with pytest.raises(SiteError, match=r"assignments/a9_demo/a9_demo.ipynb cell 1 .*solution"):
        build_site(tmp_path / "site", course)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("kwargs, name", [(dict(binder_repo="not a repo"), "binder_repo"),
                                          (dict(lab_url="localhost:8888"), "lab_url"),
                                          (dict(jobs=0), "jobs")])
def test_bad_arguments_are_named(tmp_path, kwargs, name):
    course = _tiny_course(tmp_path, "x = 1")
    with pytest.raises(SiteError, match=name):
        build_site(tmp_path / "site", course, **kwargs)
