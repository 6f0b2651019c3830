"""Feedback shows each test's result in the grader's words, and no hidden test code anywhere.

The notebooks here are built as nbgrader's ``GetGrades`` leaves an autograded notebook
(hidden tests restored, scores and comments in the nbgrader metadata), with outputs a
hostile kernel could have written: the hidden source printed as it ran, displayed as text
and HTML, stashed and printed by a later cell, and raised in exception messages.
"""

from __future__ import annotations

import copy
import html
import uuid

import nbformat
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbformat import NotebookNode

from dlcourse.grading.feedback import (
    BEGIN_HIDDEN,
    END_HIDDEN,
    INCIDENTS,
    NOT_RUN,
    PASSED,
    WITHHELD,
    HideHiddenTests,
    hidden_source,
    strip_hidden_region,
)
from dlcourse.grading.safe import sanitize_notebook
from test_safe_output import Page, active_content, notebook, render, visible_text

OWN_MESSAGE = "softmax must give probabilities"  # the hidden test's assertion message: meant to be read
HIDDEN_CODE = [
    "secret_inputs = np.array([0.125, -7.5, 3.25, 11.0])",
    "expected_probabilities = reference_softmax_hidden(secret_inputs)",
    f'assert np.allclose(softmax(secret_inputs), expected_probabilities), "{OWN_MESSAGE}"',
]
HIDDEN = "\n".join(HIDDEN_CODE)
PLACEHOLDER = HideHiddenTests().placeholder


def _meta(grade_id: str, *, grade: bool, solution: bool, points: float = 1.0, score: float | None = None,
          comment: str | None = None) -> dict:
    meta = {"grade": grade, "solution": solution, "locked": not solution, "grade_id": grade_id,
            "schema_version": 3, "cell_type": "code"}
    if grade:  # as GetGrades writes them
        meta.update(points=points, score=points if score is None else score)
    if solution:
        meta["comment"] = comment
    return {"nbgrader": meta}


def _code(source: str, outputs: list[dict], metadata: dict | None = None) -> NotebookNode:
    return nbformat.from_dict({"id": uuid.uuid4().hex[:8], "cell_type": "code", "execution_count": 1,
                               "metadata": metadata or {}, "source": source, "outputs": outputs})


def _test(grade_id: str, outputs: list[dict], *, hidden: bool = True, score: float | None = None) -> NotebookNode:
    source = "assert softmax(np.zeros(2)).sum() == 1"
    if hidden:
        source += f"\n{BEGIN_HIDDEN}\n{HIDDEN}\n{END_HIDDEN}"
    return _code(source, outputs, _meta(grade_id, grade=True, solution=False, score=score))


def _withdrawn(grade_id: str, reasons: list[str]) -> NotebookNode:
    """A test cell that passed in the kernel whose points the probes withdrew, as the grader marks it."""
    cell = _test(grade_id, [], score=0.0)
    cell.metadata["dlcourse"] = {"withdrawn": reasons}
    return cell


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def _display(data: dict) -> dict:
    return {"output_type": "display_data", "data": data, "metadata": {}}


def _error(ename: str, evalue: str) -> dict:
    return {"output_type": "error", "ename": ename, "evalue": evalue,
            "traceback": [f"{ename}: {evalue}", *HIDDEN_CODE]}


