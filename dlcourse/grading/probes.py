"""Out-of-process verification: probes re-check each exercise outside the notebook's kernel.

nbgrader runs a student's code and the hidden tests in one Python process, so code the
student ran earlier can replace whatever the tests rely on. Probes close that hole. The
instructor declares them in ``solutions/<assignment>/probes.py`` (never released: it is in
``CourseDirectory.ignore``)::

    from dlcourse.grading.probes import Probe
    from dlcourse.numpy_ref import functional as ref

    PROBES = [
        Probe("sigmoid", cells=("test_activations", "test_activations_hidden"), call="sigmoid",
              args=lambda rng: (rng.normal(scale=5.0, size=(4, 6)),), expect=ref.sigmoid),
    ]
    SETUP = ""  # optional code run after the student's cells, e.g. helper functions for args

After nbgrader has run, :func:`verify` takes the student's code from the autograded
notebook (every code cell except the tests, and except cells that killed or hung the
kernel), runs it as a plain script in a fresh isolated interpreter inside the sandbox
(:mod:`dlcourse.grading.probe_runner`), calls each probe with inputs drawn for this
student, and compares the plain-data results with the reference here, in the grading
process. The reference packages are hidden from that interpreter, so a function that
delegates to them fails. A probe that fails takes the points of its ``cells``: the probes
win. A cell nbgrader scored 0 although its probes pass stays 0 (the notebook's tests check
more than values) and is flagged for review.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
import numpy as np

from dlcourse.grading.cases import student_rng
from dlcourse.grading.checks import assert_close
from dlcourse.grading.execute import KERNEL_DIED, KERNEL_HUNG, OUT_OF_MEMORY
from dlcourse.grading.safe.text import console_text
from dlcourse.grading.probe_slice import ProbeCell, loaded_names, needed_code
from dlcourse.grading.probe_wire import MAX_BYTES, WireError, check_output, decode, encode, unpack

PROBES_FILE = "probes.py"
RUNNER = Path(__file__).with_name("probe_runner.py")  # run as a file: see probe_runner
GRACE_SECONDS = 5  # after the budget, the runner is killed with everything it started
DEFAULT_FORBIDDEN = ("dlcourse.numpy_ref", "dlcourse.torch_ref")
# cells that killed or hung the kernel, timed out or ran out of memory in nbgrader are not run again
LOST_CELL_ERRORS = {KERNEL_DIED, KERNEL_HUNG, "CellTimeoutError", OUT_OF_MEMORY}


@dataclass(frozen=True)
class Name:
    """An argument that names an object defined in the runner (by SETUP or the student's code)."""

    name: str


@dataclass(frozen=True)
class Probe:
    """One call of a student's function on per-student inputs, and how to judge its result.

    Args:
        name: unique name of the probe (also salts the student's random inputs).
        cells: grade ids whose points depend on this probe.
        call: name of the student's function (or class) in the notebook's namespace.
        args: ``rng -> tuple`` of positional arguments (arrays, numbers, lists, dicts,
            SimpleNamespace, :class:`Name`).
        kwargs: ``rng -> dict`` of keyword arguments (drawn after ``args`` from the same rng).
        expect: reference ``f(*args, **kwargs)``; its result is compared element by element.
        check: instead of ``expect``, ``check(result, args, kwargs) -> None | str`` (a message
            when the result is wrong), for results with no single right value (training).
        select: applied to the student's result before it is judged, e.g. ``lambda r: r[0]`` to
            compare only the output of a ``(out, cache)`` pair.
        rtol, atol: tolerances of the comparison with ``expect``.
        forbid: dotted names of library callables the call must not run, e.g.
            ``("torch.optim.Adam", "torch.optim.adam.adam")`` for an exercise that re-implements
            Adam (see :mod:`dlcourse.grading.forbidden`); the runner resolves them before the
            student's code runs and fails the probe when one of them is called.
    """

    name: str
    cells: tuple[str, ...]
    call: str
    args: Callable[[np.random.Generator], tuple] = lambda rng: ()
    kwargs: Callable[[np.random.Generator], dict] = lambda rng: {}
    expect: Callable[..., Any] | None = None
    check: Callable[[Any, tuple, dict], str | None] | None = None
    select: Callable[[Any], Any] | None = None
    rtol: float = 1e-7
    atol: float = 1e-10
    forbid: tuple[str, ...] = ()


@dataclass
class ProbeSpec:
    probes: list[Probe]
    setup: str = ""
    forbidden: tuple[str, ...] = DEFAULT_FORBIDDEN
    call_timeout: int = 120


@dataclass
class Verdict:
    """What the probes found for one student."""

    failures: dict[str, str] = field(default_factory=dict)  # probe name -> why
    cells_failed: set[str] = field(default_factory=set)  # grade ids whose probes failed
    cells_passed: set[str] = field(default_factory=set)
    failed_by_cell: dict[str, list[str]] = field(default_factory=dict)  # grade id -> names of its failed probes
    problem: str | None = None  # the runner itself failed (counts as every probe failing)


def load_probes(source_dir: Path) -> ProbeSpec | None:
    """The probes of an assignment (``solutions/<id>/probes.py``), or None when it has none."""
    path = source_dir / PROBES_FILE
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_dlcourse_probes_{source_dir.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    probes = list(getattr(module, "PROBES", []))
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: probe names must be unique, got {names}")
    return ProbeSpec(probes, getattr(module, "SETUP", ""), tuple(getattr(module, "FORBIDDEN", DEFAULT_FORBIDDEN)),
                     int(getattr(module, "CALL_TIMEOUT", 120)))


def _encode_arg(value):
    if isinstance(value, Name):
        return {"__name__": value.name}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode_arg(v) for v in value]}
    if isinstance(value, list):
        return [_encode_arg(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[k, _encode_arg(v)] for k, v in value.items()]}
    return encode(value)


