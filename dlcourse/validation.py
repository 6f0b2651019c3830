"""Argument checks shared by the whole package: bad input raises a ``ValueError`` naming the argument.

One module so that every function reports a bad argument the same way: the reference
layers, losses and optimizers (numpy and torch), the schedules, the data sets and the
plots. Nothing is silently clipped or coerced beyond the documented conversions.

This module imports numpy only (never torch), so the numpy half of the package stays
torch-free.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

#: What the numpy reference functions accept and return: float64 arrays (inputs are converted).
Array: TypeAlias = npt.NDArray[np.float64]

__all__ = [
    "Array",
    "as_float_array",
    "as_real_scalar",
    "check_axis",
    "check_integer",
    "check_nonnegative",
    "check_positive",
    "check_real_in_range",
    "check_rng",
    "check_unit_interval",
]


def as_float_array(x: Any, name: str) -> Array:
    """Return ``x`` as a float64 array (no copy when it already is one).

    Raises:
        ValueError: naming ``name`` when ``x`` is not real numeric data (bool, complex,
            strings and objects are refused, not converted).
    """
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        return arr
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name} must contain real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(np.float64)


def as_real_scalar(value: Any, name: str) -> float:
    """Return ``value`` as a finite Python float, or raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_nonnegative(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_unit_interval(value: Any, name: str) -> float:
    """Return ``value`` as a float if it lies in [0, 1) (a decay rate, a momentum), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}")
    return float(value)


def check_integer(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int (bool refused), at least ``minimum`` when given, else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_axis(axis: Any, ndim: int) -> int:
    """Return ``axis`` as a valid non-negative axis index for an array of ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise ValueError(f"axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an input with {ndim} dimension(s)")
    return int(axis) % ndim


def check_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator`` (randomness is always passed in)."""
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def check_real_in_range(value: Any, name: str, low: float, high: float, *,
                        include_low: bool = True, include_high: bool = True) -> float:
    """Return ``value`` as a float if it is a real number in the interval from ``low`` to ``high``.

    Args:
        value: the argument to check (bool is refused, as everywhere in the package).
        name: the argument's name, used in the error message.
        low, high: the interval's ends.
        include_low, include_high: whether the interval is closed at that end.

    Returns:
        ``float(value)``.

    Raises:
        ValueError: naming ``name`` when ``value`` is not a finite real number in the interval.
    """
    interval = f"{'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
    message = f"{name} must be a real number in {interval}, got {value!r}"
    try:
        number = as_real_scalar(value, name)
    except ValueError:
        raise ValueError(message) from None
    above_low = low <= number if include_low else low < number
    below_high = number <= high if include_high else number < high
    if not (above_low and below_high):
        raise ValueError(message)
    return number
