"""What the feedback page says about each graded cell beyond its score: awaiting a human, or withdrawn.

:class:`FeedbackStatus` is a ``GenerateFeedback`` preprocessor that runs after nbgrader's
``GetGrades`` (see ``nbgrader_config.py``). For every written answer (a graded markdown cell)
that no grader has scored yet, it sets ``cell.metadata.dlcourse.awaiting_manual_grade`` and adds
its points to ``resources["dlcourse"]["awaiting_points"]``; the feedback template
(``templates/dlcourse_feedback/dlcourse_feedback.html.j2``) then reads "awaiting manual grading (5 points)" instead of
"Score: 0.0 / 5.0", and says in the header how many points are still to be graded by hand.

The other ``dlcourse`` key a cell can carry, ``withdrawn`` (why out-of-process probes took a test
cell's points), is written by the grader into the autograded notebook after the probes ran
(:func:`mark_withdrawn`); :mod:`dlcourse.grading.feedback` shows it in the test's result line.
Student code cannot forge either: the grader removes every ``dlcourse`` key from the autograded
notebook before it writes its own (:func:`clear_marks`).
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

KEY = "dlcourse"
TEMPLATE_NAME = "dlcourse_feedback"
#: The page's file (not index.html.j2: it extends nbgrader's, which it finds as index.html.j2 further up)
TEMPLATE_FILE = "dlcourse_feedback.html.j2"
TEMPLATES = Path(__file__).with_name("templates")


def template_dirs() -> list[str]:
    """The template folders of dlcourse's feedback page: nbgrader's (which it extends) and its own."""
    import nbgrader

    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    return [str(nbgrader_templates), str(TEMPLATES)]


def clear_marks(nb) -> None:
    """Remove every ``dlcourse`` key from the notebook and its cells (only the grader writes them)."""
    nb.get("metadata", {}).pop(KEY, None)
    for cell in nb.get("cells", []):
        if isinstance(cell.get("metadata"), dict):
            cell["metadata"].pop(KEY, None)


def mark_withdrawn(nb, reasons: dict[str, list[str]]) -> int:
    """Note on each graded cell named in ``reasons`` (grade id -> sentences) why its points were withdrawn."""
    marked = 0
    for cell in nb.get("cells", []):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in reasons:
            cell["metadata"].setdefault(KEY, {})["withdrawn"] = list(reasons[gid])
            marked += 1
    return marked


def withdrawn(cell) -> list[str]:
    """The grader's reasons for withdrawing this cell's points (see :func:`mark_withdrawn`), or []."""
    marks = cell.get("metadata", {}).get(KEY, {})
    reasons = marks.get("withdrawn") if isinstance(marks, dict) else None
    return [r for r in reasons if isinstance(r, str)] if isinstance(reasons, list) else []


class FeedbackStatus(Preprocessor):
    """Marks the written answers that await manual grading (see the module docstring)."""

    enabled = Bool(True, help="nbconvert runs a preprocessor only when it is enabled.").tag(config=True)

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook, MissingEntry

        info = resources["nbgrader"]
        awaiting = 0.0
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if cell.get("cell_type") != "markdown" or not meta.get("grade") or not meta.get("grade_id"):
                    continue
                try:
                    grade = gb.find_grade(meta["grade_id"], info["notebook"], info["assignment"], info["student"])
                except MissingEntry:
                    continue
                if grade.manual_score is None and grade.auto_score is None and grade.max_score:
                    cell.metadata.setdefault(KEY, {})["awaiting_manual_grade"] = True
                    awaiting += float(grade.max_score)
        resources.setdefault(KEY, {})["awaiting_points"] = awaiting
        return nb, resources
