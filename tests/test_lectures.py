"""The lectures as students read them: one notebook per lecture of the course map, committed
with outputs (readable without running), no errors, a "Try it" section and a summary, and small
enough to open quickly. nbval executes them separately in `make test`."""

import re

import nbformat
import pytest

from course_fixtures import REPO

LECTURES = sorted((REPO / "lectures").glob("L[0-9][0-9]_*.ipynb"))
MAX_BYTES = 2 * 2**20


COURSE_LECTURES = 11  # L01-L11, the course map in README.md and DESIGN.md


def test_every_lecture_of_the_course_map_is_there_once():
    numbers = [int(p.name[1:3]) for p in LECTURES]
    assert numbers == list(range(1, COURSE_LECTURES + 1)), (
        f"expected one notebook for each of L01-L{COURSE_LECTURES:02d}, found {[p.name for p in LECTURES]}")


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_is_committed_with_outputs_and_no_errors(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    unexecuted = [i for i, c in enumerate(nb.cells) if c in code and not c.get("execution_count")]
    assert not unexecuted, f"{path.name}: code cells without outputs (execute it and commit): {unexecuted[:5]}"
    counts = [c.execution_count for c in code]
    assert counts == sorted(counts), f"{path.name}: cells were executed out of order: {counts}"
    errors = [(i, o.get("ename")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs in cells {errors}"
    assert any(o.output_type == "display_data" and "image/png" in o.get("data", {})
               for c in code for o in c.outputs), f"{path.name}: no figure"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_ends_with_try_it_and_a_summary(path):
    nb = nbformat.read(path, as_version=4)
    headings = [line.lstrip("#").strip().lower() for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.splitlines() if re.match(r"^#{1,3} ", line)]
    assert any(h.startswith("try it") for h in headings), f"{path.name}: no 'Try it' section"
    assert any(h.startswith("summary") for h in headings), f"{path.name}: no 'Summary' section"


@pytest.mark.parametrize("path", LECTURES, ids=lambda p: p.stem[:3])
def test_lecture_is_small_enough_to_open_quickly(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size / 2**20:.1f} MB (limit 2 MB)"
