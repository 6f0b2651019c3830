"""Grading: the checks that notebook tests use, per-student cases, and the nbgrader pipeline.

Notebook test cells import from here::

    from dlcourse.grading import assert_close, assert_true, forbid_reference, student_rng
"""

from dlcourse.grading.cases import student_id, student_rng, student_seed
from dlcourse.grading.checks import (
    assert_close,
    assert_shape,
    assert_true,
    call_without_reference,
    forbid_calls,
    forbid_reference,
)

__all__ = [
    "assert_close",
    "assert_shape",
    "assert_true",
    "call_without_reference",
    "forbid_calls",
    "forbid_reference",
    "student_id",
    "student_rng",
    "student_seed",
]
