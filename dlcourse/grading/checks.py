"""Checks used by the test cells of the assignments.

Every check raises ``AssertionError`` with a message a student can act on: what was
expected, what was received, the worst element with its index, and the tolerance
that was applied. Tests call these instead of bare ``assert`` or
``np.testing.assert_allclose`` so that every failure reads the same way.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "assert_close",
    "assert_shape",
    "assert_true",
    "forbid_reference",
    "call_without_reference",
    "call_student",
    "student_caller",
    "forbid_calls",
]


def _describe(value: Any) -> str:
    if value is None:
        return "None (did the function forget to `return`?)"
    return f"{type(value).__name__}"


def _as_array(value: Any, name: str, what: str) -> np.ndarray:
    if value is None or isinstance(value, (str, bytes, dict)):
        raise AssertionError(f"{name}: expected {what} to be a number or array, got {_describe(value)}")
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value)
    except Exception as exc:  # noqa: BLE001 - anything unconvertible is the student's error
        raise AssertionError(f"{name}: could not convert {what} ({_describe(value)}) to an array: {exc}") from None
    if arr.dtype == object:
        raise AssertionError(f"{name}: {what} is not numeric (dtype=object, type {_describe(value)})")
    return arr


def assert_shape(actual: Any, shape: tuple[int, ...], *, name: str = "value") -> None:
    """Fail unless ``actual`` has exactly ``shape``."""
    arr = _as_array(actual, name, "the result")
    if tuple(arr.shape) != tuple(shape):
        raise AssertionError(f"{name}: expected shape {tuple(shape)}, got shape {tuple(arr.shape)}")


def assert_true(condition: bool, message: str) -> None:
    """Fail with ``message`` when ``condition`` is false (a bare ``assert`` with a message that always shows)."""
    if not condition:
        raise AssertionError(message)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    name: str = "value",
) -> None:
    """Fail unless ``|actual - expected| <= atol + rtol * |expected|`` element by element.

    Shapes must match exactly (no broadcasting: a (N,) result is not a (N, 1) one).
    NaN or infinity in ``actual`` fails unless ``expected`` has the same value there.

    Args:
        actual: the student's result (array-like or torch tensor).
        expected: the reference result.
        rtol: relative tolerance.
        atol: absolute tolerance (the floor for elements near zero).
        name: what is being compared, used in the message.

    Raises:
        AssertionError: naming the worst element, its index and the tolerance.
    """
    exp = _as_array(expected, name, "the expected value").astype(np.float64)
    act = _as_array(actual, name, "the result")
    if tuple(act.shape) != tuple(exp.shape):
        raise AssertionError(f"{name}: expected shape {tuple(exp.shape)}, got shape {tuple(act.shape)}")
    if not (np.issubdtype(act.dtype, np.number) or act.dtype == bool):
        raise AssertionError(f"{name}: expected numbers, got dtype {act.dtype}")
    act = act.astype(np.float64)
    tol_text = f"tolerance |got - expected| <= {atol:g} + {rtol:g} * |expected|"
    if act.size == 0:
        return
    same_nonfinite = (~np.isfinite(exp)) & ((act == exp) | (np.isnan(act) & np.isnan(exp)))
    bad_nonfinite = ~np.isfinite(act) & ~same_nonfinite
    if bad_nonfinite.any():
        idx = np.unravel_index(int(np.argmax(bad_nonfinite)), act.shape)
        raise AssertionError(
            f"{name}: {int(bad_nonfinite.sum())} of {act.size} elements are not finite; "
            f"first at index {_index(idx)}: got {act[idx]!r}, expected {exp[idx]!r}"
        )
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same_nonfinite, 0.0, np.abs(act - exp))
        allowed = atol + rtol * np.where(np.isfinite(exp), np.abs(exp), 0.0)
        excess = diff - allowed
    failing = excess > 0
    if failing.any():
        worst = np.unravel_index(int(np.argmax(excess)), act.shape)
        raise AssertionError(
            f"{name}: {int(failing.sum())} of {act.size} elements differ ({tol_text}). "
            f"Worst at index {_index(worst)}: got {act[worst]:.10g}, expected {exp[worst]:.10g} "
            f"(|diff| = {diff[worst]:.3g}, allowed {allowed[worst]:.3g})"
        )


def _index(idx: tuple) -> str:
    return "(" + ", ".join(str(int(i)) for i in idx) + ")" if len(idx) != 1 else f"[{int(idx[0])}]"


# --------------------------------------------------------------------------------------
# Delegation guard: a student's function must not call the reference implementation.
# --------------------------------------------------------------------------------------

_REFERENCE_PACKAGES = ("numpy_ref", "torch_ref")


def _reference_dirs() -> tuple[str, ...]:
    root = Path(__file__).resolve().parent.parent
    return tuple(str(root / pkg) + os.sep for pkg in _REFERENCE_PACKAGES)


@contextlib.contextmanager
def _profiling(profiler: Callable[[Any, str, Any], Any]) -> Iterator[None]:
    """Install ``profiler`` for this thread and new threads; restore both previous profile functions after."""
    previous, previous_threads = sys.getprofile(), threading.getprofile()
    sys.setprofile(profiler)
    threading.setprofile(profiler)
    try:
        yield
    finally:
        sys.setprofile(previous)
        threading.setprofile(previous_threads)


@contextlib.contextmanager
def forbid_reference(what: str = "this exercise") -> Iterator[None]:
    """Fail if any code inside the block runs a function of ``dlcourse.numpy_ref`` or ``dlcourse.torch_ref``.

    Use it around the call of the student's function::

        with forbid_reference("sigmoid"):
            out = sigmoid(x)

    This is the visible, in-notebook half of the rule "delegating to the reference
    scores zero"; the grader checks again out of process.
    """
    dirs = _reference_dirs()
    hits: list[str] = []
    previous = sys.getprofile()

    def profiler(frame, event, arg):
        if previous is not None:  # a guard already active (e.g. forbid_calls) keeps seeing every event
            previous(frame, event, arg)
        if event == "call" and not hits:
            filename = frame.f_code.co_filename
            if filename.startswith(dirs):
                module = frame.f_globals.get("__name__", filename)
                hits.append(f"{module}.{frame.f_code.co_name}")

    with _profiling(profiler):
        yield
    if hits:
        raise AssertionError(
            f"{what}: your code called the reference implementation {hits[0]}. "
            "Write the computation yourself; calling dlcourse.numpy_ref / dlcourse.torch_ref scores zero here."
        )


def call_without_reference(fn: Callable[..., Any], *args: Any, what: str | None = None, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` under :func:`forbid_reference` and return its result."""
    with forbid_reference(what or getattr(fn, "__name__", "function")):
        return fn(*args, **kwargs)


