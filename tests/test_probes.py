"""Out-of-process probes, the probe runner's guard, the sandbox and the static screen (fast, no nbgrader)."""

import types

import numpy as np
import pytest

from course_fixtures import SANDBOXED
from dlcourse.grading.probe_runner import decode, encode
from dlcourse.grading.probes import Name, Probe, ProbeSpec, judge, run_probes
from dlcourse.grading.sandbox import Sandbox, identities
from dlcourse.grading.screen import screen_source
from dlcourse.numpy_ref import functional as F

SIGMOID = Probe("sigmoid", cells=("t",), call="sigmoid", args=lambda rng: (rng.normal(scale=5, size=(3, 4)),),
                expect=F.sigmoid)


def _verdict(cells: list[str], probes=(SIGMOID,), sandbox=None, setup=""):
    spec = ProbeSpec(list(probes), setup=setup)
    results, inputs, problem = run_probes(spec, cells, "alice", sandbox=sandbox, timeout=120)
    return judge(spec, results, inputs, problem)


OWN_SIGMOID = "import numpy as np\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))"


def test_encode_decode_round_trip_keeps_types_and_values():
    value = {"a": (np.arange(6.0).reshape(2, 3), [1, 2.5, None]), "b": types.SimpleNamespace(x=np.int64(3))}
    back = decode(encode(value))
    np.testing.assert_array_equal(back["a"][0], value["a"][0])
    assert isinstance(back["a"], tuple) and back["a"][1] == [1, 2.5, None] and back["b"].x == 3
    assert decode({"__name__": "f"}, {"f": len}) is len
    assert encode(object())["__unsupported__"] == "object"


def test_a_correct_function_passes_and_a_wrong_one_fails_with_the_worst_element():
    assert not _verdict([OWN_SIGMOID]).failures
    wrong = _verdict(["import numpy as np\ndef sigmoid(x):\n    return np.tanh(x)"])
    assert wrong.cells_failed == {"t"} and "Worst at index" in wrong.failures["sigmoid"]


def test_failing_cells_do_not_stop_the_run_but_a_missing_function_fails():
    assert not _verdict(["raise ValueError('a broken cell')", OWN_SIGMOID]).failures
    missing = _verdict(["x = 1"])
    assert "sigmoid is not defined" in missing.failures["sigmoid"]


def test_setup_names_and_custom_checks():
    probe = Probe("grad", cells=("g",), call="twice", args=lambda rng: (Name("helper"), 3.0),
                  check=lambda result, args, kwargs: None if result == 12.0 else f"got {result}")
    verdict = _verdict(["def twice(f, x):\n    return 2 * f(x)"], probes=(probe,), setup="def helper(x):\n    return x * 2")
    assert not verdict.failures


def test_student_code_that_ends_the_run_fails_every_probe():
    verdict = _verdict([OWN_SIGMOID, "import os\nos._exit(0)"])
    assert verdict.problem and "ended the probe run early" in verdict.problem and verdict.cells_failed == {"t"}


@pytest.mark.parametrize("delegation", [
    "from dlcourse.numpy_ref.functional import sigmoid",
    "import dlcourse.numpy_ref.functional as f\nsigmoid = f.sigmoid",
    "import importlib.util, os, dlcourse\n"
    "p = os.path.join(os.path.dirname(dlcourse.__file__), 'numpy_ref', 'functional.py')\n"
    "s = importlib.util.spec_from_file_location('copy', p); m = importlib.util.module_from_spec(s)\n"
    "s.loader.exec_module(m); sigmoid = m.sigmoid",
    "import os, dlcourse\nns = {}\n"
    "exec(open(os.path.join(os.path.dirname(dlcourse.__file__), 'numpy_ref', 'functional.py')).read(), ns)\n"
    "sigmoid = ns['sigmoid']",
    # a child interpreter would import the reference freely: starting one is refused
    "import json, subprocess, sys\nimport numpy as np\n"
    "def sigmoid(x):\n"
    "    code = ('import sys, json, numpy as np; from dlcourse.numpy_ref.functional import sigmoid; '\n"
    "            'print(json.dumps(sigmoid(np.array(json.loads(sys.stdin.read()))).tolist()))')\n"
    "    out = subprocess.run([sys.executable, '-c', code], input=json.dumps(x.tolist()),\n"
    "                         capture_output=True, text=True).stdout\n"
    "    return np.array(json.loads(out))",
])
def test_the_reference_is_out_of_reach_of_the_student_code(delegation):
    verdict = _verdict([delegation])
    assert verdict.cells_failed == {"t"}, verdict


@pytest.mark.skipif(not SANDBOXED, reason="needs the bubblewrap sandbox")
def test_in_the_sandbox_the_reference_files_and_the_course_are_invisible(tmp_path):
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    (course / "solutions" / "secret.txt").write_text("42")
    work = course / "work"
    work.mkdir()
    probe = Probe("look", cells=("t",), call="look", check=lambda r, a, k: None if r == [False, False, True] else str(r))
    code = ("import os, dlcourse\n"
            "def look():\n"
            f"    ref = os.path.join(os.path.dirname(dlcourse.__file__), 'numpy_ref', 'functional.py')\n"
            f"    return [os.path.exists(ref), os.path.exists({str(course / 'solutions' / 'secret.txt')!r}), "
            "os.path.exists(os.getcwd())]")
    verdict = _verdict([code], probes=(probe,), sandbox=Sandbox(work, identity=identities(1)[0]))
    assert not verdict.failures, verdict.failures


@pytest.mark.parametrize("source, label", [
    ("get_ipython().input_transformers_post.append(f)", "IPython input transformers"),
    ("import sys\nx = sys._getframe(1).f_locals", "sys._getframe"),
    ("import numpy as np\nnp.testing.assert_allclose = print", "patches np.testing.assert_allclose"),
    ("import sqlite3", "sqlite3"),
    ("open('../../../gradebook.db')", "the gradebook"),
    ("from dlcourse.numpy_ref import functional", "the reference implementation"),
    ("globals()['assert_close'] = print", "globals() manipulation"),
    ("eval('1 + 1')", "eval"),
    ("import builtins\nbuiltins.eval('1')", "eval"),
    ("f = __builtins__.compile", "compile"),
])
def test_static_screen_names_what_it_found(source, label):
    assert label in screen_source(source)


def test_static_screen_is_quiet_on_ordinary_solutions():
    code = ("import numpy as np\n\ndef affine_forward(x, w, b):\n    out = x @ w + b\n    return out, (x, w, b)\n"
            "params = {'W1': np.zeros(3)}\nparams['W1'] -= 0.1\nhistory = []\nhistory.append(1.0)\n")
    assert screen_source(code) == set()


def test_static_screen_is_quiet_on_methods_named_like_builtins():
    """``model.eval()``, ``re.compile`` and ``torch.compile`` are everyday torch and Python, not dynamic code."""
    code = ("import re, torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()\npattern = re.compile('a+')\n"
            "fast = torch.compile\n")
    assert screen_source(code) == set()
