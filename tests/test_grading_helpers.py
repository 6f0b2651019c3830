"""The helpers that hidden tests and probes share (dlcourse.grading: call_student, student_caller,
float64_tensor, float64_array; dlcourse.grading.probe_helpers), in the kernel and in the probe runner."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from dlcourse.grading import call_student, float64_array, float64_tensor, student_caller
from dlcourse.grading.forbidden import TORCH_ADAM, TORCH_OPTIMIZER_INTERNALS
from dlcourse.grading.probe_helpers import TORCH_SETUP, close_message, exercise_cells, first_problem, run_setup
from dlcourse.grading.probes import Probe, ProbeSpec, judge, run_probes
from dlcourse.numpy_ref import functional as ref


def _warns(x):
    warnings.warn("overflow", RuntimeWarning)
    return x


def _adam_step():
    p = torch.zeros(2, requires_grad=True)
    p.grad = torch.ones(2)
    torch.optim.Adam([p]).step()


def test_call_student_returns_the_result_and_passes_arguments():
    assert call_student("f", lambda a, b=0, *, what=None: (a, b, what), 1, b=2, what="kw") == (1, 2, "kw")


def test_call_student_fails_a_function_that_calls_the_reference():
    with pytest.raises(AssertionError, match="sig: your code called the reference implementation"):
        call_student("sig", lambda x: ref.sigmoid(x), np.zeros(2))


def test_warnings_fail_only_when_asked():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # even a filter that hides it does not hide it from the check
        with pytest.raises(AssertionError, match=r"f emitted a warning \(RuntimeWarning: overflow\); a function that warns fails this test"):
            call_student("f", _warns, 1, fail_on_warning=True)
    with pytest.warns(RuntimeWarning):
        assert call_student("f", _warns, 1) == 1
    with pytest.warns(RuntimeWarning):
        assert student_caller()("f", _warns, 1) == 1


def test_forbid_names_library_implementations_and_callers_add_to_their_own():
    with pytest.raises(AssertionError, match="torch.optim"):
        call_student("Adam.step", _adam_step, forbid=TORCH_ADAM)
    call_student("Adam.step", _adam_step)  # nothing forbidden: no library check
    call = student_caller(forbid=TORCH_OPTIMIZER_INTERNALS, fail_on_warning=True)
    with pytest.raises(AssertionError, match="the library's own implementation"):
        call("Adam.step", _adam_step)
    with pytest.raises(AssertionError, match="emitted a warning"):
        call("f", _warns, 1)
    plain = student_caller()
    with pytest.raises(AssertionError, match="torch.optim.Adam"):
        plain("Adam.step", _adam_step, forbid=TORCH_ADAM)
    assert plain("f", lambda x: 2 * x, 3) == 6


def test_the_guards_are_removed_after_a_failing_call():
    def boom():
        raise ValueError("student error")

    before = sys.getprofile()
    with pytest.raises(ValueError, match="student error"):
        call_student("f", boom, forbid=TORCH_ADAM, fail_on_warning=True)
    assert sys.getprofile() is before


def test_float64_tensor_copies_and_float64_array_copies_back():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = float64_tensor(a, requires_grad=True)
    assert t.dtype == torch.float64 and t.requires_grad and t.shape == (2, 3)
    a[0, 0] = 99
    assert t[0, 0].item() == 0.0, "a copy, not a view"
    assert float64_tensor(3).dtype == torch.float64 and float64_tensor([[1, 2]]).shape == (1, 2)
    back = float64_array(t * 2)
    assert back.dtype == np.float64 and back[1, 2] == 10.0
    src = torch.ones(2, dtype=torch.float64)
    copy = float64_array(src)
    src += 1
    assert copy.tolist() == [1.0, 1.0], "a copy, not a view"
    assert float64_array([1, 2]).dtype == np.float64 and float64_array(2.5).shape == ()


def test_probe_helpers():
    assert exercise_cells("part1") == ("test_part1", "test_part1_hidden")
    assert close_message(np.ones(3), np.ones(3), "w") is None
    message = close_message(np.array([1.0, 2.0]), np.array([1.0, 3.0]), "w")
    assert message.startswith("w: 1 of 2 elements differ") and "index [1]" in message
    assert first_problem(None, "", "a", "b") == "a" and first_problem(None, None) is None
    namespace = run_setup("def f(x):\n    return scale * x\n", "test setup", scale=3)
    assert namespace["f"](2) == 6 and namespace["__name__"] == "test setup"


def test_the_package_imports_neither_torch_nor_the_references():
    code = ("import sys, dlcourse.grading, dlcourse.grading.tensors, dlcourse.grading.probe_helpers, "
            "dlcourse.grading.forbidden\n"
            "bad = [m for m in sys.modules if m == 'torch' or m.startswith(('dlcourse.numpy_ref', 'dlcourse.torch_ref'))]\n"
            "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_torch_setup_helpers_work_in_the_probe_runner():
    """The probe runner (reference packages refused) imports the shared helpers in SETUP."""
    cells = ["import torch\ndef double(t):\n    return 2 * t"]
    setup = TORCH_SETUP + "\ndef _probe_double(a):\n    return _n(double(_t(a)))\n"
    probe = Probe("double", cells=("t",), call="_probe_double", args=lambda rng: (rng.normal(size=(2, 3)),),
                  expect=lambda a: 2 * a)
    spec = ProbeSpec([probe], setup=setup)
    results, inputs, problem = run_probes(spec, cells, "alice", timeout=120)
    verdict = judge(spec, results, inputs, problem)
    assert not verdict.failures and verdict.cells_passed == {"t"}, verdict.failures
