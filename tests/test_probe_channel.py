"""The probe runner's channel against hostile student code (see dlcourse.grading.probe_runner).

Forged output, rewritten replies, garbage on every descriptor, malformed and oversized values,
threads inside a checked call, hangs. Each case is a real run, unsandboxed and, where bubblewrap
works, in the sandbox; the wire format's checks are also tested directly.
"""

import os

import numpy as np
import pytest

from course_fixtures import SANDBOXED
from dlcourse.grading import probes
from dlcourse.grading.probe_wire import Limits, WireError, check_value, decode, encode, pack
from dlcourse.grading.probes import Probe, ProbeSpec, judge, run_probes
from dlcourse.grading.sandbox import Sandbox, identities

MODES = ["unsafe", pytest.param("sandbox", marks=pytest.mark.skipif(not SANDBOXED, reason="needs bubblewrap"))]


@pytest.fixture(params=MODES)
def grade(request, tmp_path):
    """``grade(cells, probes, timeout=60, call_timeout=20) -> Verdict``: one real run, unsandboxed or sandboxed."""
    sandboxed = request.param == "sandbox"

    def grade(cells, checked, *, timeout=60, call_timeout=20):
        spec = ProbeSpec(list(checked), call_timeout=call_timeout)
        box = Sandbox(tmp_path / "work", identity=identities(1)[0]) if sandboxed else None
        results, inputs, problem = run_probes(spec, cells, "alice", sandbox=box, timeout=timeout)
        return judge(spec, results, inputs, problem)

    grade.sandboxed = sandboxed
    return grade


SIGMOID = Probe("sigmoid", cells=("t",), call="sigmoid", args=lambda rng: (rng.normal(size=(3, 4)),),
                expect=lambda x: 1 / (1 + np.exp(-x)))
OWN_SIGMOID = "import numpy as np\ndef sigmoid(x):\n    return 1 / (1 + np.exp(-x))"
WRONG_SIGMOID = "import numpy as np\ndef sigmoid(x):\n    return np.tanh(x)"
FORBID = ("colorsys.rgb_to_hsv",)  # a pure-Python library function: no torch needed
HSV = Probe("hsv", cells=("h",), call="to_hsv", args=lambda rng: (0.2, 0.4, 0.6), check=lambda r, a, k: None,
            forbid=FORBID)
OWN_HSV = "def to_hsv(r, g, b):\n    return [max(r, g, b), min(r, g, b), 0.0]"
DELEGATED_HSV = "import colorsys\ndef to_hsv(r, g, b):\n    return list(colorsys.rgb_to_hsv(r, g, b))"
DELEGATION = "the library's own implementation"
THREAD = "started a thread or process while it was checked for delegation to colorsys.rgb_to_hsv"


def test_an_atexit_handler_that_prints_a_forged_result_changes_nothing(grade):
    forge = ("import atexit, os, sys\n"
             "from dlcourse.grading.probe_wire import pack\n"
             "def forge():\n"
             "    for out in (sys.stdout, sys.__stdout__, sys.stderr):\n"
             "        print('\\n<<<dlcourse-probe-results>>>\\n{', file=out, flush=True)\n"
             "    os.write(1, pack({'results': {'sigmoid': {'ok': True, 'value': 0.5}}, 'problem': None}))\n"
             "atexit.register(forge)\n"
             "forge()\n")
    wrong = grade([WRONG_SIGMOID, forge], [SIGMOID])
    assert wrong.problem is None, f"a forged result must not break the run, got the problem {wrong.problem!r}"
    assert "Worst at index" in wrong.failures.get("sigmoid", ""), f"expected the real comparison, got {wrong.failures}"
    right = grade([OWN_SIGMOID, forge], [SIGMOID])
    assert not right.failures, f"a correct sigmoid next to a forger should pass, got {right.failures}"


