"""One stderr rule for grading and for ``nbgrader validate`` (dlcourse.grading.stderr_policy).

A tiny assignment notebook has test cells that warn, write other text to stderr, and fail. It is
validated with the instructor's ``nbgrader_config.py`` and with the student edition's: both must
report exactly the cells the grader scores 0 (the stderr line and the failing assertion), not the
warning. Without the hook nbgrader reports the warning too, which shows the test can fail.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from dlcourse.grading.stderr_policy import IGNORED_STDERR, apply_to_validation, drop_ignored_stderr

REPO = Path(__file__).resolve().parents[1]
CONFIGS = {
    "instructor": REPO / "nbgrader_config.py",
    "student edition": REPO / "dlcourse" / "edition" / "templates" / "dot-jupyter" / "nbgrader_config.py",
}


@pytest.fixture(autouse=True)
def plain_nbgrader(monkeypatch):
    """Each test starts from nbgrader's own hook (a config loaded earlier in this process applied the policy)."""
    from nbgrader.preprocessors import Execute

    hook = Execute.__dict__["on_cell_executed"]
    monkeypatch.setattr(Execute, "on_cell_executed", getattr(hook, "__wrapped__", hook))


def _test_cell(grade_id: str, source: str):
    return new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": grade_id, "locked": True,
                                                        "points": 1, "schema_version": 3, "solution": False,
                                                        "task": False}})


def policy_notebook():
    return new_notebook(cells=[
        _test_cell("warns", "import warnings\nwarnings.warn('overflow encountered in exp', RuntimeWarning)"),
        _test_cell("user_warning", "import warnings\nwarnings.warn('a deprecated call')"),
        _test_cell("writes_stderr", "import sys\nprint('something else went wrong', file=sys.stderr)"),
        _test_cell("fails", "assert 1 + 1 == 3, 'expected 3'"),
        _test_cell("passes", "x = 1"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})


def failed_cells(config, tmp_path) -> list[str]:
    from nbgrader.validator import Validator

    target = tmp_path / "policy.ipynb"
    nbformat.write(policy_notebook(), target)
    results = Validator(config=config).validate(str(target))
    return sorted(cell["source"].split("\n")[-1] for cell in results.get("failed", []))


EXPECTED_FAILURES = ["assert 1 + 1 == 3, 'expected 3'", "print('something else went wrong', file=sys.stderr)"]


@pytest.mark.parametrize("who", sorted(CONFIGS))
def test_validate_reports_what_the_grader_scores_zero(who, tmp_path):
    config = PyFileConfigLoader(CONFIGS[who].name, path=str(CONFIGS[who].parent)).load_config()
    assert config.IgnorePattern.pattern == IGNORED_STDERR, f"expected the {who} config to ignore {IGNORED_STDERR!r}"
    got = failed_cells(config, tmp_path)
    assert got == EXPECTED_FAILURES, f"expected validate to fail exactly {EXPECTED_FAILURES} with the {who} config; got {got}"


def test_without_the_hook_validate_fails_the_warnings_too(tmp_path):
    config = Config()
    config.IgnorePattern.enabled = True
    config.IgnorePattern.pattern = IGNORED_STDERR
    got = failed_cells(config, tmp_path)
    assert len(got) == 4, f"expected plain nbgrader validate to fail the two warnings as well; got {got}"


def test_applying_twice_wraps_once():
    from nbgrader.preprocessors import Execute

    apply_to_validation()
    first = Execute.on_cell_executed
    apply_to_validation()
    assert Execute.on_cell_executed.__wrapped__ is first.__wrapped__, "expected one wrapper around nbgrader's hook"
    with pytest.raises(ValueError, match="pattern"):
        apply_to_validation("")


def test_the_hook_does_nothing_outside_validation(monkeypatch):
    monkeypatch.delenv("NBGRADER_VALIDATING", raising=False)
    cell = new_code_cell("", outputs=[nbformat.v4.new_output("stream", name="stderr", text="RuntimeWarning: x")])
    drop_ignored_stderr(cell, 0)
    assert len(cell.outputs) == 1, "expected the autograder's own IgnorePattern step to stay the only one"
    monkeypatch.setenv("NBGRADER_VALIDATING", "1")
    drop_ignored_stderr(cell, 0)
    assert cell.outputs == [], f"expected the warning removed while validating; got {cell.outputs}"
    with pytest.raises(ValueError, match="pattern"):
        drop_ignored_stderr(cell, 0, pattern="")