ECHO = [  # everything a kernel can do with the hidden source it saw
    _stream(f"pre_run_cell saw:\n{HIDDEN}\n"),
    _display({"text/plain": HIDDEN}),
    _display({"text/html": f"<pre>{html.escape(HIDDEN)}</pre><script>alert(1)</script>", "text/plain": "x"}),
    {"output_type": "execute_result", "data": {"text/plain": repr(HIDDEN)}, "metadata": {}, "execution_count": 1},
]
CASES = {  # grade id -> (cell, the one line its feedback must show)
    "visible_pass": (_test("visible_pass", [_stream("debug print\n")], hidden=False), PASSED),
    "hidden_pass": (_test("hidden_pass", ECHO), PASSED),
    "visible_fail": (_test("visible_fail", [_error("AssertionError", "expected 3, got 4")], hidden=False),
                     "Tests failed: AssertionError: expected 3, got 4"),
    "hidden_own_message": (_test("hidden_own_message", [*ECHO, _error("AssertionError", OWN_MESSAGE)]),
                           f"Tests failed: AssertionError: {OWN_MESSAGE}"),
    "hidden_line_in_message": (_test("hidden_line_in_message", [_error("AssertionError", f"got {HIDDEN_CODE[0]} !")]),
                               "Tests failed: AssertionError: got … !"),
    "hidden_fragment_in_message": (_test("hidden_fragment_in_message", [_error(
        "AssertionError", "look: np.allclose(softmax(secret_inputs), expected_prob")]),
        f"Tests failed: AssertionError: {WITHHELD}"),
    "hidden_in_ename": (_test("hidden_in_ename", [_error("expected_probabilities_reference_softmax_hidden", "x")]),
                        "Tests failed: Error: x"),
    "markup_in_ename": (_test("markup_in_ename", [_error("<img src=x onerror=alert(1)>", "boom")]),
                        "Tests failed: Error: boom"),
    "kernel_died": (_test("kernel_died", [*ECHO, _error("DeadKernelError", HIDDEN)]),
                    "Tests failed: " + INCIDENTS["DeadKernelError"][0].lower() + INCIDENTS["DeadKernelError"][1:]),
    "stderr": (_test("stderr", [_stream(HIDDEN, "stderr")]),
               "Tests failed: the cell wrote to standard error (which is not shown)."),
    "score_withdrawn": (_test("score_withdrawn", [], score=0.0),
                        "The tests ran without an error, but the recorded score is 0 of 1."),
    "probe_withdrew": (_withdrawn("probe_withdrew", ["softmax: 2 of 8 elements differ; the worst is at (1, 3): "
                                                     "got nan where 0.25 was expected (rtol 1e-07)"]),
                       "The tests passed in your notebook, but 1 of its 1 points were withdrawn: your functions were "
                       "run again outside the notebook, with new inputs, and did not give the expected results. "
                       "softmax: 2 of 8 elements differ; the worst is at (1, 3): got nan where 0.25 was expected "
                       "(rtol 1e-07)."),
    "probe_reason_repeats_hidden": (_withdrawn("probe_reason_repeats_hidden", [f"softmax: printed {HIDDEN_CODE[2]}"]),
                                    "The tests passed in your notebook, but 1 of its 1 points were withdrawn: your "
                                    "functions were run again outside the notebook, with new inputs, and did not give "
                                    "the expected results. softmax: printed …"),
}
INCIDENT_CELLS = {  # the error of an ordinary cell -> the one sentence its feedback must show
    "DeadKernelError": INCIDENTS["DeadKernelError"],
    "UnresponsiveKernelError": INCIDENTS["UnresponsiveKernelError"],
    "CellTimeoutError": INCIDENTS["CellTimeoutError"],
    "MemoryError": INCIDENTS["MemoryError"],
}


def autograded() -> NotebookNode:
    """An autograded notebook as the feedback preprocessors receive it, outputs forged by a hostile kernel."""
    answer = _code("def softmax(x):\n    return np.exp(x) / np.exp(x).sum()", [
        _stream("my own debug output\n"), _error("NameError", f"name {HIDDEN_CODE[1]!r} is not defined")],
        _meta("softmax_answer", grade=False, solution=True,
              comment="<script>alert('comment')</script> see [here](javascript:alert(1)) $x$"))
    written = nbformat.from_dict({"id": "written", "cell_type": "markdown", "source": "My answer: $a<b$.",
                                  "metadata": {"nbgrader": {**_meta("written", grade=True, solution=True)["nbgrader"],
                                                            "cell_type": "markdown", "comment": "Good, **but** <b>"}}})
    cells = [nbformat.from_dict({"id": "intro", "cell_type": "markdown", "metadata": {}, "source": "# Softmax"}),
             answer, written, *(cell for cell, _ in CASES.values())]
    cells.append(_code("print(stash)", [*ECHO, _error("RuntimeError", HIDDEN)]))  # a later cell prints the stash
    for ename in INCIDENT_CELLS:
        cells.append(_code(f"# {ename}", [_stream(HIDDEN), _error(ename, f"<script>{HIDDEN}</script>")]))
    not_run = _error("DeadKernelError", "not run: the kernel died too many times")  # ResilientExecute's words
    cells.append(_code("# after the last restart", [not_run]))
    return notebook(cells)