def student_cells(autograded_notebooks: list[Path]) -> list[str]:
    """The code the probe runner executes: every code cell except tests and cells the kernel lost."""
    return [cell.source for cell in probe_cells(autograded_notebooks)]


def probe_cells(autograded_notebooks: list[Path]) -> list[ProbeCell]:
    """:func:`student_cells` with each cell's kind (solution cell or not), for :func:`needed_code`."""
    from IPython.core.inputtransformer2 import TransformerManager

    transform = TransformerManager().transform_cell
    cells = []
    for cell in (c for path in autograded_notebooks for c in nbformat.read(path, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            continue
        if any(o.get("output_type") == "error" and o.get("ename") in LOST_CELL_ERRORS for o in cell.get("outputs", [])):
            continue
        try:
            source = transform(cell.source)
        except Exception:  # noqa: BLE001 - unparsable input stays as it is and fails in the runner
            source = cell.source
        cells.append(ProbeCell(source, bool(meta.get("solution"))))
    return cells


def probe_roots(spec: ProbeSpec, student: str) -> set[str]:
    """The names the probes use: the functions they call, the names passed as :class:`Name` arguments
    (drawn as :func:`run_probes` draws them) and every name the setup code reads."""
    import ast

    roots = {probe.call for probe in spec.probes}
    for probe in spec.probes:
        rng = student_rng(f"probe:{probe.name}", student)
        roots |= _names_in([probe.args(rng), probe.kwargs(rng)])
    try:
        tree = ast.parse(spec.setup)
    except SyntaxError:
        return roots
    roots |= loaded_names(tree)
    # setup code may look the student's functions up by name (globals()[name]): every identifier-like string
    roots |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
              and n.value.isidentifier()}
    return roots


def _names_in(value) -> set[str]:
    if isinstance(value, Name):
        return {value.name}
    if isinstance(value, str) and value.isidentifier():  # a name the setup code may look up
        return {value}
    if isinstance(value, dict):
        return {n for v in value.values() for n in _names_in(v)}
    if isinstance(value, (tuple, list)):
        return {n for v in value for n in _names_in(v)}
    return set()


def forbidden_dirs(modules: tuple[str, ...]) -> list[Path]:
    """The folders of the forbidden reference packages (hidden in the runner's sandbox)."""
    dirs = []
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations:
            dirs += [Path(p).resolve() for p in spec.submodule_search_locations]
        elif spec is not None and spec.origin:
            dirs.append(Path(spec.origin).resolve())
    return dirs


def run_probes(
    spec: ProbeSpec,
    cells: list[str],
    student: str,
    *,
    sandbox=None,
    timeout: float = 900,
    preexec: Callable[[], None] | None = None,
) -> tuple[dict[str, dict], tuple, str | None]:
    """Run the student's cells and the probe calls out of process (see :mod:`dlcourse.grading.probe_runner`).

    ``timeout`` is the whole budget of the run: the runner stops the student's code within it,
    and is killed with everything it started ``GRACE_SECONDS`` later. Nothing the student's
    code does makes this raise: a run without a readable result returns a problem instead.

    Returns ``(results by probe name, the inputs drawn, a problem or None)``.
    """
    inputs = {}
    calls = []
    for probe in spec.probes:
        rng = student_rng(f"probe:{probe.name}", student)
        args = tuple(probe.args(rng))
        kwargs = dict(probe.kwargs(rng))
        inputs[probe.name] = (args, kwargs)
        calls.append({"id": probe.name, "function": probe.call,
                      "args": _encode_arg(list(args)), "kwargs": _encode_arg(kwargs)})
        if probe.forbid:
            calls[-1]["forbid"] = list(probe.forbid)
    hidden = forbidden_dirs(spec.forbidden)
    request = {"cells": cells, "setup": spec.setup, "calls": calls, "call_timeout": spec.call_timeout,
               "forbidden_modules": list(spec.forbidden), "forbidden_dirs": [str(d) + "/" for d in hidden],
               "budget": timeout, "max_bytes": MAX_BYTES, "private_pid_namespace": sandbox is not None}
    command = [sys.executable, "-I", str(RUNNER)]
    if sandbox is not None:
        sandbox.hidden = [*sandbox.hidden, *[d for d in hidden if d.is_dir() and d not in sandbox.hidden]]
        command = sandbox.argv(command)
    # the values are within MAX_BYTES; each call's error and the problem add at most ~64 KiB of JSON
    cap = MAX_BYTES + 2**16 * (len(calls) + 1)
    output, problem = _collect(command, json.dumps(request).encode(), timeout + GRACE_SECONDS, cap,
                               preexec=preexec, cwd="/" if sandbox is not None else None)
    if problem is not None:
        return {}, inputs, problem
    try:
        results, problem = check_output(unpack(output), inputs)
    except WireError as exc:
        return {}, inputs, f"the probe run's output could not be read: {exc}"
    return results, inputs, problem


def _collect(command: list[str], data: bytes, seconds: float, cap: int, *,
             preexec: Callable[[], None] | None, cwd: str | None) -> tuple[bytes, str | None]:
    """Run ``command`` with ``data`` on stdin; ``(its stdout, None)``, or ``(b"", why there is nothing to read)``.

    Kills the command's whole process group after ``seconds`` or once it wrote more than ``cap`` bytes.
    """
    deadline = time.monotonic() + seconds
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=preexec, start_new_session=True, cwd=cwd)
    out, err, problem = bytearray(), bytearray(), None
    try:
        with selectors.DefaultSelector() as selector:
            os.set_blocking(proc.stdin.fileno(), False)
            selector.register(proc.stdin, selectors.EVENT_WRITE)
            selector.register(proc.stdout, selectors.EVENT_READ)
            selector.register(proc.stderr, selectors.EVENT_READ)
            pending = memoryview(data)
            while selector.get_map() and problem is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    problem = f"the probe run did not finish within {seconds:.0f} s"
                    break
                for key, _ in selector.select(left):
                    if key.fileobj is proc.stdin:
                        try:
                            pending = pending[os.write(key.fd, pending[:2**16]):]
                        except BrokenPipeError:  # it ended without reading everything: its output says why
                            pending = pending[:0]
                        if not pending:
                            selector.unregister(proc.stdin)
                            proc.stdin.close()
                        continue
                    chunk = os.read(key.fd, 2**16)
                    if not chunk:
                        selector.unregister(key.fileobj)
                    elif key.fileobj is proc.stderr:
                        err = (err + chunk)[-2000:]
                    elif len(out) + len(chunk) > cap:
                        problem = f"the probe run wrote more than {cap} bytes"
                    else:
                        out += chunk
    finally:
        try:  # the whole group, before reaping (the group's id stays ours until then)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            pipe.close()
    if problem is None and not out:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        problem = f"the probe run ended without a result ({console_text(tail[0], limit=400)})"
    return (b"", problem) if problem is not None else (bytes(out), None)