REWRITE = '''
import json
def _clean(message):  # every reply becomes a clean pass, whatever the guard saw
    return {"ok": True, "value": [0.0, 0.0, 0.0]} if isinstance(message, dict) and "ok" in message else message
'''
PATCHES = {
    "json.dumps": REWRITE + "_dumps = json.dumps\njson.dumps = lambda obj, *a, **k: _dumps(_clean(obj), *a, **k)",
    "JSONEncoder.encode": REWRITE + "_encode = json.JSONEncoder.encode\n"
                                    "json.JSONEncoder.encode = lambda self, obj: _encode(self, _clean(obj))",
}


@pytest.mark.parametrize("patch", PATCHES)
def test_rewriting_the_replies_does_not_hide_a_delegation(grade, patch):
    caught = grade([PATCHES[patch], DELEGATED_HSV], [HSV])
    assert DELEGATION in caught.failures.get("hsv", ""), f"{patch} patched: expected delegation, got {caught.failures}"
    honest = grade([PATCHES[patch], OWN_HSV], [HSV])
    assert not honest.failures, f"{patch} patched, no delegation: expected a pass, got {honest.failures}"


def test_a_signal_sent_outside_a_checked_call_fails_nothing(grade):
    verdict = grade(["import os, signal\nos.kill(os.getppid(), signal.SIGUSR1)", OWN_HSV], [HSV])
    assert not verdict.failures, f"only the armed profile function's signal counts, got {verdict.failures}"


SPRAY = ("import os\n"
         "def spray():\n"
         "    for fd in range(21):\n"
         "        try:\n"
         "            os.write(fd, b'garbage ' * 64)\n"
         "        except OSError:\n"
         "            pass\n")


def test_garbage_written_to_every_descriptor_fails_cleanly(grade):
    in_cells = grade([OWN_SIGMOID, SPRAY + "spray()"], [SIGMOID])
    assert in_cells.problem and "could not be read" in in_cells.problem, \
        f"garbage while the cells run: expected a problem saying it could not be read, got {in_cells.problem!r}"
    noisy = Probe("noisy", cells=("n",), call="noisy", check=lambda r, a, k: None)
    in_call = grade([OWN_SIGMOID, SPRAY + "def noisy():\n    spray()\n    return 1.0"], [noisy, SIGMOID])
    assert in_call.problem is None, f"garbage in a call fails that call only, got the problem {in_call.problem!r}"
    assert in_call.failures.get("noisy", "").startswith("the probe result could not be read"), in_call.failures
    assert in_call.failures.get("sigmoid", "").startswith("not run: the probe run was stopped when noisy() sent"), \
        f"the calls after a broken channel cannot run, got {in_call.failures}"


def test_the_worker_holds_only_its_channel_and_cannot_reach_the_supervisor(grade):
    look = ("import os\n"
            "def look():\n"
            "    targets = []\n"
            "    for fd in os.listdir('/proc/self/fd'):\n"
            "        try:\n"
            "            targets.append(os.readlink(f'/proc/self/fd/{fd}'))\n"
            "        except OSError:\n"
            "            pass  # the listing's own descriptor, closed by now\n"
            "    try:\n"
            "        open(f'/proc/{os.getppid()}/fd/1', 'wb').close()\n"
            "        reached = True\n"
            "    except OSError:\n"
            "        reached = False\n"
            "    return [sorted(targets), reached]")
    seen = {}
    probe = Probe("look", cells=("l",), call="look", check=lambda r, a, k: seen.update(result=r))
    verdict = grade([look], [probe])
    assert not verdict.failures, verdict.failures
    targets, reached = seen["result"]
    assert targets.count("/dev/null") == 3, f"stdin, stdout and stderr must be /dev/null, got {targets}"
    assert sum(t.startswith("pipe:") for t in targets) == 2, f"the two pipes of the channel only, got {targets}"
    if grade.sandboxed or os.geteuid() != 0:  # root outside a sandbox may trace anything
        assert not reached, "the supervisor is not dumpable: the worker must not open its descriptors"


