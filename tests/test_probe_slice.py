"""The probe run's fast path: only the code the probes can need, and the whole notebook whenever that fails."""

from __future__ import annotations

import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from dlcourse.grading.probe_slice import ProbeCell, needed_code
from dlcourse.grading.probes import verify

SOLUTION = ProbeCell("def scale(x):\n    return FACTOR * np.asarray(x)\n", solution=True)


def _given(source: str) -> ProbeCell:
    return ProbeCell(textwrap.dedent(source).strip() + "\n", solution=False)


def test_demonstrations_go_and_what_the_students_code_reads_stays():
    cells = [
        _given("import numpy as np\nimport matplotlib.pyplot as plt\nimport torch"),
        _given("BASE = 2.0\nFACTOR = BASE * 1.5\nUNUSED = np.ones(3)"),
        SOLUTION,
        _given("""
            result = scale([1, 2, 3])
            fig, ax = plt.subplots()
            ax.plot(result)
            plt.show()
            for i in range(10):
                print(scale(i))
        """),
    ]
    kept = "\n".join(needed_code(cells, {"scale"}))
    for line in ("import numpy as np", "BASE = 2.0", "FACTOR = BASE * 1.5", "def scale(x):"):
        assert line in kept, f"{line!r} is needed by scale and should be kept:\n{kept}"
    for line in ("import torch", "matplotlib", "UNUSED", "result = scale", "plt.show()", "for i in range"):
        assert line not in kept, f"{line!r} is a demonstration the probes do not need:\n{kept}"


def test_a_functions_own_locals_do_not_pull_in_globals_of_the_same_name():
    cells = [_given("import numpy as np\nx = np.linspace(0, 1, 5)\ny = expensive()"),
             ProbeCell("def f(x):\n    y = x + 1\n    return y\n", solution=True)]
    kept = "\n".join(needed_code(cells, {"f"}))
    assert "linspace" not in kept and "expensive" not in kept, kept


def test_changes_to_kept_objects_and_star_imports_stay():
    cells = [_given("import numpy as np\nfrom math import *\nCONFIG = {}\nCONFIG['scale'] = 3\n"
                    "np.random.seed(0)\nprint(CONFIG)"),
             ProbeCell("def g(v):\n    return CONFIG['scale'] * v + np.random.rand() * 0 + pi * 0\n", solution=True)]
    kept = "\n".join(needed_code(cells, {"g"}))
    for line in ("from math import *", "CONFIG = {}", "CONFIG['scale'] = 3", "np.random.seed(0)"):
        assert line in kept, f"{line!r} changes what g reads:\n{kept}"
    assert "print(CONFIG)" not in kept


def test_solution_cells_stay_whole_and_a_cell_that_does_not_parse_means_the_whole_notebook():
    cells = [_given("heavy = train()"), ProbeCell("def h():\n    return 1\nheavy_demo = train()\n", solution=True)]
    assert needed_code(cells, {"h"}) == [cells[1].source]
    assert needed_code([*cells, _given("def broken(:")], {"h"}) is None


def _notebook(tmp_path, cells):
    nb = new_notebook(cells=[new_code_cell(source, metadata={"nbgrader": {"solution": solution, "grade": False,
                                                                           "grade_id": f"c{i}", "locked": False,
                                                                           "schema_version": 3}})
                             for i, (source, solution) in enumerate(cells)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def _probes(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "probes.py").write_text(textwrap.dedent('''
        import numpy as np
        from dlcourse.grading.probes import Probe
        PROBES = [Probe("triple", cells=("test_triple",), call="triple",
                        args=lambda rng: (rng.normal(size=4),), expect=lambda x: 3 * x)]
    '''))
    return source


def test_when_the_fast_run_fails_the_whole_notebook_decides(tmp_path):
    """K is set by an expression statement the slice does not keep: the fast run fails, the full run passes."""
    path = _notebook(tmp_path, [("globals().update(K=3)", False), ("def triple(x):\n    return K * x", True)])
    verdict = verify(_probes(tmp_path), [path], "alice", timeout=60)
    assert verdict.failures == {} and verdict.cells_passed == {"test_triple"}, verdict


def test_a_wrong_function_still_fails_after_the_whole_notebook_ran(tmp_path):
    path = _notebook(tmp_path, [("K = 2", False), ("def triple(x):\n    return K * x", True)])
    verdict = verify(_probes(tmp_path), [path], "alice", timeout=60)
    assert set(verdict.failures) == {"triple"} and verdict.cells_failed == {"test_triple"}, verdict