def feedback(nb: NotebookNode | None = None) -> NotebookNode:
    nb = autograded() if nb is None else nb
    out, _ = HideHiddenTests().preprocess(nb, {"nbgrader": {}})
    return out


def _by_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in nb.cells}


def _shown(cell: NotebookNode) -> list[str]:
    return [output.text.rstrip("\n") for output in cell.outputs]


@pytest.fixture(scope="module")
def fed() -> NotebookNode:
    return feedback()


@pytest.mark.parametrize("grade_id", CASES)
def test_test_cell_shows_one_line_in_the_graders_words(fed, grade_id):
    cell = _by_id(fed)[grade_id]
    expected = CASES[grade_id][1]
    assert _shown(cell) == [expected], f"{grade_id}: expected exactly {expected!r}, got {_shown(cell)}"
    failed = expected != PASSED
    assert cell.outputs[0].name == ("stderr" if failed else "stdout"), f"{grade_id}: a failure is shown as an error"


def test_test_cells_lose_their_hidden_region(fed):
    for grade_id, cell in _by_id(fed).items():
        if grade_id in CASES and grade_id.startswith("hidden"):
            assert BEGIN_HIDDEN not in cell.source and "secret_inputs" not in cell.source, cell.source
            assert PLACEHOLDER in cell.source, f"{grade_id}: the placeholder should stand in for the hidden tests"
            assert "assert softmax(np.zeros(2)).sum() == 1" in cell.source, "the visible test should stay"


def test_other_cells_show_no_outputs(fed):
    answer = _by_id(fed)["softmax_answer"]
    assert answer.outputs == [], f"the student's own outputs belong in their notebook: {answer.outputs}"
    later = [cell for cell in fed.cells if cell.cell_type == "code" and cell.source == "print(stash)"]
    assert later and later[0].outputs == [], "a later cell that prints the stashed hidden source must show nothing"


@pytest.mark.parametrize("ename", INCIDENT_CELLS)
def test_incidents_get_a_fixed_sentence(fed, ename):
    (cell,) = [cell for cell in fed.cells if cell.cell_type == "code" and cell.source == f"# {ename}"]
    assert _shown(cell) == [INCIDENT_CELLS[ename]], f"{ename}: expected only the fixed sentence, got {_shown(cell)}"


def test_cells_after_the_last_restart_say_they_were_not_run(fed):
    (cell,) = [cell for cell in fed.cells if cell.source == "# after the last restart"]
    assert _shown(cell) == [NOT_RUN], _shown(cell)


def test_note_comes_first(fed):
    first = fed.cells[0]
    assert first.cell_type == "markdown" and "Each test cell shows its result" in first.source, first.source
    assert "in your notebook" in first.source


def test_comments_become_plain_text(fed):
    rendered = markdown2html_mistune(_by_id(fed)["softmax_answer"].metadata.nbgrader.comment)
    page = Page(rendered)
    assert {tag for tag, _ in page.tags} <= {"p", "br"}, f"the comment should render as text only: {page.tags}"
    assert "<script>alert('comment')</script> see [here](javascript:alert(1)) $x$" in visible_text(rendered), \
        "the comment should read as the grader wrote it"


def test_no_output_repeats_hidden_code(fed):
    shown = " ".join(" ".join(_shown(cell)) for cell in fed.cells if cell.cell_type == "code")
    shown = shown.replace(OWN_MESSAGE, "")
    for line in HIDDEN_CODE:
        for start in range(0, len(line) - 20):
            assert line[start:start + 20] not in shown, f"hidden code {line[start:start + 20]!r} is shown"