def judge(spec: ProbeSpec, results: dict[str, dict], inputs: dict, problem: str | None) -> Verdict:
    """Compare the runner's results with the reference, in this (trusted) process."""
    verdict = Verdict(problem=problem)
    for probe in spec.probes:
        why = problem
        if why is None:
            why = _judge_one(probe, results.get(probe.name), *inputs[probe.name])
        if why is None:
            verdict.cells_passed.update(probe.cells)
        else:
            verdict.failures[probe.name] = why
            verdict.cells_failed.update(probe.cells)
            for cell in probe.cells:
                verdict.failed_by_cell.setdefault(cell, []).append(probe.name)
    verdict.cells_passed -= verdict.cells_failed
    return verdict


def _judge_one(probe: Probe, result: dict | None, args: tuple, kwargs: dict) -> str | None:
    if result is None:
        return "no result"
    if not result.get("ok"):
        return result.get("error", "failed")
    try:
        value = decode(result["value"])  # checked once when read: this check is defence in depth
    except Exception as exc:  # noqa: BLE001 - an unreadable result fails its probe, never the batch
        return f"the probe result could not be read: {exc}"
    try:
        if probe.select is not None:
            value = probe.select(value)
        if probe.check is not None:
            return probe.check(value, args, kwargs)
        expected = probe.expect(*args, **kwargs)
        _compare(value, expected, probe, probe.call)
    except AssertionError as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - a malformed result is a wrong result
        return f"{type(exc).__name__}: {exc}"
    return None


