"""A corpus of broken, mangled and hostile submissions, generated from any assignment.

Each case turns the assignment's release notebook (and its complete solution, built from
the source notebook) into what a student might hand in, and states the outcome the grader
must reach. The corpus is generic: it runs on the tiny fixture assignment and on every
assignment in ``solutions/``.

Cases come in two scopes. ``ASSIGNMENT`` cases depend on what the assignment contains (its
tests, hidden tests, probes and delegation guard) and run on every assignment. ``MACHINERY``
cases exercise the grader itself (dead, hung and hungry kernels, unreadable files, the
sandbox) the same way whatever the notebook holds; they run on one real assignment
(:data:`MACHINERY_ON`) and the tiny fixture, or everywhere with ``DLCOURSE_CORPUS_FULL=1``.
"""

from __future__ import annotations

import ast
import copy
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from nbformat.v4 import new_code_cell

from dlcourse.grading.samples import fill_solutions

FULL, ZERO, ERROR, GRADED = "full", "zero", "error", "graded"
ASSIGNMENT, MACHINERY = "assignment", "machinery"
MACHINERY_ON = "a1_backprop"  # the real assignment that also gets the machinery cases
# reference package -> its modules that hold functions or classes a student might delegate to
REFERENCE_MODULES = {
    "numpy_ref": ("functional", "losses", "layers", "gradcheck", "perceptron", "init", "optim", "lr_scheduler",
                  "models"),
    "torch_ref": ("device", "modules", "optim", "training", "transfer", "mini_vgg"),
}


@dataclass(frozen=True)
class Case:
    # (complete, release, dest, name) -> None; returns False when the case does not apply to the assignment
    build: Callable[[nbformat.NotebookNode, nbformat.NotebookNode, Path, str], bool | None]
    expect: str  # FULL, ZERO (graded with 0) or ERROR (a row with 0 and a reason)
    says: str | None = None  # a fragment the report line must contain
    needs_sandbox: bool = False  # only a sandboxed kernel can stop it
    scope: str = MACHINERY  # ASSIGNMENT: run on every assignment; MACHINERY: see the module docstring


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _solution_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _meta(c).get("solution")]


def _test_indices(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if _meta(c).get("grade") and not _meta(c).get("solution")]


