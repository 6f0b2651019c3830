"""Gradient checking with centered finite differences.

The analytic gradient of a backward pass is checked against a numerical
estimate: nudge one input element by +h and -h, see how much the output
changes, divide by 2h.  The error of this centered difference is O(h**2), so
with h = 1e-5 in float64 a correct gradient typically agrees to a relative
error of 1e-7 or better (1e-10 is common for smooth functions).  Near a kink
(for example ReLU at 0) the estimate can be wrong, so keep test inputs away
from kinks.

Example — checking an affine layer's dx::

    out, cache = affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)        # a random upstream gradient
    dx, dw, db = affine_backward(dout, cache)
    dx_num = numerical_gradient(lambda x_: affine_forward(x_, w, b)[0], x, df=dout)
    assert rel_error(dx, dx_num) < 1e-7

Note that ``f`` receives the perturbed array as its argument: write
``lambda x_: layer(x_, w, b)[0]``, not ``lambda _: layer(x, w, b)[0]``.
:func:`numerical_gradient` never modifies the caller's ``x``, so a function
that ignores its argument and closes over ``x`` always sees the unperturbed
value, and its numerical gradient is zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from dlcourse.validation import Array, as_float_array, check_positive, check_rng

__all__ = ["numerical_gradient", "rel_error", "check_gradient", "check_layer", "LayerCheck"]

# rel_error divides by max(_REL_ERROR_FLOOR, |a| + |b|), so that two values that
# are both (almost) zero do not produce a huge relative error.
_REL_ERROR_FLOOR = 1e-8


def _rel_errors(a: Array, b: Array) -> Array:
    """Elementwise |a - b| / max(1e-8, |a| + |b|), the errors :func:`rel_error` takes the maximum of."""
    return np.abs(a - b) / np.maximum(_REL_ERROR_FLOOR, np.abs(a) + np.abs(b))


def numerical_gradient(f: Callable[[Array], Any], x: Array, df: Array | None = None, h: float = 1e-5) -> Array:
    """Numerical gradient of sum(f(x) * df) with respect to ``x``.

    Math:
        grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / (2 h), where e_i
        is the i-th unit array.  With ``df = dL/df`` (an upstream gradient)
        this is dL/dx by the chain rule; with ``df=None`` ``f`` must return a
        scalar and this is simply df/dx.

    Args:
        f: function called as ``f(x_perturbed)``; it must compute its result
            from its argument (see the module docstring).
        x: the point at which to differentiate.  It is copied and never
            modified.
        df: upstream gradient, shaped like ``f(x)``; ``None`` means ``f``
            returns a scalar (equivalent to ``df = 1``).
        h: step size, > 0.

    Returns:
        float64 array shaped like ``x``.

    Raises:
        ValueError: naming ``df`` if ``df`` does not have the shape of f(x)
            (or is ``None`` while f(x) is not a scalar); naming ``h`` if h <= 0.

    Shape:
        x: any shape; df: shape of f(x); output: shape of x.

    PyTorch counterpart: ``torch.autograd.gradcheck`` does the same comparison
    (for float64 inputs) against autograd.
    """
    x = as_float_array(x, "x").copy()  # private copy: the caller's x is never touched
    h = check_positive(h, "h")
    if df is not None:
        df = as_float_array(df, "df")

    def evaluate() -> Array:
        out = np.asarray(f(x), dtype=np.float64)
        if df is None and out.size != 1:
            raise ValueError(f"df is None, so f must return a scalar, but f(x) has shape {out.shape}")
        if df is not None and out.shape != df.shape:
            raise ValueError(f"df must have the shape of f(x) {out.shape}, got {df.shape}")
        return out

    weights = 1.0 if df is None else df
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        f_plus = evaluate()
        x[index] = original - h
        f_minus = evaluate()
        x[index] = original  # restore before the next element
        grad[index] = np.sum((f_plus - f_minus) * weights) / (2.0 * h)
    return grad


def rel_error(a: Array, b: Array) -> float:
    """Largest elementwise relative error between two arrays.

    Math:
        max_i |a_i - b_i| / max(1e-8, |a_i| + |b_i|).  The floor 1e-8 keeps
        the ratio meaningful when both values are (close to) zero: there the
        result is an absolute error scaled by 1e8.

    Args:
        a: first array (for example the analytic gradient).
        b: second array (for example the numerical gradient), same shape.

    Returns:
        The maximum relative error as a float (0.0 for empty arrays).

    Shape:
        a: any shape; b: same shape as a.

    PyTorch counterpart: none; ``torch.testing.assert_close`` uses separate
    ``rtol`` and ``atol`` instead.
    """
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"b must have the shape of a {a.shape}, got {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(_rel_errors(a, b)))


def check_gradient(f: Callable[[Array], Any], x: Array, analytic: Array, df: Array | None = None,
                   h: float = 1e-5) -> float:
    """Relative error between an analytic gradient and :func:`numerical_gradient`.

    Math:
        rel_error(analytic, numerical_gradient(f, x, df, h)).

    Args:
        f: function called as ``f(x_perturbed)``.
        x: the point at which to differentiate (never modified).
        analytic: the gradient to check, shaped like ``x``.
        df: upstream gradient shaped like ``f(x)``, or ``None`` for scalar f.
        h: step size, > 0.

    Returns:
        The relative error (see :func:`rel_error`); below about 1e-7 means
        the analytic gradient is almost certainly right.

    Shape:
        x: any shape; analytic: shape of x; df: shape of f(x).

    PyTorch counterpart: ``torch.autograd.gradcheck``.
    """
    analytic = as_float_array(analytic, "analytic")
    numerical = numerical_gradient(f, x, df=df, h=h)
    if analytic.shape != numerical.shape:
        raise ValueError(f"analytic must have the shape of x {numerical.shape}, got {analytic.shape}")
    return rel_error(analytic, numerical)


@dataclass(frozen=True)
class LayerCheck:
    """Result of checking one input's gradient with :func:`check_layer`.

    Attributes:
        name: the input's name (its key, or ``"input<i>"`` for a sequence).
        rel_error: the largest elementwise relative error (see :func:`rel_error`).
        worst_index: index of the element with that error.
        analytic: the backward pass's value at that element.
        numerical: the centered difference's value at that element.
    """

    name: str
    rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numerical: float

    def __str__(self) -> str:
        return (
            f"{self.name}: relative error {self.rel_error:.2e}, worst at index {self.worst_index} "
            f"(analytic {self.analytic!r}, numerical {self.numerical!r})"
        )


def check_layer(forward: Callable[..., tuple[Any, Any]], backward: Callable[[Array, Any], Any],
                inputs: Sequence[Array] | Mapping[str, Array], *, rng: np.random.Generator,
                h: float = 1e-5) -> dict[str, LayerCheck]:
    """Check a layer's backward pass against centered differences for every input.

    A random upstream gradient ``dout`` (standard normal, from ``rng``; never
    all ones, which would hide transposed or mis-summed gradients) is
    backpropagated, and each input's gradient is compared with
    ``numerical_gradient`` of sum(forward(...)[0] * dout).

    Math:
        for input k: rel_error(backward(dout, cache)[k],
        numerical_gradient(lambda a: forward(..., a, ...)[0], inputs[k], df=dout, h)).

    Args:
        forward: ``forward(*inputs) -> (out, cache)`` (or ``forward(**inputs)``
            when ``inputs`` is a mapping).  It is called many times, so it
            must not have lasting side effects (wrap batch norm so that each
            call gets fresh copies of the running statistics).
        backward: ``backward(dout, cache)`` returning one gradient per input,
            in the order of ``inputs`` (a single array for one input).
        inputs: a sequence of arrays (passed positionally), or a mapping
            name -> array (passed by keyword; ``backward``'s gradients are
            matched to the names in the mapping's order).
        rng: the generator of the upstream gradient.
        h: finite-difference step, > 0.

    Returns:
        dict mapping each input's name to a :class:`LayerCheck` (worst
        relative error with its index and both values).

    Raises:
        ValueError: naming ``backward`` if it returns the wrong number of
            gradients or a gradient of the wrong shape; naming ``rng`` if it
            is not a Generator.

    Shape:
        any; each gradient is shaped like its input.

    PyTorch counterpart: ``torch.autograd.gradcheck`` (which checks every
    output/input pair instead of one random projection).
    """
    check_rng(rng)
    if isinstance(inputs, Mapping):
        names = list(inputs)
        arrays = [as_float_array(inputs[k], k) for k in names]

        def call(args):
            return forward(**dict(zip(names, args)))
    else:
        arrays = [as_float_array(a, f"input{i}") for i, a in enumerate(inputs)]
        names = [f"input{i}" for i in range(len(arrays))]

        def call(args):
            return forward(*args)

    out, cache = call(arrays)
    dout = rng.standard_normal(np.shape(out))
    grads = backward(dout, cache)
    if len(arrays) == 1 and isinstance(grads, np.ndarray):
        grads = (grads,)
    grads = tuple(grads)
    if len(grads) != len(arrays):
        raise ValueError(f"backward must return {len(arrays)} gradient(s), one per input, got {len(grads)}")
    results = {}
    for k, (name, grad) in enumerate(zip(names, grads)):
        grad = as_float_array(grad, "backward")
        if grad.shape != arrays[k].shape:
            raise ValueError(
                f"backward returned a gradient of shape {grad.shape} for {name} of shape {arrays[k].shape}")

        def f(a, k=k):
            args = list(arrays)
            args[k] = a
            return call(args)[0]

        num = numerical_gradient(f, arrays[k], df=dout, h=h)
        if grad.size == 0:
            results[name] = LayerCheck(name, 0.0, (), float("nan"), float("nan"))
            continue
        errors = _rel_errors(grad, num)
        worst = tuple(int(i) for i in np.unravel_index(np.argmax(errors), grad.shape))
        results[name] = LayerCheck(name, float(errors[worst]), worst, float(grad[worst]), float(num[worst]))
    return results
