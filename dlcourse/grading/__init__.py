"""Grading: the checks that notebook tests use, per-student cases, and the nbgrader pipeline.

Notebook test cells import from here::

    from dlcourse.grading import assert_close, assert_true, forbid_reference, student_rng

and hidden tests call the student's code through one helper, with the guards the exercise needs::

    from dlcourse.grading import float64_tensor, student_caller
    from dlcourse.grading.forbidden import TORCH_OPTIMIZER_INTERNALS

    _call = student_caller(forbid=TORCH_OPTIMIZER_INTERNALS, fail_on_warning=True)

Nothing here imports torch or the course's reference packages (``dlcourse.numpy_ref``,
``dlcourse.torch_ref``) on import: the probe runner imports this package too.
"""

from dlcourse.grading.cases import student_id, student_rng, student_seed
from dlcourse.grading.checks import (
    assert_close,
    assert_shape,
    assert_true,
    call_student,
    call_without_reference,
    forbid_calls,
    forbid_reference,
    student_caller,
)
from dlcourse.grading.tensors import float64_array, float64_tensor

__all__ = [
    "assert_close",
    "assert_shape",
    "assert_true",
    "call_student",
    "call_without_reference",
    "float64_array",
    "float64_tensor",
    "forbid_calls",
    "forbid_reference",
    "student_caller",
    "student_id",
    "student_rng",
    "student_seed",
]