def _write(nb, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def _fresh_copy(cell):
    dup = copy.deepcopy(cell)
    dup["id"] = uuid.uuid4().hex[:8]
    return dup


def _memory_hog(complete, release, dest, name):
    """A cell fills the address space and keeps it (a global list); the next solution cell needs room.

    Graded in the same kernel, the solution cell would raise MemoryError too and its tests fail:
    full marks show that grading went on in a fresh kernel without the hog.
    """
    nb = copy.deepcopy(complete)
    first = _solution_indices(nb)[0]
    nb.cells[first].source = "_room = bytearray(2**27)\ndel _room\n" + nb.cells[first].source
    nb.cells.insert(first, new_code_cell("hog = []\nwhile True:\n    hog.append(bytearray(2**26))"))
    _write(nb, dest, name)


def _with_cell_after_first_solution(code: str):
    def build(complete, release, dest, name):
        nb = copy.deepcopy(complete)
        nb.cells.insert(_solution_indices(nb)[0] + 1, new_code_cell(code))
        _write(nb, dest, name)
    return build


def correct(complete, release, dest, name):
    _write(complete, dest, name)


def untouched(complete, release, dest, name):
    _write(release, dest, name)


def partial(complete, release, dest, name):
    """The first half of the exercises solved, the rest as released."""
    source = copy.deepcopy(complete)
    nb = copy.deepcopy(release)
    solutions = _solution_indices(nb)
    if len(solutions) < 2:
        return False  # one exercise: half a solution is none
    for i in solutions[: len(solutions) // 2]:
        nb.cells[i] = source.cells[i]
    _write(nb, dest, name)


def duplicated_cells(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for i in reversed(_solution_indices(nb) + _test_indices(nb)):
        nb.cells.insert(i + 1, _fresh_copy(nb.cells[i]))
    _write(nb, dest, name)


def split_cells(complete, release, dest, name):
    """Split every solution cell in two, as Jupyter does: both halves keep the metadata."""
    nb = copy.deepcopy(complete)
    for i in reversed(_solution_indices(nb)):
        cell = nb.cells[i]
        lines = cell.source.split("\n")
        body = ast.parse(cell.source).body
        cut = body[1].lineno - 1 if len(body) > 1 else 0  # between top-level statements
        first, second = _fresh_copy(cell), cell
        first.source, second.source = "\n".join(lines[:cut]), "\n".join(lines[cut:])
        nb.cells.insert(i, first)
    _write(nb, dest, name)


def renamed_grade_ids(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for i in _solution_indices(nb) + _test_indices(nb):
        nb.cells[i].metadata.nbgrader["grade_id"] += "_mine"
    _write(nb, dest, name)


def stripped_metadata(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    _write(nb, dest, name)


def deleted_tests(complete, release, dest, name):
    nb = copy.deepcopy(complete)
    nb.cells = [c for i, c in enumerate(nb.cells) if i not in set(_test_indices(nb))]
    _write(nb, dest, name)


def tests_edited_to_pass(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].source = "pass"
    _write(nb, dest, name)


def tests_stripped_and_edited(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].source = "pass"
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    _write(nb, dest, name)


def inflated_points(complete, release, dest, name):
    nb = copy.deepcopy(release)
    for i in _test_indices(nb):
        nb.cells[i].metadata.nbgrader["points"] = 1000
        nb.cells[i].source = "pass"
    _write(nb, dest, name)


def renamed_notebook(complete, release, dest, name):
    _write(complete, dest, "my_work (1).ipynb")


def extra_notebook(complete, release, dest, name):
    _write(complete, dest, name)
    _write(release, dest, "scratch.ipynb")


def truncated_json(complete, release, dest, name):
    dest.mkdir(parents=True, exist_ok=True)
    text = nbformat.writes(complete)
    (dest / name).write_text(text[: len(text) // 2])


def numpy_beside(complete, release, dest, name):
    _write(complete, dest, name)
    (dest / "numpy.py").write_text('raise ImportError("a numpy.py shipped with the submission was imported")\n')


def warnings_in_tests(complete, release, dest, name):
    """Every function the student defines writes a warning to stderr (inside the test cells)."""
    nb = copy.deepcopy(complete)
    for i in _solution_indices(nb):
        names = [n.name for n in ast.parse(nb.cells[i].source).body if isinstance(n, ast.FunctionDef)]
        if names:
            nb.cells[i].source += (
                "\n\nimport functools as _ft, sys as _sys\n"
                "def _noisy(_f):\n"
                "    @_ft.wraps(_f)\n"
                "    def _wrapped(*args, **kwargs):\n"
                "        _sys.stderr.write('student.py:3: RuntimeWarning: overflow encountered in exp\\n')\n"
                "        return _f(*args, **kwargs)\n"
                "    return _wrapped\n"
                f"for _name in {names!r}:\n"
                "    globals()[_name] = _noisy(globals()[_name])\n"
            )
    _write(nb, dest, name)


# ---- in-kernel subversion: the tests themselves are attacked -------------------------------------

_SUBVERT_CHECKS = """
import contextlib as _cl, math as _math, numpy as _np
import dlcourse.grading as _g, dlcourse.grading.checks as _c
def _ok(*args, **kwargs):
    return None
for _mod in (_g, _c):
    for _n in ("assert_close", "assert_shape", "assert_true"):
        setattr(_mod, _n, _ok)
for _n in ("assert_close", "assert_shape", "assert_true"):
    globals()[_n] = _ok
globals()["forbid_reference"] = lambda *args, **kwargs: _cl.nullcontext()
globals()["call_without_reference"] = lambda fn, *args, what=None, **kwargs: fn(*args, **kwargs)
_np.testing.assert_allclose = _ok
_np.testing.assert_array_equal = _ok
_math.isclose = lambda *args, **kwargs: True
"""


def _defined_functions(nb, kinds=(ast.FunctionDef,)) -> list[str]:
    names = []
    for i in _solution_indices(nb):
        try:
            names += [n.name for n in ast.parse(nb.cells[i].source).body if isinstance(n, kinds)]
        except SyntaxError:
            pass
    return names


def _append_to_first_solution(nb, code: str) -> None:
    nb.cells[_solution_indices(nb)[0]].source += "\n\n" + code


def patched_checks(complete, release, dest, name):
    """Untouched answers that return zeros, with every comparison helper replaced by a no-op."""
    nb = copy.deepcopy(release)
    fakes = "".join(f"{fn} = lambda *args, **kwargs: 0.0\n" for fn in _defined_functions(nb))
    _append_to_first_solution(nb, _SUBVERT_CHECKS + fakes)
    for i in _solution_indices(nb)[1:]:
        nb.cells[i].source += "\n\n" + fakes
    _write(nb, dest, name)


def input_transformer(complete, release, dest, name):
    """Every later cell (the tests among them) is rewritten to `pass` before it runs."""
    nb = copy.deepcopy(release)
    _append_to_first_solution(nb, "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])")
    _write(nb, dest, name)


def always_equal(complete, release, dest, name):
    """Every function returns an object equal to anything, with a fake __array__."""
    nb = copy.deepcopy(release)
    code = (
        "import numpy as _np\n"
        "class _Anything(float):\n"
        "    def __eq__(self, other): return True\n"
        "    def __ne__(self, other): return False\n"
        "    def __array__(self, dtype=None, copy=None): return _np.zeros(1)\n"
        "    __hash__ = float.__hash__\n"
    ) + "".join(f"{fn} = lambda *args, **kwargs: _Anything(0.0)\n" for fn in _defined_functions(nb))
    for i in _solution_indices(nb):
        nb.cells[i].source += "\n\n" + code
    _write(nb, dest, name)


def frame_snooping(complete, release, dest, name):
    """Functions that return whatever the calling test has computed as its expected value."""
    nb = copy.deepcopy(release)
    code = (
        "import sys as _sys\n"
        "def _peek(*args, **kwargs):\n"
        "    frame = _sys._getframe(1)\n"
        "    while frame is not None:\n"
        "        for key in ('expected', 'want', 'ref', 'reference', 'y_ref', 'out_ref'):\n"
        "            if key in frame.f_locals:\n"
        "                return frame.f_locals[key]\n"
        "        frame = frame.f_back\n"
        "    return 0.0\n"
    ) + "".join(f"{fn} = _peek\n" for fn in _defined_functions(nb))
    for i in _solution_indices(nb):
        nb.cells[i].source += "\n\n" + code
    _write(nb, dest, name)


def env_branching(complete, release, dest, name):
    """Subverts the checks only when it detects that it is being graded."""
    nb = copy.deepcopy(release)
    fakes = "".join(f"    {fn} = lambda *args, **kwargs: 0.0\n" for fn in _defined_functions(nb))
    body = "\n".join("    " + line for line in _SUBVERT_CHECKS.strip().splitlines())
    _append_to_first_solution(nb, "import os as _os\n"
                              "if _os.environ.get('NBGRADER_EXECUTION') or _os.environ.get('DLCOURSE_STUDENT_ID') "
                              "or 'autograded' in _os.getcwd():\n" + body + "\n" + fakes)
    _write(nb, dest, name)


def hides_failures(complete, release, dest, name):
    """Untouched answers, with IPython told to print a "warning" on stderr instead of each exception's traceback.

    The failing test cells then show no error output, only stderr text that the grader ignores
    (IgnorePattern "Warning"); the kernel's reply still says "error", which must cost the points.
    """
    nb = copy.deepcopy(release)
    _append_to_first_solution(nb, (
        "import sys as _sys\n"
        "def _quiet(shell, etype, value, tb, tb_offset=None):\n"
        "    print('UserWarning: this cell is fine', file=_sys.stderr)\n"
        "get_ipython().set_custom_exc((BaseException,), _quiet)\n"
    ))
    _write(nb, dest, name)


def reads_solutions(complete, release, dest, name):
    """Finds the instructor's source notebook at grading time and runs its solutions."""
    nb = copy.deepcopy(release)
    _append_to_first_solution(nb, (
        "import glob as _glob, json as _json\n"
        "for _path in _glob.glob('../../../solutions/*/*.ipynb'):\n"
        "    for _cell in _json.load(open(_path))['cells']:\n"
        "        _src = ''.join(_cell['source'])\n"
        "        if _cell['cell_type'] == 'code' and 'BEGIN SOLUTION' in _src:\n"
        "            exec('\\n'.join(l for l in _src.splitlines() if 'SOLUTION' not in l), globals())\n"
    ))
    _write(nb, dest, name)


def writes_gradebook(complete, release, dest, name):
    """Gives itself points by writing into nbgrader's database."""
    nb = copy.deepcopy(release)
    _append_to_first_solution(nb, (
        "import sqlite3 as _sq\n"
        "try:\n"
        "    _db = _sq.connect('../../../gradebook.db')\n"
        "    _db.execute('UPDATE grade SET manual_score = 1000')\n"
        "    _db.commit()\n"
        "except Exception:\n"
        "    pass\n"
    ))
    _write(nb, dest, name)


# ---- delegation to the reference implementation --------------------------------------------------

def _reference_package(nb) -> str:
    """The reference package that has more of the notebook's function and class names (numpy_ref on a tie)."""
    import importlib

    names = _defined_functions(nb, (ast.FunctionDef, ast.ClassDef))

    def hits(package):
        modules = [importlib.import_module(f"dlcourse.{package}.{m}") for m in REFERENCE_MODULES[package]]
        return sum(any(callable(getattr(m, n, None)) for m in modules) for n in names)

    return max(("numpy_ref", "torch_ref"), key=hits)


def _reference_names(nb) -> dict[str, str]:
    """Student function or class name -> module of the reference package that defines one of that name."""
    import importlib

    package = _reference_package(nb)
    found = {}
    for fn in _defined_functions(nb, (ast.FunctionDef, ast.ClassDef)):
        for module in REFERENCE_MODULES[package]:
            mod = importlib.import_module(f"dlcourse.{package}.{module}")
            if callable(obj := getattr(mod, fn, None)):
                # the module that defines it (a re-export's home may be a submodule, e.g. optim.adam)
                home = getattr(obj, "__module__", "") or ""
                prefix = f"dlcourse.{package}."
                found[fn] = home[len(prefix):] if home.startswith(prefix) else module
                break
    return found


_LOAD_BY_PATH = """
import importlib.util as _iu, os as _os, sys as _sys, dlcourse as _d
_dir = _os.path.join(_os.path.dirname(_d.__file__), "{package}")
_spec = _iu.spec_from_file_location("_theirs", _os.path.join(_dir, "__init__.py"), submodule_search_locations=[_dir])
_pkg = _iu.module_from_spec(_spec); _sys.modules["_theirs"] = _pkg; _spec.loader.exec_module(_pkg)
import importlib as _il
"""

# The reference's source run under names that are not its files' (no file name to match a guard
# against): an import hook that execs each module's source, compiled under a made-up name.
_LOAD_BY_SOURCE = """
import importlib as _il, importlib.abc as _iabc, importlib.util as _iu, os as _os, sys as _sys, dlcourse as _d
_root = _os.path.join(_os.path.dirname(_d.__file__), "{package}")
class _Copier(_iabc.MetaPathFinder, _iabc.Loader):
    def _where(self, name):
        base = _os.path.join(_root, *name.split(".")[1:])
        if _os.path.isdir(base):
            return _os.path.join(base, "__init__.py"), True
        return base + ".py", False
    def find_spec(self, name, path=None, target=None):
        if name != "_copied" and not name.startswith("_copied."):
            return None
        file, package = self._where(name)
        return _iu.spec_from_loader(name, self, is_package=package) if _os.path.isfile(file) else None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        file, _ = self._where(module.__name__)
        with open(file) as fh:
            exec(compile(fh.read(), module.__name__.replace(".", "_"), "exec"), module.__dict__)
_sys.meta_path.insert(0, _Copier())
"""


def _delegating(how: str):
    def build(complete, release, dest, name):
        nb = copy.deepcopy(release)
        mapping = _reference_names(nb)
        if not mapping:
            return False
        package = _reference_package(nb)
        lines = [_SUBVERT_CHECKS]  # the in-kernel guard is switched off, so only the probes can catch it
        if how == "import":
            lines += [f"from dlcourse.{package}.{mod} import {fn}" for fn, mod in mapping.items()]
        elif how == "path":
            lines += [_LOAD_BY_PATH.replace("{package}", package)] + \
                [f"{fn} = _il.import_module('_theirs.{mod}').{fn}" for fn, mod in mapping.items()]
        else:
            lines += [_LOAD_BY_SOURCE.replace("{package}", package)] + \
                [f"{fn} = _il.import_module('_copied.{mod}').{fn}" for fn, mod in mapping.items()]
        for i in _solution_indices(nb):
            nb.cells[i].source += "\n\n" + "\n".join(lines)
        _write(nb, dest, name)
        return True
    return build


CASES: dict[str, Case] = {
    "correct": Case(correct, FULL, "test cells passed", scope=ASSIGNMENT),
    "untouched": Case(untouched, ZERO, "graded: 0 of", scope=ASSIGNMENT),
    "partial": Case(partial, GRADED, scope=ASSIGNMENT),
    "duplicated_cells": Case(duplicated_cells, FULL, "duplicated or split cell(s)"),
    "split_cells": Case(split_cells, FULL, "duplicated or split cell(s)"),
    "renamed_grade_ids": Case(renamed_grade_ids, FULL, "a grade id the assignment does not have"),
    "stripped_metadata": Case(stripped_metadata, FULL, "lost their nbgrader metadata", scope=ASSIGNMENT),
    "deleted_tests": Case(deleted_tests, FULL, "missing test cell(s) restored", scope=ASSIGNMENT),
    "tests_edited_to_pass": Case(tests_edited_to_pass, ZERO, scope=ASSIGNMENT),
    "tests_stripped_and_edited": Case(tests_stripped_and_edited, ZERO),
    "inflated_points": Case(inflated_points, ZERO),
    "renamed_notebook": Case(renamed_notebook, FULL, "graded my_work (1).ipynb as"),
    "extra_notebook": Case(extra_notebook, FULL, "ignored extra notebook scratch.ipynb"),
    "truncated_json": Case(truncated_json, ERROR, "is not valid JSON"),
    "numpy_beside": Case(numpy_beside, FULL, "ignored 1 file(s) beside the notebook: numpy.py"),
    "warnings_in_tests": Case(warnings_in_tests, FULL),
    # (the loops sleep rather than spin, so that the corpus does not burn the test machine's cores)
    "infinite_loop": Case(_with_cell_after_first_solution("import time\nwhile True:\n    time.sleep(0.5)"), FULL,
                          "timed out"),
    "ignores_interrupt": Case(_with_cell_after_first_solution(
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.5)"), FULL,
        "the kernel hung in"),
    "os_exit": Case(_with_cell_after_first_solution("import os\nos._exit(3)"), FULL, "the kernel died in"),
    "segfault": Case(_with_cell_after_first_solution("import ctypes\nctypes.string_at(0)"), FULL, "the kernel died in"),
    "memory_hog": Case(_memory_hog, FULL, "ran out of memory in"),
    "huge_output": Case(_with_cell_after_first_solution(
        "line = 'x' * 99\nfor _ in range(300_000):\n    print(line)"), FULL),
    # in-kernel subversion (issue: tamper-proof grading): the probes must win
    "patched_checks": Case(patched_checks, ZERO, scope=ASSIGNMENT),
    "input_transformer": Case(input_transformer, ZERO, "probes overrode"),
    "always_equal": Case(always_equal, ZERO, scope=ASSIGNMENT),
    "frame_snooping": Case(frame_snooping, ZERO),
    "env_branching": Case(env_branching, ZERO),
    "hides_failures": Case(hides_failures, ZERO),
    "reads_solutions": Case(reads_solutions, ZERO, needs_sandbox=True),
    "writes_gradebook": Case(writes_gradebook, ZERO, needs_sandbox=True),
    "delegates_by_import": Case(_delegating("import"), ZERO, "probes overrode", scope=ASSIGNMENT),
    "delegates_by_path": Case(_delegating("path"), ZERO, "probes overrode"),
    "delegates_by_source": Case(_delegating("source"), ZERO, "probes overrode", scope=ASSIGNMENT),
}


def write_case(name: str, source_dir: Path, release_dir: Path, dest: Path) -> bool:
    """Write the submission of case ``name`` for a one-notebook assignment into ``dest``.

    Returns False (and writes nothing) when the case does not apply to this assignment.
    """
    (release_path,) = sorted(release_dir.glob("*.ipynb"))
    release = nbformat.read(release_path, as_version=4)
    source = nbformat.read(source_dir / release_path.name, as_version=4)
    complete = fill_solutions(release, source, 1.0)
    return CASES[name].build(complete, release, dest, release_path.name) is not False
