"""Feedback that shows each test's result, and nothing a submission could forge or leak.

nbgrader builds the feedback HTML from the autograded notebook, which holds the hidden
tests restored from the gradebook. Student code ran in that notebook's kernel and could
write anything into any output: the source of every cell as it runs (IPython's
``pre_run_cell`` event), hidden tests included, printed at once or stashed and printed by
a later cell, raised in an exception message, or as HTML and scripts. So
:class:`HideHiddenTests`, a ``GenerateFeedback`` preprocessor that runs after nbgrader's
``GetGrades`` (see ``nbgrader_config.py``):

- replaces the hidden region of each test cell by one comment line;
- replaces all outputs of each test cell by one line it writes itself: ``Tests passed.``,
  ``Tests failed: <error>: <message>``, where the message is cut short (after its last
  whole sentence that fits), loses every hidden line it repeats, and is withheld if it still
  repeats hidden test code, or, when the out-of-process probes withdrew the points of a test
  that passed, why (the probes' messages, checked the same way);
- drops the outputs of every other code cell (the student has them in their notebook),
  keeping only a fixed sentence when the cell stopped or hung the kernel, timed out or
  ran out of memory;
- turns grader comments into plain text, puts a note at the top, and sanitises the whole
  notebook (:func:`dlcourse.grading.safe.sanitize_notebook`).
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output
from traitlets import Bool, Unicode

from dlcourse.grading.execute import KERNEL_DIED, KERNEL_HUNG, OUT_OF_MEMORY
from dlcourse.grading.feedback_status import withdrawn
from dlcourse.grading.safe import (
    console_text,
    plain_markdown,
    repeats_hidden,
    sanitize_notebook,
    strip_hidden_echo,
)

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

#: What the feedback says about a cell whose error has one of these names, whatever its message says.
INCIDENTS = {
    KERNEL_DIED: "This cell stopped the kernel (os._exit, a crash or the memory limit); "
                 "grading continued in a fresh kernel.",
    KERNEL_HUNG: "This cell hung the kernel: it ran past the time limit and ignored the interrupt; "
                 "grading continued in a fresh kernel.",
    "CellTimeoutError": "This cell ran past the time limit and was interrupted.",
    OUT_OF_MEMORY: "This cell ran out of memory; grading continued in a fresh kernel without it.",
}
# ResilientExecute's message for the cells after the last allowed restart (its own text, not the student's)
NOT_RUN_PREFIX = "not run:"
NOT_RUN = "This cell was not run: the kernel died too many times."
PASSED = "Tests passed."
WITHHELD = "(the message is not shown because it repeats hidden test code)"
MESSAGE_LIMIT = 500
_ERROR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]{0,79}")


def strip_hidden_region(source: str, placeholder: str) -> tuple[str, bool]:
    """``source`` with every hidden-test region replaced by ``placeholder``, and whether it had one."""
    kept: list[str] = []
    inside = False
    found = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = found = True
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(indent + placeholder)
            continue
        if END_HIDDEN in line:
            inside = False
            continue
        if not inside:
            kept.append(line)
    return "\n".join(kept), found


def hidden_source(source: str) -> str:
    """The lines of ``source`` inside its hidden-test regions."""
    lines: list[str] = []
    inside = False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif inside:
            lines.append(line)
    return "\n".join(lines)


def _nbgrader(cell) -> dict:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def is_test_cell(cell) -> bool:
    """A code cell nbgrader grades by running it (``grade`` and not ``solution``)."""
    meta = _nbgrader(cell)
    return cell.get("cell_type") == "code" and meta.get("grade") is True and not meta.get("solution")


def _errors(cell) -> list[dict]:
    return [o for o in cell.get("outputs", []) if isinstance(o, dict) and o.get("output_type") == "error"]


def _incident(output) -> str | None:
    """The fixed sentence for an error that is an incident (chosen by its name only), else None."""
    ename = output.get("ename")
    if ename == KERNEL_DIED and str(output.get("evalue", "")).startswith(NOT_RUN_PREFIX):
        return NOT_RUN
    return INCIDENTS.get(ename) if isinstance(ename, str) else None


def _line(text: str, failed: bool) -> NotebookNode:
    """An output the grader writes: failures on stderr, so the page shows them as errors."""
    return new_output("stream", name="stderr" if failed else "stdout", text=text + "\n")


class _Guard:
    """Says an error in words, without the hidden test code its name or message may repeat.

    Student code saw every hidden test of the notebook before the last cell ran, so every
    message is checked against all of them, whichever cell it came from.
    """

    def __init__(self, regions: list[str]):
        self.regions = [region for region in regions if region.strip()]  # per cell: each tokenizes alone
        self.lines = [line for region in self.regions for line in region.split("\n")]

    def _repeats(self, text: str) -> bool:
        return any(repeats_hidden(text, region) for region in self.regions)

    def describe(self, error) -> str:
        ename = error.get("ename")
        if not isinstance(ename, str) or not _ERROR_NAME.fullmatch(ename) or self._repeats(ename):
            ename = "Error"
        # normalise first, so that a hidden line split over several lines is still recognised
        message = console_text(error.get("evalue", ""), limit=20_000)
        message = console_text(strip_hidden_echo(message, self.lines), limit=MESSAGE_LIMIT)
        if self._repeats(message):
            message = WITHHELD
        return f"{ename}: {message}" if message else ename

    def reason(self, text: str) -> str:
        """A probe's reason for withdrawing points, checked as an error message is (it may quote student output)."""
        message = console_text(strip_hidden_echo(console_text(text, limit=20_000), self.lines), limit=MESSAGE_LIMIT)
        return WITHHELD if self._repeats(message) else message