@pytest.mark.parametrize("template", ["feedback", "dlcourse_feedback", "lab"])
def test_rendered_feedback_holds_no_hidden_code_and_nothing_active(fed, template):
    page = render(fed, template)
    text = visible_text(page)
    assert "BEGIN HIDDEN" not in page and "END HIDDEN" not in page, "the hidden test markers leaked"
    for line in HIDDEN_CODE:
        assert " ".join(line.split()) not in text, f"hidden test line {line!r} is on the page"
        assert "secret_inputs" not in text and "reference_softmax_hidden" not in text, "hidden names are on the page"
    assert "Tests failed: AssertionError: expected 3, got 4" in text
    assert INCIDENTS["MemoryError"] in text
    clean = render(notebook([nbformat.v4.new_markdown_cell("x")]), template)
    found = active_content(Page(page), Page(clean))
    assert not found, f"active content reached the feedback page: {found[:5]}"


def test_feedback_of_an_already_sanitised_notebook_is_the_same():
    """The pipeline sanitises autograded notebooks before nbgrader makes feedback from them."""
    def shown(nb: NotebookNode) -> list:
        return [(c.cell_type, c.source, [o.get("text") for o in c.get("outputs", [])]) for c in nb.cells[1:]]

    nb = autograded()
    sanitize_notebook(nb)  # which drops every mark but nbgrader's: the grader then marks withdrawn points again
    for cell, original in zip(nb.cells, autograded().cells):
        if "dlcourse" in original.metadata:
            cell.metadata["dlcourse"] = original.metadata["dlcourse"]
    assert shown(feedback(nb)) == shown(feedback()), "sanitising first should not change the feedback"


def test_old_notebooks_without_cell_ids_stay_valid():
    nb = autograded()
    nb.nbformat_minor = 4
    for cell in nb.cells:
        del cell["id"]
    out = feedback(nb)
    assert all("id" not in cell for cell in out.cells), "nbformat 4.4 cells have no ids"
    nbformat.validate(out)


def test_feedback_notebook_is_valid(fed):
    nbformat.validate(copy.deepcopy(fed))


def test_strip_hidden_region_and_hidden_source():
    source = f"visible()\n    {BEGIN_HIDDEN}\n    secret()\n    {END_HIDDEN}\nafter()"
    stripped, found = strip_hidden_region(source, "# hidden")
    assert found and stripped == "visible()\n    # hidden\nafter()", stripped
    assert hidden_source(source) == "    secret()", hidden_source(source)
    assert strip_hidden_region("plain()", "# hidden") == ("plain()", False)


def test_a_written_answer_awaiting_a_grader_says_so_instead_of_a_zero_score():
    """dlcourse's feedback template: "awaiting manual grading (2.0 points)", not "Score: 0.0 / 2.0"."""
    from test_safe_output import FEEDBACK_RESOURCES

    from dlcourse.grading.feedback_status import TEMPLATE_NAME

    nb = feedback()
    written = _by_id(nb)["written"]
    written.metadata.nbgrader.update(points=2.0, score=0.0)
    written.metadata["dlcourse"] = {"awaiting_manual_grade": True}
    graded_answer = copy.deepcopy(written)
    graded_answer.id = "written-graded"
    graded_answer.metadata.nbgrader.update(grade_id="written_graded", score=1.5)
    del graded_answer.metadata["dlcourse"]
    nb.cells.append(graded_answer)
    resources = copy.deepcopy(FEEDBACK_RESOURCES)
    resources["dlcourse"] = {"awaiting_points": 2.0}
    from test_safe_output import _exporter, _graded

    page, _ = _exporter(TEMPLATE_NAME).from_notebook_node(_graded(nb), resources=resources)
    text = " ".join(visible_text(page).split())
    assert "Written response (awaiting manual grading (2.0 points))" in text, "the table of contents should say so"
    assert "awaiting manual grading (2.0 points) (Top)" in text, "the answer's heading should say so"
    assert "Score: 0.0 / 2.0" not in text, "an ungraded answer must not read as a zero"
    assert "Score: 1.5 / 2.0" in text, "a graded answer shows its score"
    assert "2.0 of these points are for written answers that are awaiting manual grading" in text
    assert "My answer:" in text, "the answer itself is shown"
