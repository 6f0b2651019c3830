"""What a test cell may write to stderr: one rule for the grader and for ``nbgrader validate``.

nbgrader scores a test cell 0 as soon as it has *any* stderr output. The course's grader
removes stderr outputs that match :data:`IGNORED_STDERR` first (nbgrader's ``IgnorePattern``
preprocessor, configured in ``nbgrader_config.py``), so a warning such as numpy's
``RuntimeWarning: overflow encountered in exp`` does not cost points; a test that must fail on
a warning turns it into an exception itself (``call_student(..., fail_on_warning=True)``).

nbgrader's ``Validator`` (``nbgrader validate``, ``make validate`` and JupyterLab's Validate
button) runs a fixed list of preprocessors without ``IgnorePattern``, so it would report such a
cell as failed. :func:`apply_to_validation`, called from the same ``nbgrader_config.py``, extends
nbgrader's ``Execute.on_cell_executed`` (its hook after each cell) with :func:`drop_ignored_stderr`:
the grader's ``IgnorePattern``, applied to every cell right after it runs, and only while nbgrader
validates (it sets ``NBGRADER_VALIDATING``). Autograding keeps its own ``IgnorePattern`` step, so
the grader's path is unchanged, and validation reports exactly the cells the grader scores 0.

Example (``nbgrader_config.py``)::

    from dlcourse.grading.stderr_policy import IGNORED_STDERR, apply_to_validation
    c.IgnorePattern.enabled = True
    c.IgnorePattern.pattern = IGNORED_STDERR
    apply_to_validation()
"""

from __future__ import annotations

import functools
import os
from typing import Any

__all__ = ["IGNORED_STDERR", "apply_to_validation", "drop_ignored_stderr"]

#: stderr outputs matching this regular expression (``re.search``) do not fail a test cell
IGNORED_STDERR = r"Warning"


def drop_ignored_stderr(cell: Any, cell_index: int, pattern: str = IGNORED_STDERR, **_: Any) -> None:
    """Remove the stderr outputs of an executed cell that the grader ignores, while nbgrader validates.

    Called with the executed ``cell`` (its outputs are changed in place) and its index, like
    nbclient's ``on_cell_executed`` hook. Outside ``nbgrader validate`` it does nothing.

    Args:
        cell: the notebook cell that just ran.
        cell_index: its position in the notebook.
        pattern: the regular expression of ignored stderr text (the grader's ``IgnorePattern.pattern``).

    Raises:
        ValueError: ``pattern`` is empty (``IgnorePattern`` would then ignore nothing, silently).

    PyTorch counterpart: none (nbgrader's ``IgnorePattern`` preprocessor, which this applies).
    """
    if not pattern:
        raise ValueError("pattern must be a non-empty regular expression")
    if os.environ.get("NBGRADER_VALIDATING") != "1" or cell.get("cell_type") != "code":
        return
    from nbgrader.preprocessors import IgnorePattern

    IgnorePattern(enabled=True, pattern=pattern).preprocess_cell(cell, {}, cell_index)


def apply_to_validation(pattern: str = IGNORED_STDERR) -> None:
    """Make ``nbgrader validate`` ignore the stderr outputs that the grader ignores (idempotent).

    Wraps nbgrader's ``Execute.on_cell_executed`` so that :func:`drop_ignored_stderr` runs after it,
    for the Validator and for every ``Execute`` subclass; outside validation the wrapper only calls
    nbgrader's own hook.

    Args:
        pattern: the grader's ``IgnorePattern.pattern``.

    Raises:
        ValueError: ``pattern`` is empty.
        RuntimeError: this nbgrader's ``Execute`` has no ``on_cell_executed`` method to extend.

    PyTorch counterpart: none.
    """
    if not pattern:
        raise ValueError("pattern must be a non-empty regular expression")
    from nbgrader.preprocessors import Execute

    nbgrader_hook = Execute.__dict__.get("on_cell_executed")
    if nbgrader_hook is None or not callable(nbgrader_hook):
        raise RuntimeError("nbgrader's Execute.on_cell_executed is missing: this nbgrader version is not supported")
    nbgrader_hook = getattr(nbgrader_hook, "__wrapped__", nbgrader_hook)

    @functools.wraps(nbgrader_hook)
    def on_cell_executed(self, **kwargs: Any) -> None:
        nbgrader_hook(self, **kwargs)
        drop_ignored_stderr(kwargs["cell"], kwargs.get("cell_index", 0), pattern=pattern)

    Execute.on_cell_executed = on_cell_executed