def result_line(cell, guard: _Guard) -> tuple[str, bool]:
    """What a test cell's run says, in one line the grader writes, and whether it failed.

    The cell failed when it raised an error or wrote to stderr (nbgrader scores either as 0).
    When it did neither but the recorded score is lower than its points (a probe outside the
    notebook, a grader or partial credit changed it), the line says so.
    """
    errors = _errors(cell)
    incidents = [sentence for sentence in map(_incident, errors) if sentence]
    if incidents:
        return f"Tests failed: {incidents[0][0].lower()}{incidents[0][1:]}", True
    if errors:
        return f"Tests failed: {guard.describe(errors[0])}", True
    if any(isinstance(o, dict) and o.get("output_type") == "stream" and o.get("name") == "stderr"
           for o in cell.get("outputs", [])):
        return "Tests failed: the cell wrote to standard error (which is not shown).", True
    meta = _nbgrader(cell)
    score, points = meta.get("score"), meta.get("points")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (score, points))
    reasons = withdrawn(cell)
    if numbers and score < points and reasons:
        return (f"The tests passed in your notebook, but {points - score:g} of its {points:g} points were withdrawn: "
                f"your functions were run again outside the notebook, with new inputs, and did not give the "
                f"expected results. " + " ".join(_sentence(guard.reason(r)) for r in reasons)), True
    if numbers and score < points:
        return f"The tests ran without an error, but the recorded score is {score:g} of {points:g}.", True
    return PASSED, False


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?", "…")) else text + "."


class HideHiddenTests(Preprocessor):
    """Feedback with each test's result in the grader's words, and no hidden test code anywhere."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled.").tag(config=True)
    placeholder = Unicode(
        "# Hidden tests ran here; their code is not shown, their result is below.",
        help="The comment that stands in for a hidden test region.",
    ).tag(config=True)
    note = Unicode(
        "**About this feedback.** Each test cell shows its result. The outputs of your own cells "
        "are not repeated here: they are in your notebook.",
        help="Markdown put at the top of the feedback.",
    ).tag(config=True)

    def preprocess(self, nb, resources):
        """Rewrite the autograded notebook ``nb`` into its feedback; ``resources`` pass through."""
        code = [cell for cell in nb.cells if cell.get("cell_type") == "code"]
        guard = _Guard([hidden_source(str(cell.get("source", ""))) for cell in code])
        for cell in code:
            cell.source, _ = strip_hidden_region(str(cell.get("source", "")), self.placeholder)
            if is_test_cell(cell):
                text, failed = result_line(cell, guard)
                cell.outputs = [_line(text, failed)]
            else:  # one line per kind of incident, in order
                sentences = dict.fromkeys(sentence for sentence in map(_incident, _errors(cell)) if sentence)
                cell.outputs = [_line(sentence, True) for sentence in sentences]
        for cell in nb.cells:
            meta = _nbgrader(cell)
            if isinstance(meta.get("comment"), str):  # GetGrades's copy of the grader's comment
                meta["comment"] = plain_markdown(meta["comment"])
        top = new_markdown_cell(self.note)
        if not (isinstance(nb.get("nbformat_minor"), int) and nb.nbformat_minor >= 5):
            del top["id"]  # cell ids came with nbformat 4.5
        nb.cells.insert(0, top)
        sanitize_notebook(nb)
        return nb, resources
