"""The lectures as students read them: one notebook per lecture of the course map, committed
with outputs (readable without running), no errors, a "Try it" section and a summary, and small
enough to open quickly. nbval executes them separately in `make test`."""

import re

import nbformat
import pytest

from course_fixtures import REPO

LECTURES = sorted((REPO / "lectures").glob("L[0-9][0-9]_*.ipynb"))
MAX_BYTES = 2 * 2**20


COURSE_LECTURES = 11  # L01-L11, the course map in README.md and DESIGN.md


def test_every_lecture_of_the_course_map_is_there_once():
    numbers = [int(p.name[1:3]) for p in LECTURES]
    assert numbers == list(range(1, COURSE_LECTURES + 1)), (
        f"expected one notebook for each of L01-L{COURSE_LECTURES:02d}, found {[p.name for p in LECTURES]}")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_is_committed_with_outputs_and_no_errors(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    unexecuted = [i for i, c in enumerate(nb.cells) if c in code and not c.get("execution_count")]
    assert not unexecuted, f"{path.name}: code cells without outputs (execute it and commit): {unexecuted[:5]}"
    counts = [c.execution_count for c in code]
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order: {counts}"
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs in cells {errors}"
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.outputs), f"{path.name}: no figure"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_ends_with_try_it_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    headings = [line.lstrip("#").strip().lower() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if re.match(r"^#{1,3} ", line)]
    assert any(h.startswith("try it") for h in headings), f"{path.name}: no 'Try it' section"
    assert any(h.startswith("summary") for h in headings), f"{path.name}: no 'Summary' section"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_is_small_enough_to_open_quickly(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size / 2**20:.1f} MB (limit 2 MB)"


# --- second edition (#21): explorers with saved state, self-check answers, no internal vocabulary ---

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Lectures with an interactive explorer whose state (controls and first figure) is saved in the notebook.
EXPLORER_LECTURES = ("L04", "L06", "L07", "L08", "L11")


def _lecture(prefix: str):
    (path,) = [p for p in LECTURES if p.name.startswith(prefix)]
    return path


@pytest.mark.parametrize("prefix", EXPLORER_LECTURES)
def test_explorer_opens_with_its_controls_and_first_figure_without_a_kernel(prefix):
    """Every widget the notebook displays is in its saved state, and every output area a displayed
    widget holds already has a figure: JupyterLab and the site render it on open, before anything runs."""
    path = _lecture(prefix)
    nb = nbformat.read(path, as_version=4)
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    shown = [o.data[WIDGET_VIEW]["model_id"] for c in nb.cells if c.cell_type == "code"
             for o in c.outputs if WIDGET_VIEW in o.get("data", {})]
    assert shown, f"{path.name}: no interactive explorer is displayed (ipywidgets)"
    missing = [m for m in shown if m not in state]
    assert not missing, f"{path.name}: displayed widgets without saved state (execute with widget state saved): {missing}"

    def reachable(model_id, seen):
        if model_id in seen or model_id not in state:
            return seen
        seen.add(model_id)
        for value in state[model_id]["state"].values():
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item.startswith("IPY_MODEL_"):
                    reachable(item[len("IPY_MODEL_"):], seen)
        return seen

    areas = [m for root in shown for m in reachable(root, set()) if state[m]["model_name"] == "OutputModel"]
    assert areas, f"{path.name}: the explorer has no output area for its figure"
    empty = [m for m in areas if not any("image/png" in o.get("data", {}) for o in state[m]["state"].get("outputs", []))]
    assert not empty, (f"{path.name}: output areas saved without a figure (draw once before saving, "
                       f"e.g. dlcourse.plots.figure_explorer): {empty}")