# --------------------------------------------------------------------------------------
# Delegation guard for library built-ins: "write BatchNorm1d" must not call torch's own.
# --------------------------------------------------------------------------------------

@contextlib.contextmanager
def forbid_calls(what: str, names) -> Iterator[None]:
    """Fail if any code inside the block calls one of ``names`` (dotted names of classes or functions).

    Use it around the call of a student's code whose point is to re-implement a library
    feature, together with :func:`forbid_reference`::

        with forbid_reference("BatchNorm1d"), forbid_calls("BatchNorm1d", ["torch.nn.functional.batch_norm"]):
            out = bn(x)

    A class name forbids every method defined in that class's body (so subclassing or
    wrapping it is caught); see :mod:`dlcourse.grading.forbidden`. A profile function that
    was active before (e.g. :func:`forbid_reference`'s) keeps running. The grader checks
    again out of process (``Probe(..., forbid=...)``).
    """
    from dlcourse.grading.forbidden import make_profiler, signatures

    hits: list[str] = []
    with _profiling(make_profiler(signatures(names), hits, chain=sys.getprofile())):
        yield
    if hits:
        raise AssertionError(
            f"{what}: your code called {hits[0]}, the library's own implementation of this exercise. "
            "Write the computation yourself from tensor operations; delegating to it scores zero here."
        )


# --------------------------------------------------------------------------------------
# How hidden tests call a student's code: every guard at once, in one place.
# --------------------------------------------------------------------------------------

def call_student(what: str, fn: Callable[..., Any], /, *args: Any, forbid=(), fail_on_warning: bool = False,
                 **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)``, the student's code, the way hidden tests do; return its result.

    The call runs under :func:`forbid_reference` (no ``dlcourse.numpy_ref`` / ``dlcourse.torch_ref``)
    and, when ``forbid`` names library callables (e.g. :data:`dlcourse.grading.forbidden.TORCH_ADAM`),
    under :func:`forbid_calls` too. ``what`` names the call in the messages.

    Args:
        what: what is being called, as the student knows it (``"Adam.step"``).
        fn: the student's function (or bound method, or a lambda around their code).
        forbid: dotted names of library implementations the call must not run.
        fail_on_warning: fail when the call emits any warning (every warning is recorded, even one
            filtered out or already shown before): the numpy assignments require numerically stable
            code. Off, warnings pass through as usual (torch code may warn legitimately).

    Raises:
        AssertionError: the call delegated, or (with ``fail_on_warning``) it warned, naming the first warning.
    """
    if not fail_on_warning:
        with _guards(what, forbid):
            return fn(*args, **kwargs)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", Warning)
        with _guards(what, forbid):
            result = fn(*args, **kwargs)
    if seen:
        raise AssertionError(
            f"{what} emitted a warning ({seen[0].category.__name__}: {seen[0].message}); "
            "a function that warns fails this test - make the computation numerically stable"
        )
    return result


def student_caller(*, forbid=(), fail_on_warning: bool = False) -> Callable[..., Any]:
    """:func:`call_student` with these settings: ``_call(what, fn, *args, forbid=(), **kwargs)``.

    A hidden test cell makes its caller once, e.g. for an optimizer exercise::

        _call = student_caller(forbid=TORCH_OPTIMIZER_INTERNALS, fail_on_warning=True)
        path = _call("gradient_descent", gradient_descent, grad, w0, lr, steps)

    ``forbid`` given to the caller adds names to those given here.
    """
    fixed = tuple(forbid)

    def call(what: str, fn: Callable[..., Any], /, *args: Any, forbid=(), **kwargs: Any) -> Any:
        return call_student(what, fn, *args, forbid=(*fixed, *forbid), fail_on_warning=fail_on_warning, **kwargs)

    call.__doc__ = (f"call_student(what, fn, *args, **kwargs) forbidding {len(fixed)} library names"
                    f"{', failing on warnings' if fail_on_warning else ''}.")
    return call


@contextlib.contextmanager
def _guards(what: str, forbid) -> Iterator[None]:
    """:func:`forbid_reference`, with :func:`forbid_calls` inside it when ``forbid`` names anything."""
    names = tuple(forbid)
    with forbid_reference(what):
        if not names:
            yield
            return
        with forbid_calls(what, names):
            yield
