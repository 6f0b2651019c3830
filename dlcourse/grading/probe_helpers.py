"""What the assignments' ``probes.py`` files share: checks that return a message, cell names, setup code.

A probe's ``check(result, args, kwargs)`` returns ``None`` or what is wrong (see
:class:`dlcourse.grading.probes.Probe`); these helpers build such checks from
:func:`dlcourse.grading.assert_close`. :data:`TORCH_SETUP` starts the ``SETUP`` code of the torch
assignments (it runs in the probe runner, after the student's cells). Imports numpy only, never the
course's reference packages.
"""

from __future__ import annotations

from typing import Any

from dlcourse.grading.checks import assert_close

__all__ = ["TORCH_SETUP", "close_message", "exercise_cells", "first_problem", "hidden_cell", "run_setup"]

#: The start of a torch assignment's probe ``SETUP``: numpy and torch, and ``_t`` (a float64 tensor
#: copy, :func:`dlcourse.grading.tensors.float64_tensor`) and ``_n`` (a float64 numpy copy,
#: :func:`dlcourse.grading.tensors.float64_array`) for the helpers that follow.
TORCH_SETUP = '''
import numpy as _np
import torch as _torch
from dlcourse.grading.tensors import float64_array as _n, float64_tensor as _t
'''


def exercise_cells(name: str) -> tuple[str, str]:
    """The grade ids of an exercise's visible and hidden test cells: ``test_<name>``, ``test_<name>_hidden``."""
    return f"test_{name}", f"test_{name}_hidden"


def hidden_cell(name: str) -> tuple[str]:
    """Only the hidden test cell of an exercise, ``(test_<name>_hidden,)``: the ``cells`` of a probe that checks
    what only the hidden test checks (edge cases), so that failing it takes only the hidden cell's points.

    A probe takes the points of the cells whose behaviour it checks: typical inputs and the properties the
    visible test asserts take both cells (:func:`exercise_cells`), so tampering with the tests still costs both.
    """
    return exercise_cells(name)[1:]


def close_message(value: Any, expected: Any, name: str, rtol: float = 1e-9, atol: float = 1e-11) -> str | None:
    """:func:`~dlcourse.grading.assert_close` that returns its message instead of raising (None when close)."""
    try:
        assert_close(value, expected, rtol=rtol, atol=atol, name=name)
    except AssertionError as exc:
        return str(exc)
    return None


def first_problem(*messages: str | None) -> str | None:
    """The first message that is not empty, or None: combines the results of several checks."""
    return next((m for m in messages if m), None)


def run_setup(source: str, name: str, **names: Any) -> dict[str, Any]:
    """Execute probe ``SETUP`` code here, in the grader, with ``names`` (e.g. the reference classes) defined.

    The probe runner defines the same helpers around the student's code; run here around the
    reference, they compute the expected values. Returns the namespace.
    """
    namespace: dict[str, Any] = {"__name__": name, **names}
    exec(compile(source, f"<{name}>", "exec"), namespace)  # noqa: S102 - the instructor's own source
    return namespace
