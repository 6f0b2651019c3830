"""Weight initializers, in float64 numpy.

Every initializer returns a new array of shape ``(fan_in, fan_out)`` — the
layout of ``w`` in :func:`dlcourse.numpy_ref.layers.affine_forward`
(``x @ w``) — drawn from the generator passed as the keyword ``rng``.
``torch.nn.Linear`` stores its weight transposed, as ``(out, in)``; the fans
are the same: fan_in is the number of inputs of a unit, fan_out the number
of units.  Every function takes ``fan_in`` (the number of inputs per unit: the
rows) and ``fan_out`` (the number of units: the columns), positive integers,
and ``rng``, a ``np.random.Generator``, and returns a float64 array of shape
``(fan_in, fan_out)``.  The formulas are those of ``torch.nn.init``:

=====================  =========================================  ==========================
function               distribution                                torch.nn.init
=====================  =========================================  ==========================
xavier_uniform         U[-a, a], a = gain*sqrt(6/(fan_in+fan_out))  xavier_uniform_
xavier_normal          N(0, gain**2 * 2/(fan_in+fan_out))           xavier_normal_
he_normal              N(0, 2/((1+a**2) fan_in))                    kaiming_normal_ (fan_in)
he_uniform             U[-b, b], b = sqrt(6/((1+a**2) fan_in))       kaiming_uniform_ (fan_in)
fan_in_uniform         U[-1/sqrt(fan_in), 1/sqrt(fan_in)]           nn.Linear's default
normal                 N(0, std**2)                                  normal_(0, std)
=====================  =========================================  ==========================

Why: with unit-variance inputs, a unit's pre-activation has variance
fan_in * Var(w).  Xavier/Glorot keeps the variance of both the forward
activations and the backward gradients about constant for tanh-like
units (Var(w) = 2/(fan_in+fan_out)); He doubles fan_in's share for ReLU,
which zeroes half of its inputs (Var(w) = 2/fan_in).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlcourse.validation import Array, check_integer, check_nonnegative, check_positive, check_rng

__all__ = ["xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "fan_in_uniform", "normal"]


def _checked(fan_in: Any, fan_out: Any, rng: Any) -> tuple[tuple[int, int], np.random.Generator]:
    """The checked output shape ``(fan_in, fan_out)`` and generator, shared by every initializer."""
    shape = (check_integer(fan_in, "fan_in", minimum=1), check_integer(fan_out, "fan_out", minimum=1))
    return shape, check_rng(rng)


def _xavier_scale(shape: tuple[int, int], gain: Any, variance_factor: float) -> float:
    """gain * sqrt(variance_factor / (fan_in + fan_out)): 2 gives Xavier's std, 6 its uniform bound."""
    return check_positive(gain, "gain") * math.sqrt(variance_factor / (shape[0] + shape[1]))


def _he_gain(a: Any) -> float:
    """sqrt(2 / (1 + a**2)), torch's gain for a leaky ReLU of negative slope a >= 0 (a = 0: ReLU)."""
    a = check_nonnegative(a, "a")
    return math.sqrt(2.0 / (1.0 + a * a))


def xavier_uniform(fan_in: int, fan_out: int, *, rng: np.random.Generator, gain: float = 1.0) -> Array:
    """Xavier/Glorot uniform initialization.

    Math:
        w ~ U[-a, a] with a = gain * sqrt(6 / (fan_in + fan_out)), so that
        Var(w) = a**2 / 3 = gain**2 * 2 / (fan_in + fan_out).

    Args:
        gain: scale factor, > 0 (torch's ``nn.init.calculate_gain``).

    PyTorch counterpart: ``torch.nn.init.xavier_uniform_(w, gain)`` on a
    weight of shape (fan_out, fan_in).
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    bound = _xavier_scale(shape, gain, 6.0)
    return rng.uniform(-bound, bound, size=shape)


def xavier_normal(fan_in: int, fan_out: int, *, rng: np.random.Generator, gain: float = 1.0) -> Array:
    """Xavier/Glorot normal initialization.

    Math:
        w ~ N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Args:
        gain: scale factor, > 0.

    PyTorch counterpart: ``torch.nn.init.xavier_normal_(w, gain)``.
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    return rng.normal(0.0, _xavier_scale(shape, gain, 2.0), size=shape)


def he_normal(fan_in: int, fan_out: int, *, rng: np.random.Generator, a: float = 0.0) -> Array:
    """He (Kaiming) normal initialization for ReLU networks.

    Math:
        w ~ N(0, std**2) with std = sqrt(2 / ((1 + a**2) * fan_in)); a is the
        negative slope of a leaky ReLU (0 for ReLU: std = sqrt(2 / fan_in)).

    Args:
        a: negative slope of the rectifier that follows, >= 0.

    PyTorch counterpart: ``torch.nn.init.kaiming_normal_(w, a,
    mode="fan_in", nonlinearity="leaky_relu")`` (``nonlinearity="relu"``
    for a = 0).
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    return rng.normal(0.0, _he_gain(a) / math.sqrt(shape[0]), size=shape)


def he_uniform(fan_in: int, fan_out: int, *, rng: np.random.Generator, a: float = 0.0) -> Array:
    """He (Kaiming) uniform initialization for ReLU networks.

    Math:
        w ~ U[-b, b] with b = sqrt(6 / ((1 + a**2) * fan_in)), so that
        Var(w) = 2 / ((1 + a**2) * fan_in), as for :func:`he_normal`.

    Args:
        a: negative slope of the rectifier that follows, >= 0.

    PyTorch counterpart: ``torch.nn.init.kaiming_uniform_(w, a,
    mode="fan_in", nonlinearity="leaky_relu")``.
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    bound = _he_gain(a) * math.sqrt(3.0 / shape[0])
    return rng.uniform(-bound, bound, size=shape)


def fan_in_uniform(fan_in: int, fan_out: int, *, rng: np.random.Generator) -> Array:
    """The U[-1/sqrt(fan_in), 1/sqrt(fan_in)] heuristic.

    Math:
        w ~ U[-1/sqrt(fan_in), 1/sqrt(fan_in)], Var(w) = 1 / (3 fan_in).

    PyTorch counterpart: the default initialization of ``torch.nn.Linear``
    (``kaiming_uniform_(w, a=sqrt(5))`` gives exactly this bound, and the
    bias uses it too).
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    bound = 1.0 / math.sqrt(shape[0])
    return rng.uniform(-bound, bound, size=shape)


def normal(fan_in: int, fan_out: int, *, std: float, rng: np.random.Generator) -> Array:
    """Plain normal initialization N(0, std**2), e.g. the classic std = 0.01.

    Math:
        w ~ N(0, std**2), independent of the fans (which is why small std
        makes activations vanish in deep networks, and large std explode).

    Args:
        std: standard deviation, > 0.

    PyTorch counterpart: ``torch.nn.init.normal_(w, 0.0, std)``.
    """
    shape, rng = _checked(fan_in, fan_out, rng)
    return rng.normal(0.0, check_positive(std, "std"), size=shape)