def _compare(value, expected, probe: Probe, where: str) -> None:
    if isinstance(expected, (tuple, list)):
        if not isinstance(value, (tuple, list)) or len(value) != len(expected):
            raise AssertionError(f"{where}: expected a sequence of {len(expected)} values, got {_kind(value)}")
        for i, (v, e) in enumerate(zip(value, expected)):
            _compare(v, e, probe, f"{where}[{i}]")
    elif isinstance(expected, dict):
        if not isinstance(value, dict) or set(value) != set(expected):
            raise AssertionError(f"{where}: expected a dict with keys {sorted(expected)}, got {_kind(value)}")
        for key in expected:
            _compare(value[key], expected[key], probe, f"{where}[{key!r}]")
    else:
        if isinstance(value, dict) and "__unsupported__" in value:
            raise AssertionError(f"{where}: returned an unsupported object ({value['__unsupported__']})")
        assert_close(value, expected, rtol=probe.rtol, atol=probe.atol, name=where)


def _kind(value) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return type(value).__name__


def verify(source_dir: Path, autograded_notebooks: list[Path], student: str, *, sandbox=None,
           timeout: float = 900, preexec: Callable[[], None] | None = None) -> Verdict | None:
    """Run the assignment's probes for one student; None when the assignment declares none.

    The first run executes only the code the probes can need (:mod:`dlcourse.grading.probe_slice`).
    When it passes every probe, that is the verdict; when anything fails, the whole notebook runs
    again and that run's verdict stands, so leaving the demonstrations out never costs points.
    """
    spec = load_probes(source_dir)
    if spec is None:
        return None
    deadline = time.monotonic() + timeout
    cells = probe_cells(autograded_notebooks)
    whole = [cell.source for cell in cells]
    sliced = needed_code(cells, probe_roots(spec, student))
    if sliced is not None and sliced != whole:
        verdict = judge(spec, *run_probes(spec, sliced, student, sandbox=sandbox, timeout=timeout, preexec=preexec))
        if not verdict.failures and verdict.problem is None:
            return verdict
    results, inputs, problem = run_probes(spec, whole, student, sandbox=sandbox,
                                          timeout=max(1.0, deadline - time.monotonic()), preexec=preexec)
    return judge(spec, results, inputs, problem)


def apply_verdict(db_url: str, assignment: str, student: str, verdict: Verdict) -> tuple[list[str], list[str]]:
    """Zero the cells whose probes failed (probes win); return (overridden cells, cells to review)."""
    from nbgrader.api import Gradebook

    overridden, review = [], []
    with Gradebook(db_url) as gb:
        sub = gb.find_submission(assignment, student)
        for nb in sub.notebooks:
            for grade in nb.grades:
                if grade.name in verdict.cells_failed and (grade.score or 0) > 0:
                    grade.manual_score = 0.0
                    overridden.append(grade.name)
                    _comment(gb, grade.name, nb.name, assignment, student, verdict)
                elif grade.name in verdict.cells_passed and grade.max_score > 0 and (grade.score or 0) == 0:
                    review.append(grade.name)
        gb.db.commit()
    return overridden, review


def _comment(gb, cell: str, notebook: str, assignment: str, student: str, verdict: Verdict) -> None:
    """Tell the student, in the feedback, why a cell whose tests passed earned nothing."""
    from nbgrader.api import MissingEntry

    try:
        comment = gb.find_comment(cell, notebook, assignment, student)
    except MissingEntry:
        return
    names = verdict.failed_by_cell.get(cell, [])[:2]
    reasons = " ".join(console_text(f"{name}: {verdict.failures[name]}", limit=400) for name in names)
    comment.manual_comment = ("These points were withdrawn: when your functions were run again outside the "
                              f"notebook, with new inputs, they did not give the expected results. {reasons}")