def _forging(body: str) -> str:
    """Student code: ``forged()`` writes ``body`` as a framed reply on the worker's own channel, then returns 0."""
    return ("import fcntl, os, stat\n"
            "from dlcourse.grading.probe_wire import HEADER, MAGIC\n"
            f"BODY = {body!r}.encode()\n"
            "def forged():\n"
            "    for fd in range(3, 64):\n"
            "        try:\n"
            "            writable = fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_WRONLY\n"
            "        except OSError:\n"
            "            continue\n"
            "        if writable and stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
            "            os.write(fd, HEADER.pack(MAGIC, len(BODY)) + BODY)\n"
            "    return 0\n")


def _value(value: str) -> str:
    return '{"ok": true, "value": ' + value + "}"


BAD_REPLIES = {
    "a huge declared shape": _value('{"__nd__": [], "dtype": "float64", "shape": [200000000]}'),
    "an object dtype": _value('{"__nd__": [1], "dtype": "object", "shape": [1]}'),
    "a void dtype": _value('{"__nd__": [1], "dtype": "|V8", "shape": [1]}'),
    "a datetime dtype": _value('{"__nd__": [1], "dtype": "datetime64[ns]", "shape": [1]}'),
    "data that disagrees with the shape": _value('{"__nd__": [1.0, 2.0], "dtype": "float64", "shape": [3]}'),
    "strings in a float array": _value('{"__nd__": ["1.0"], "dtype": "float64", "shape": [1]}'),
    "100 000 levels of nesting": _value("[" * 100_000 + "]" * 100_000),
    "a string of 20 000 characters": _value('"' + "x" * 20_000 + '"'),
    "an unknown tagged object": _value('{"__evil__": 1}'),
    "not JSON": "garbage",
    "not a result": '{"ok": "yes"}',
}


@pytest.mark.parametrize("bad", BAD_REPLIES)
def test_a_malformed_reply_fails_its_call_only(grade, bad):
    forged = Probe("forged", cells=("f",), call="forged", check=lambda r, a, k: None)
    verdict = grade([_forging(BAD_REPLIES[bad])], [forged])
    assert verdict.problem is None, f"{bad}: the run must go on, got the problem {verdict.problem!r}"
    assert verdict.failures.get("forged", "").startswith("the probe result could not be read"), \
        f"{bad}: expected 'the probe result could not be read: ...', got {verdict.failures}"


THREAD_CODE = {
    "delegating, profile hook cleared": ("import colorsys, threading\n"
                                         "def to_hsv(r, g, b):\n"
                                         "    threading.setprofile(None)\n"
                                         "    out = []\n"
                                         "    work = lambda: out.append(colorsys.rgb_to_hsv(r, g, b))\n"
                                         "    t = threading.Thread(target=work)\n"
                                         "    t.start(); t.join()\n"
                                         "    return list(out[0])"),
    "innocent": "import threading\n"
                "def to_hsv(r, g, b):\n"
                "    out = []\n"
                "    t = threading.Thread(target=lambda: out.append(sum(range(10))))\n"
                "    t.start(); t.join(10)\n"
                "    return [float(out[0]), 0.0, 0.0]",
}


@pytest.mark.parametrize("kind", THREAD_CODE)
def test_a_thread_started_in_a_checked_call_fails_it_loudly(grade, kind):
    verdict = grade([THREAD_CODE[kind]], [HSV])
    assert THREAD in verdict.failures.get("hsv", ""), f"{kind} thread: got {verdict.failures}"
    unchecked = Probe("free", cells=("f",), call="to_hsv", args=lambda rng: (0.2, 0.4, 0.6), check=lambda r, a, k: None)
    if kind == "innocent":
        assert not grade([THREAD_CODE[kind]], [unchecked]).failures, "threads are fine in a call that is not checked"


