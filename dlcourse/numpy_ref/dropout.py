"""Inverted dropout as a forward/backward pair, in float64 numpy (part of :mod:`dlcourse.numpy_ref.layers`).

:func:`dropout_forward` returns ``(out, cache)`` with a :class:`DropoutCache`;
:func:`dropout_backward` takes ``(dout, cache)``.  ``keep_prob`` is the lectures' p, the
probability of *keeping* a unit (torch's ``Dropout(p)`` takes the drop probability).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from dlcourse.validation import Array, as_float_array, check_rng

from ._checks import check_dout, check_keep_prob, check_training

__all__ = ["DropoutCache", "dropout_forward", "dropout_backward"]


class DropoutCache(NamedTuple):
    """What :func:`dropout_forward` keeps for the backward pass.

    Attributes:
        mask: the scaled mask ``1[u < keep_prob] / keep_prob``, shaped like x; None when
            nothing was dropped (evaluation mode or keep_prob = 1), so that dx = dout.
        shape: the shape of x (and of out), to check ``dout`` against.
    """

    mask: Array | None
    shape: tuple[int, ...]


def dropout_forward(x: Array, keep_prob: float, *, training: bool,
                    rng: np.random.Generator | None) -> tuple[Array, DropoutCache]:
    """Inverted dropout with keep probability ``keep_prob``.

    Math:
        Training: mask = (u < keep_prob) / keep_prob with u ~ U[0, 1)
        elementwise, out = x * mask; every unit is kept with probability
        keep_prob and the survivors are scaled by 1 / keep_prob, so that
        E[out] = x and nothing needs rescaling at test time.  Evaluation (or
        keep_prob = 1): out = x (a copy), and ``rng`` is not used.

    Args:
        x: input of any shape.
        keep_prob: probability of *keeping* a unit, in (0, 1] (the lectures'
            p; torch's ``Dropout(p)`` uses the drop probability p = 1 - keep_prob).
        training: True to drop units, False for the identity.
        rng: the ``np.random.Generator`` that draws the mask (one
            ``rng.random(x.shape)`` call per training forward with
            keep_prob < 1); may be None in evaluation mode.

    Returns:
        ``(out, cache)`` with ``cache = DropoutCache(mask, x.shape)``; ``mask`` is None
        when nothing was dropped.

    Shape:
        x: any shape; out: same as x.

    PyTorch counterpart: ``torch.nn.functional.dropout(x, p=1 - keep_prob,
    training=training)`` (same scaling; a different random stream).
    """
    x = as_float_array(x, "x")
    keep_prob = check_keep_prob(keep_prob)
    if not check_training(training) or keep_prob == 1.0:
        return x.copy(), DropoutCache(None, x.shape)
    mask = (check_rng(rng).random(x.shape) < keep_prob) / keep_prob
    return x * mask, DropoutCache(mask, x.shape)


def dropout_backward(dout: Array, cache: DropoutCache) -> Array:
    """Backward pass of :func:`dropout_forward`.

    Math:
        dx = dout * mask (the same mask, scale included); in evaluation mode
        dx = dout.

    Args:
        dout: upstream gradient dL/dout.
        cache: the :class:`DropoutCache` returned by :func:`dropout_forward`.

    Returns:
        dx, shaped like x.

    Shape:
        dout: shape of x; dx: shape of x.

    PyTorch counterpart: the gradient autograd gives for
    ``torch.nn.functional.dropout``.
    """
    dout = check_dout(dout, cache.shape)
    return dout.copy() if cache.mask is None else dout * cache.mask
