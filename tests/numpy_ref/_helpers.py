"""Shared helpers for the numpy reference tests: torch as an oracle, and a
closeness check whose failure message names the worst element."""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch


def assert_close(actual, expected, *, rtol: float, atol: float, name: str) -> None:
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise.

    Equal infinities count as close; NaN never does.  On failure the message
    gives the tolerance, how many elements fail, and the worst one: its
    index, the actual and expected values and the difference.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"{name}: expected shape {expected.shape}, got shape {actual.shape}"
    )
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(actual - expected)
        tol = atol + rtol * np.abs(expected)
        ok = (diff <= tol) | (actual == expected)
    if ok.all():
        return
    excess = np.where(ok, -np.inf, np.nan_to_num(diff - tol, nan=np.inf, posinf=np.inf))
    worst = np.unravel_index(np.argmax(excess), actual.shape)
    raise AssertionError(
        f"{name}: {np.count_nonzero(~ok)} of {actual.size} element(s) differ by more than "
        f"atol + rtol*|expected| (rtol={rtol:g}, atol={atol:g}); worst at index {tuple(int(i) for i in worst)}: "
        f"expected {float(expected[worst])!r}, got {float(actual[worst])!r} (|diff| = {diff[worst]:.3e}, "
        f"allowed {tol[worst]:.3e})"
    )


@contextlib.contextmanager
def strict_numerics():
    """Make overflow, invalid operations, division by zero and every warning errors (underflow to 0 is fine)."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        yield


def tensor(a, requires_grad: bool = False) -> torch.Tensor:
    """A float64 torch copy of ``a``."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=requires_grad)


def torch_forward_backward(fn, inputs, dout=None):
    """Run ``fn`` on float64 tensor copies of ``inputs`` and backpropagate.

    ``dout`` is the upstream gradient (shaped like the output); ``None`` is
    only for scalar outputs such as losses.  Returns ``(out, grads)`` as numpy
    arrays, one gradient per input.
    """
    tensors = [tensor(a, requires_grad=True) for a in inputs]
    out = fn(*tensors)
    out.backward(None if dout is None else tensor(dout))
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


# Values that break naive implementations: huge magnitudes (exp overflow),
# the edge of float64's exp range, and the kinks at 0 (including -0.0).
EXTREMES = np.array(
    [-1e4, -1000.0, -710.0, -709.0, -100.0, -30.0, -1.0, -1e-8, -0.0, 0.0, 1e-8, 1.0, 30.0, 100.0, 709.0, 710.0, 1000.0, 1e4]
)
