"""Autograding happens through ``dlcourse grade`` only: nbgrader's own Autograde is refused with a reason.

nbgrader's formgrader has an *Autograde* button, and ``nbgrader autograde`` can be run by hand. Both
run plain nbgrader: no staging of the submission, no sandbox around the student's kernel, no probes,
no copy detection. The course's ``nbgrader_config.py`` puts :class:`RequireDlcourseGrade` first among
the autograde preprocessors; it lets a notebook through only when ``dlcourse grade`` started the
nbgrader process (:data:`GRADING_ENV` in its environment, see
:func:`dlcourse.grading.nbgrader_run.nbgrader_env`), and otherwise stops with a message that says
what to run instead. The formgrader stays useful for what it is good at: browsing submissions,
manual grading of written answers, and feedback.
"""

from __future__ import annotations

import os

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from dlcourse.grading.nbgrader_run import GRADING_ENV

REFUSAL = (
    "Autograding is disabled outside `dlcourse grade` for this course: nbgrader's own autograde "
    "(the formgrader's Autograde button, or `nbgrader autograde`) would run student code without the "
    "sandbox and the out-of-process probes. Run `dlcourse grade ASSIGNMENT --course-dir DIR` instead; "
    "the formgrader then shows its results, and manual grading works as usual."
)


class AutogradeOutsideDlcourse(RuntimeError):
    """nbgrader's autograde was started by something other than ``dlcourse grade``."""


class RequireDlcourseGrade(Preprocessor):
    """Refuse to autograde unless ``dlcourse grade`` runs this nbgrader process (see the module docstring)."""

    enabled = Bool(True, help="always on: a preprocessor off by default would let plain nbgrader through").tag(
        config=False)

    def preprocess(self, nb, resources):
        if os.environ.get(GRADING_ENV) != "1":
            raise AutogradeOutsideDlcourse(REFUSAL)
        return nb, resources
