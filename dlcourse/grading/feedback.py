"""Feedback that never shows hidden tests.

nbgrader builds feedback HTML from the autograded notebook, which holds the hidden
tests restored from the gradebook, and an IPython traceback prints the failing line
with its context. :class:`HideHiddenTests` removes both: the hidden region of each
test cell is replaced by one comment line, and the error of such a cell is reduced
to its last line (``AssertionError: <message>``), which says what failed and why.
It is registered in ``nbgrader_config.py`` as a ``GenerateFeedback`` preprocessor.
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"


def strip_hidden_region(source: str, placeholder: str) -> tuple[str, bool]:
    """Return ``source`` with every hidden-test region replaced by ``placeholder``."""
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


class HideHiddenTests(Preprocessor):
    """Remove hidden test code and tracebacks from notebooks before they become feedback."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled.").tag(config=True)
    placeholder = Unicode(
        "# Hidden tests ran here; their code is not shown, their result is below.",
        help="The comment that stands in for a hidden test region.",
    ).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        source, found = strip_hidden_region(cell.source, self.placeholder)
        if found:
            cell.source = source
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources
