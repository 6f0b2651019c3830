"""The checks that notebook tests use: they must fail with messages a student can act on."""

import re

import numpy as np
import pytest
import torch

from dlcourse.grading import assert_close, assert_shape, assert_true, call_without_reference, forbid_reference
from dlcourse.grading.cases import student_id, student_rng, student_seed


def test_assert_close_passes_within_tolerance():
    x = np.linspace(-3, 3, 7)
    assert_close(x * (1 + 5e-8), x, rtol=1e-7)
    assert_close(torch.tensor(x), x)  # tensors are accepted


def test_assert_close_reports_worst_element_index_and_tolerance():
    expected = np.zeros((3, 4))
    actual = expected.copy()
    actual[1, 2] = 0.5
    actual[2, 3] = 1e-3
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, rtol=1e-7, atol=1e-10, name="dW")
    msg = str(info.value)
    assert msg.startswith("dW: 2 of 12 elements differ")
    assert "index (1, 2)" in msg and "got 0.5" in msg and "expected 0" in msg
    assert "1e-10 + 1e-07 * |expected|" in msg


@pytest.mark.parametrize(
    "actual, fragment",
    [
        (np.zeros((3, 1)), "expected shape (3,), got shape (3, 1)"),
        (None, "None (did the function forget to `return`?)"),
        (np.array([0.0, np.nan, 0.0]), "not finite; first at index [1]"),
        ("text", "expected the result to be a number or array"),
    ],
)
def test_assert_close_explains_wrong_kinds_of_result(actual, fragment):
    with pytest.raises(AssertionError, match=re.escape(fragment)):
        assert_close(actual, np.zeros(3), name="out")


def test_assert_close_accepts_matching_infinities():
    assert_close(np.array([np.inf, -np.inf, 1.0]), np.array([np.inf, -np.inf, 1.0]))
    with pytest.raises(AssertionError, match="not finite"):
        assert_close(np.array([np.inf]), np.array([-np.inf]))


def test_assert_shape_and_assert_true():
    assert_shape(np.zeros((2, 5)), (2, 5))
    with pytest.raises(AssertionError, match=r"scores: expected shape \(2, 5\), got shape \(5, 2\)"):
        assert_shape(np.zeros((5, 2)), (2, 5), name="scores")
    with pytest.raises(AssertionError, match="the loss must decrease"):
        assert_true(False, "the loss must decrease")


def test_forbid_reference_catches_a_call_into_numpy_ref():
    from dlcourse.numpy_ref import functional as ref

    def lazy_sigmoid(x):
        return ref.sigmoid(x)

    def own_sigmoid(x):
        return 1 / (1 + np.exp(-x))

    x = np.linspace(-2, 2, 5)
    np.testing.assert_allclose(call_without_reference(own_sigmoid, x), ref.sigmoid(x))
    with pytest.raises(AssertionError, match=r"sigmoid: your code called the reference implementation dlcourse\.numpy_ref"):
        with forbid_reference("sigmoid"):
            lazy_sigmoid(x)


def test_student_cases_differ_per_student_and_exercise(monkeypatch, tmp_path):
    monkeypatch.delenv("DLCOURSE_STUDENT_ID", raising=False)
    folder = tmp_path / "autograded" / "alice" / "a1_backprop"
    folder.mkdir(parents=True)
    assert student_id(folder) == "alice"
    assert student_id(tmp_path) == "local"
    monkeypatch.setenv("DLCOURSE_STUDENT_ID", "bob")
    assert student_id(folder) == "bob"
    assert student_seed("softmax") == student_seed("softmax", "bob")
    seeds = {student_seed(ex, who) for ex in ("softmax", "affine") for who in ("alice", "bob")}
    assert len(seeds) == 4
    a, b = student_rng("x", "alice").normal(size=5), student_rng("x", "alice").normal(size=5)
    np.testing.assert_array_equal(a, b)
