"""Weight initializers, in float64 numpy.

Every initializer returns a new array of shape ``(fan_in, fan_out)`` — the
layout of ``w`` in :func:`dlcourse.numpy_ref.layers.affine_forward`
(``x @ w``) — drawn from the generator passed as the keyword ``rng``.
``torch.nn.Linear`` stores its weight transposed, as ``(out, in)``; the fans
are the same: fan_in is the number of inputs of a unit, fan_out the number
of units.  The formulas are those of ``torch.nn.init``:

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
import numbers

import numpy as np

from .functional import _as_real_scalar

__all__ = ["xavier_uniform", "xavier_normal", "he_normal", "he_uniform", "fan_in_uniform", "normal"]


def _check_fans(fan_in, fan_out) -> tuple[int, int]:
    for value, name in ((fan_in, "fan_in"), (fan_out, "fan_out")):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(fan_in), int(fan_out)


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_positive(value, name: str) -> float:
    value = _as_real_scalar(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def _uniform(fan_in, fan_out, bound, rng) -> np.ndarray:
    return rng.uniform(-bound, bound, size=(fan_in, fan_out))


def xavier_uniform(fan_in, fan_out, *, rng, gain: float = 1.0) -> np.ndarray:
    """Xavier/Glorot uniform initialization.

    Math:
        w ~ U[-a, a] with a = gain * sqrt(6 / (fan_in + fan_out)), so that
        Var(w) = a**2 / 3 = gain**2 * 2 / (fan_in + fan_out).

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        rng: the ``np.random.Generator`` to draw from.
        gain: scale factor (torch's ``nn.init.calculate_gain``).

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: ``torch.nn.init.xavier_uniform_(w, gain)`` on a
    weight of shape (fan_out, fan_in).
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    gain = _check_positive(gain, "gain")
    return _uniform(fan_in, fan_out, gain * math.sqrt(6.0 / (fan_in + fan_out)), _check_rng(rng))


def xavier_normal(fan_in, fan_out, *, rng, gain: float = 1.0) -> np.ndarray:
    """Xavier/Glorot normal initialization.

    Math:
        w ~ N(0, std**2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        rng: the ``np.random.Generator`` to draw from.
        gain: scale factor.

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: ``torch.nn.init.xavier_normal_(w, gain)``.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    gain = _check_positive(gain, "gain")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _check_rng(rng).normal(0.0, std, size=(fan_in, fan_out))


def _he_gain(a) -> float:
    a = _as_real_scalar(a, "a")
    if a < 0:
        raise ValueError(f"a must be >= 0, got {a}")
    return math.sqrt(2.0 / (1.0 + a * a))


def he_normal(fan_in, fan_out, *, rng, a: float = 0.0) -> np.ndarray:
    """He (Kaiming) normal initialization for ReLU networks.

    Math:
        w ~ N(0, std**2) with std = sqrt(2 / ((1 + a**2) * fan_in)); a is the
        negative slope of a leaky ReLU (0 for ReLU: std = sqrt(2 / fan_in)).

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        rng: the ``np.random.Generator`` to draw from.
        a: negative slope of the rectifier that follows, >= 0.

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: ``torch.nn.init.kaiming_normal_(w, a,
    mode="fan_in", nonlinearity="leaky_relu")`` (``nonlinearity="relu"``
    for a = 0).
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = _he_gain(a) / math.sqrt(fan_in)
    return _check_rng(rng).normal(0.0, std, size=(fan_in, fan_out))


def he_uniform(fan_in, fan_out, *, rng, a: float = 0.0) -> np.ndarray:
    """He (Kaiming) uniform initialization for ReLU networks.

    Math:
        w ~ U[-b, b] with b = sqrt(6 / ((1 + a**2) * fan_in)), so that
        Var(w) = 2 / ((1 + a**2) * fan_in), as for :func:`he_normal`.

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        rng: the ``np.random.Generator`` to draw from.
        a: negative slope of the rectifier that follows, >= 0.

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: ``torch.nn.init.kaiming_uniform_(w, a,
    mode="fan_in", nonlinearity="leaky_relu")``.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    bound = _he_gain(a) * math.sqrt(3.0 / fan_in)
    return _uniform(fan_in, fan_out, bound, _check_rng(rng))


def fan_in_uniform(fan_in, fan_out, *, rng) -> np.ndarray:
    """The U[-1/sqrt(fan_in), 1/sqrt(fan_in)] heuristic.

    Math:
        w ~ U[-1/sqrt(fan_in), 1/sqrt(fan_in)], Var(w) = 1 / (3 fan_in).

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        rng: the ``np.random.Generator`` to draw from.

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: the default initialization of ``torch.nn.Linear``
    (``kaiming_uniform_(w, a=sqrt(5))`` gives exactly this bound, and the
    bias uses it too).
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    return _uniform(fan_in, fan_out, 1.0 / math.sqrt(fan_in), _check_rng(rng))


def normal(fan_in, fan_out, *, std, rng) -> np.ndarray:
    """Plain normal initialization N(0, std**2), e.g. the classic std = 0.01.

    Math:
        w ~ N(0, std**2), independent of the fans (which is why small std
        makes activations vanish in deep networks, and large std explode).

    Args:
        fan_in: number of inputs per unit (rows).
        fan_out: number of units (columns).
        std: standard deviation, > 0.
        rng: the ``np.random.Generator`` to draw from.

    Returns:
        float64 array.

    Shape:
        out: (fan_in, fan_out).

    PyTorch counterpart: ``torch.nn.init.normal_(w, 0.0, std)``.
    """
    fan_in, fan_out = _check_fans(fan_in, fan_out)
    std = _check_positive(std, "std")
    return _check_rng(rng).normal(0.0, std, size=(fan_in, fan_out))