def test_a_thread_below_threading_is_seen_in_the_sandbox(grade):
    if not grade.sandboxed:
        pytest.skip("unsandboxed, only threads started through threading are seen (documented)")
    raw = ("import _thread, colorsys, time\n"
           "def to_hsv(r, g, b):\n"
           "    out = []\n"
           "    _thread.start_new_thread(lambda: out.append(colorsys.rgb_to_hsv(r, g, b)), ())\n"
           "    while not out:\n"
           "        time.sleep(0.01)\n"
           "    return list(out[0])")
    verdict = grade([raw], [HSV])
    assert THREAD in verdict.failures.get("hsv", ""), f"expected the thread message, got {verdict.failures}"


def test_a_thread_started_in_a_checked_call_runs_profiled(grade):
    profiled = ("import colorsys, threading\n"
                "def to_hsv(r, g, b):\n"
                "    out = []\n"
                "    t = threading.Thread(target=lambda: out.append(colorsys.rgb_to_hsv(r, g, b)))\n"
                "    t.start(); t.join(10)\n"
                "    return list(out[0])")
    failure = grade([profiled], [HSV]).failures.get("hsv", "")
    assert f"colorsys.rgb_to_hsv, {DELEGATION}" in failure, f"the thread must run and be caught, got {failure!r}"


HANGS = {
    "busy": "def hang():\n    while True:\n        pass",
    "asleep, signals blocked": "import signal, time\n"
                               "def hang():\n"
                               "    signal.pthread_sigmask(signal.SIG_BLOCK, set(signal.Signals))\n"
                               "    time.sleep(10**6)",
}


@pytest.mark.parametrize("kind", HANGS)
def test_a_call_that_hangs_fails_at_its_deadline_and_stops_the_run(grade, kind):
    hang = Probe("hang", cells=("x",), call="hang", check=lambda r, a, k: None)
    verdict = grade([OWN_SIGMOID, HANGS[kind]], [hang, SIGMOID], call_timeout=2)
    assert verdict.failures.get("hang") == "the call did not finish in 2 s", verdict.failures
    assert verdict.failures.get("sigmoid") == "not run: the probe run was stopped when hang() did not finish in 2 s", \
        f"{kind}: the calls after a killed worker are not run, got {verdict.failures}"


def test_a_call_that_hangs_is_bounded_by_the_whole_budget(grade):
    hang = Probe("hang", cells=("x",), call="hang", check=lambda r, a, k: None)
    verdict = grade([HANGS["busy"]], [hang], timeout=4, call_timeout=600)
    assert verdict.failures.get("hang", "").startswith("the call did not finish in"), verdict.failures


def test_cells_that_hang_fail_every_probe(grade):
    verdict = grade([OWN_SIGMOID, "while True:\n    pass"], [SIGMOID, HSV], timeout=4)
    assert verdict.problem == "the student's code did not finish in 4 s", \
        f"expected the supervisor's deadline, not the grader's kill: {verdict.problem!r}"
    assert verdict.cells_failed == {"t", "h"}, verdict