def _try_it_items(nb) -> list[str]:
    """The numbered items of the lecture's "Try it" section (each with its indented continuation)."""
    text, inside = [], False
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if re.match(r"^#{1,3} ", line):
                inside = line.lstrip("#").strip().lower().startswith("try it")
                continue
            if inside:
                text.append(line)
    items = re.split(r"^(?=\d+\. )", "\n".join(text), flags=re.M)
    return [item for item in items if re.match(r"\d+\. ", item)]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_every_try_it_question_has_a_collapsible_answer(path):
    items = _try_it_items(nbformat.read(path, as_version=4))
    assert items, f"{path.name}: the 'Try it' section has no numbered questions"
    for item in items:
        head = item.splitlines()[0][:70]
        answer = re.search(r"<details>\s*<summary>.*?</summary>(.*?)</details>", item, flags=re.S)
        assert answer, f"{path.name}: 'Try it' question without a <details><summary>…</summary> answer: {head!r}"
        assert len(answer.group(1).strip()) >= 80, f"{path.name}: the answer to {head!r} is too short to help"


#: Words of the instructor's workshop that must never reach a student (cite the published work instead).
INTERNAL_VOCABULARY = re.compile(
    r"seed[- ]?(notes?|files?|topics?|lectures?|material)\b|\bseeds/|\b(in|from) the seeds\b|\bthe seed's\b"
    r"|\blecture notes\b|\bthe notes\b|\bthe notes'|\bthe slides?\b|\bthe lecture's\b", re.I)


def _student_texts():
    for path in LECTURES + sorted((REPO / "assignments").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            yield f"{path.relative_to(REPO)} cell {i}", cell.source
    for path in sorted((REPO / "dlcourse").rglob("*.py")):
        if not {"grading", "edition"} & set(path.relative_to(REPO).parts) and path.name != "cli.py":
            yield str(path.relative_to(REPO)), path.read_text()


def test_student_facing_text_has_no_internal_vocabulary():
    found = [(where, m.group(0)) for where, text in _student_texts() for m in INTERNAL_VOCABULARY.finditer(text)]
    assert not found, f"internal vocabulary in student-facing text (cite the published work): {found[:10]}"


def _readme_course_map() -> dict[str, list[str]]:
    rows = re.findall(r"^\| (L\d\d) \| [^|]+ \| ([A\d, ]+) \|$", (REPO / "README.md").read_text(), re.M)
    return {lecture: re.findall(r"A\d", graded) for lecture, graded in rows}


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_opens_with_its_place_in_the_course_map(path):
    """The line under each lecture's title says which assignments grade it (the website's course map
    reads it), and it agrees with the README's course map."""
    first = nbformat.read(path, as_version=4).cells[0].source
    number = int(path.name[1:3])
    line = re.search(rf"^\*\*Course:\*\* Training Deep Neural Networks · \*\*Lecture {number}\*\* · graded in (.*)$",
                     first, re.M)
    assert line, (f"{path.name}: the first cell should have the line '**Course:** Training Deep Neural Networks · "
                  f"**Lecture {number}** · graded in assignment A…'")
    expected = _readme_course_map()[path.name[:3]]
    assert re.findall(r"\bA\d\b", line.group(1)) == expected, f"{path.name}: {line.group(0)!r}, README says {expected}"


SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
#: a lecture may share a few lines with an answer (a helper the assignment text spells out, such as
#: ``synchronize``); a code cell that holds this many of one region's lines hands the answer out
MAX_SHARED_SOLUTION_LINES = 6


def _significant_lines(source: str) -> list[str]:
    """Code lines without comments and whitespace, ignoring the short ones (``return x``, ``else:``)."""
    lines = (re.sub(r"\s+", "", line.split("#")[0]) for line in source.splitlines())
    return [line for line in lines if len(line) > 8]


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.name[:3])
def test_lecture_does_not_hand_out_an_assignment_solution(path):
    """Students receive the lectures with the releases: a lecture's code must not contain the body of an
    exercise's solution (L10 once trained a4's two-layer network line for line)."""
    cells = [_significant_lines(c.source) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    leaks = []
    for solution in sorted((REPO / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(solution, as_version=4).cells:
            for region in SOLUTION_REGION.findall(cell.source):
                answer = _significant_lines(region)
                for lines in cells:
                    shared = [line for line in answer if line in set(lines)]
                    if len(shared) >= MAX_SHARED_SOLUTION_LINES:
                        leaks.append(f"{solution.parent.name}: {len(shared)} of {len(answer)} lines, e.g. {shared[:3]}")
    assert not leaks, f"expected {path.name} to share fewer than {MAX_SHARED_SOLUTION_LINES} lines with any " \
                      f"solution region; found: {leaks}"