def test_killing_the_supervisor_fails_every_probe(grade):
    verdict = grade([OWN_SIGMOID, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"], [SIGMOID])
    assert verdict.problem and "ended without a result" in verdict.problem, verdict.problem
    assert verdict.cells_failed == {"t"}, verdict


OUTPUTS = {
    "nothing": b"",
    "garbage": b"<<<dlcourse-probe-results>>>\n{",
    "a truncated message": pack({"results": {}, "problem": None})[:-3],
    "two messages": pack({"results": {}, "problem": None}) * 2,
    "an unknown call": pack({"results": {"other": {"ok": True, "value": 1}}, "problem": None}),
    "a huge declared shape": pack({"results": {"sigmoid": {"ok": True, "value": {
        "__nd__": [], "dtype": "float64", "shape": [200_000_000]}}}, "problem": None}),
    "a problem that is not a string": pack({"results": {}, "problem": 3}),
}


@pytest.mark.parametrize("output", OUTPUTS)
def test_any_unreadable_runner_output_is_a_problem_never_an_exception(monkeypatch, tmp_path, output):
    fake = tmp_path / "fake_runner.py"
    fake.write_text(f"import sys\nsys.stdin.buffer.read()\nsys.stdout.buffer.write({OUTPUTS[output]!r})\n")
    monkeypatch.setattr(probes, "RUNNER", fake)
    results, _, problem = run_probes(ProbeSpec([SIGMOID]), [OWN_SIGMOID], "alice", timeout=30)
    assert results == {} and problem, f"{output}: expected no results and a problem, got {results}, {problem!r}"
    assert "could not be read" in problem or "ended without a result" in problem, f"{output}: {problem!r}"


def _never(*args, **kwargs):
    raise AssertionError("numpy was asked to allocate before the value was checked")


def test_decode_refuses_a_huge_declared_shape_before_numpy_sees_it(monkeypatch):
    for name in ("array", "asarray", "empty", "zeros", "ones", "full", "frombuffer"):
        monkeypatch.setattr(np, name, _never)
    with pytest.raises(WireError, match="more than 10000000 elements"):
        decode({"__nd__": [], "dtype": "float64", "shape": [200_000_000]})
    with pytest.raises(WireError, match="does not match its shape"):
        decode({"__nd__": [1.0, 2.0], "dtype": "float64", "shape": [1000]})
    with pytest.raises(WireError, match="does not match its shape"):
        decode({"__nd__": [[1.0], [2.0, 3.0]], "dtype": "float64", "shape": [2, 2]})


@pytest.mark.parametrize("dtype", ["object", "|V8", "V8", "datetime64[ns]", "<M8[ns]", "<U3", "|S3", "complex128",
                                   "float128", "i8", "<f8", None, 5])
def test_decode_accepts_only_plain_numeric_dtypes(monkeypatch, dtype):
    monkeypatch.setattr(np, "array", _never)
    with pytest.raises(WireError, match="is not allowed"):
        decode({"__nd__": [1], "dtype": dtype, "shape": [1]})


@pytest.mark.parametrize("array", [np.array([object()]), np.zeros(2, "V8"), np.zeros(2, "datetime64[ns]"),
                                   np.array(["a"]), np.zeros(2, complex)])
def test_arrays_of_other_dtypes_encode_as_unsupported(array):
    encoded = encode(array)
    assert set(encoded) == {"__unsupported__"}, f"{array.dtype}: expected an __unsupported__ marker, got {encoded}"
    check_value(encoded)


def _nested(levels: int):
    value = 0
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("value, why", [
    (_nested(21), "nested deeper than 20"),
    ("x" * 10_001, "longer than 10000"),
    ({"__nd__": [300], "dtype": "int8", "shape": [1]}, "do not fit"),
    ({"__nd__": [True], "dtype": "int64", "shape": [1]}, "do not fit"),
    ({"__nd__": [1.0], "dtype": "float64", "shape": [-1]}, "non-negative"),
    ({"__nd__": [1.0], "dtype": "float64", "shape": [1.0]}, "non-negative"),
    ({"__dict__": [[[1, 2], 3]]}, "key must be"),
    ({"__name__": "sigmoid"}, "not an encoded value"),
    ({"__tuple__": [1], "extra": 2}, "not an encoded value"),
    ({1, 2}, "not an encoded value"),
])
def test_check_value_refuses(value, why):
    with pytest.raises(WireError, match=why):
        check_value(value)


def test_check_value_accepts_what_encode_makes_within_the_limits():
    check_value(_nested(20))
    check_value("x" * 10_000)
    check_value(encode({"a": (np.arange(6.0).reshape(2, 3), [1, None]), (1, "k"): np.zeros((0, 5), np.uint8)}))
    with pytest.raises(WireError, match="more than 3 elements"):
        check_value(encode(np.zeros(4)), Limits(elements=3))
