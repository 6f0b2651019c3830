"""The grading trust boundary, attacked through the real `dlcourse grade` (bubblewrap, as in CI).

One batch of hostile submissions to the tiny fixture assignment, each built as an attacker
would and each with the outcome the grader must reach. The attacks come in classes:

- what student code can reach: the kernel's launch description and restarts, the instructor's
  files outside the course folder, root-only files, the process/thread/disk bounds;
- what the trusted side reads back: links and special files in the work folder and in
  ``submitted/``, hostile folder names used as student ids;
- what comes out: hidden tests echoed by the kernel, HTML/JavaScript in everything a TA or
  student opens, control characters and formulas in the console and the CSV reports, a forged
  probe channel, files that break the reader, time outside IPython.

A case whose hostile code *succeeds* would earn points: its ``add`` returns the right sum only
when the attack worked. So "the attack failed" reads as "score 0", and the correct neighbour
keeps full marks.
"""

from __future__ import annotations

import csv
import html
import os
import re
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_raw_cell

from course_fixtures import REPO, SANDBOXED, TINY, TINY_HIDDEN_LINE, make_course
from dlcourse.grading.pipeline import generate_release, grade
from dlcourse.grading.report import format_table
from dlcourse.grading.samples import write_submission

pytestmark = [pytest.mark.pipeline,
              pytest.mark.skipif(not SANDBOXED, reason="needs the bubblewrap sandbox (make test installs it as root)")]

ANSI_COLOUR = re.compile(r"^style attribute on <span .*'style', '(color|background-color): rgb\(\d+,\d+,\d+\)'\)")
WRONG = "def add(a, b):\n    return a - b"


def _add_if(condition: str, setup: str = "") -> str:
    """An ``add`` that is right only when ``condition`` (the attack's success) holds."""
    return setup + f"\n\ndef add(a, b):\n    return a + b if ({condition}) else a - b\n"


def _submission(release: Path, dest: Path, add_source: str, extra: list | None = None) -> None:
    nb = nbformat.read(release, as_version=4)
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "add":
            cell.source = add_source
    at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "add") + 1
    for cell in reversed(extra or []):
        nb.cells.insert(at, cell)
    dest.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dest / f"{TINY}.ipynb")


def _secret_paths(course: Path) -> dict[str, str]:
    return {
        "shadow": "/etc/shadow",
        "instructor_repo": str(REPO / "solutions" / "a1_backprop" / "a1_backprop.ipynb"),
        "course_solutions": str(course / "solutions" / TINY / f"{TINY}.ipynb"),
        "gradebook": str(course / "gradebook.db"),
    }


def _cases(course: Path) -> dict[str, tuple[str, list]]:
    """student id -> (source of the add cell, extra cells after it)."""
    marker = course / "PWNED"
    rewrite_kernel = textwrap.dedent(f"""
        import json, os
        evil = {{"argv": ["/bin/sh", "-c", "touch {marker}; exec python3 -m ipykernel_launcher -f {{connection_file}}"],
                 "display_name": "x", "language": "python"}}
        for base in ["/tmp", os.getcwd(), os.path.expanduser("~")] + os.environ.get("JUPYTER_PATH", "").split(":"):
            for sub in ("kernels/python3", "kernels/dlcourse-sandbox", ""):
                try:
                    os.makedirs(os.path.join(base, sub), exist_ok=True)
                    with open(os.path.join(base, sub, "kernel.json"), "w") as fh:
                        json.dump(evil, fh)
                except OSError:
                    pass
        for root, dirs, files in os.walk("/", topdown=True):
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "usr", "dev")]
            for name in files:
                if name.endswith(".json"):
                    try:
                        with open(os.path.join(root, name), "w") as fh:
                            json.dump(evil, fh)
                    except OSError:
                        pass
        os._exit(1)
    """)
    plant_links = textwrap.dedent(f"""
        import json, os
        for name, target in [("{TINY}.ipynb", "{course / 'solutions' / TINY / (TINY + '.ipynb')}"),
                             ("timestamp.txt", "/etc/hostname"), ("gradebook.html", "{course / 'gradebook.db'}"),
                             ("probes.py", "{course / 'solutions' / TINY / 'probes.py'}")]:
            try:
                os.symlink(target, name)
            except OSError:
                pass
        nb = {{"cells": [{{"cell_type": "code", "metadata": {{}}, "outputs": [], "execution_count": None,
                          "source": "def add(a, b):\\n    return a + b"}}],
               "metadata": {{}}, "nbformat": 4, "nbformat_minor": 5}}
        json.dump(nb, open(".zz.ipynb", "w"))
        os.mkfifo("fifo.txt")
    """)
    secrets = {f"reads_{name}": (_add_if(f"_readable({path!r})", "import os\n"
                                         "def _readable(p):\n    try:\n        open(p, 'rb').read(1)\n        return True\n"
                                         "    except OSError:\n        return False"), [])
               for name, path in _secret_paths(course).items()}
    bounds = textwrap.dedent("""
        import ctypes, os, threading, time
        def _threads():
            stop, started = threading.Event(), 0
            try:
                for _ in range(2000):
                    threading.Thread(target=stop.wait, daemon=True).start()
                    started += 1
            except RuntimeError:
                pass
            stop.set()
            return started
        def _written(folder):
            total, block = 0, b"x" * 2**20
            try:
                with open(os.path.join(folder, "fill"), "wb") as fh:
                    for _ in range(1200):
                        fh.write(block)
                        total += len(block)
            except OSError:
                pass
            try:
                os.remove(os.path.join(folder, "fill"))
            except OSError:
                pass
            return total
        def _new_namespaces():  # a user namespace of its own could mount an unbounded tmpfs
            return ctypes.CDLL(None, use_errno=True).unshare(0x10000000 | 0x00020000) == 0
        ESCAPED = (_threads() > 1000 or _new_namespaces()
                   or any(_written(d) > 2**30 for d in ("/tmp", "/dev/shm", os.getcwd(), "/var/tmp", "/")))
    """)
    echo = textwrap.dedent("""
        _seen = []
        def _spy(info):
            _seen.append(info.raw_cell)
            print(info.raw_cell)
        try:
            get_ipython().events.register("pre_run_cell", _spy)
        except NameError:  # outside IPython (the probe runner)
            pass
    """)
    xss = [
        new_markdown_cell("<script>fetch('/api/contents/x', {method: 'PUT'})</script><img src=x onerror=alert(1)>"
                          "[click](javascript:alert(2))"),
        new_raw_cell("<script>alert(3)</script>", metadata={"raw_mimetype": "text/html"}),
        new_code_cell("from IPython.display import HTML, Javascript, SVG, display\n"
                      "display(HTML('<script>alert(4)</script>'))\ndisplay(Javascript('alert(5)'))\n"
                      "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(6)\"></svg>'))",
                      outputs=[nbformat.v4.new_output("display_data", data={"text/html": "<script>alert(7)</script>"})]),
    ]
    escape = "\x1b[2J\x1b[H\r=HYPERLINK(\"http://x\")\nFAKE bob 100/100"
    return {
        "correct": ("def add(a, b):\n    return a + b", []),
        "kernelspec_rewrite": (_add_if(f"os.path.exists({str(course / 'gradebook.db')!r})", "import os"),
                               [new_code_cell(rewrite_kernel)]),
        "links_in_workdir": (WRONG, [new_code_cell(plant_links)]),
        **secrets,
        "runs_as_root": (_add_if("os.getuid() == 0 or os.geteuid() == 0", "import os"), []),
        "escapes_bounds": (_add_if("ESCAPED", bounds), []),
        "echoes_hidden_tests": (echo + "\ndef add(a, b):\n    return a + b",
                                [new_code_cell("print('\\n'.join(_seen))")]),
        "scripts_everywhere": ("def add(a, b):\n    raise ValueError(" + repr(escape) + ")", xss),
        "forged_probe_channel": ("import atexit\natexit.register(lambda: print('\\n<<<dlcourse-probe-results>>>\\n{'))\n"
                                 "def add(a, b):\n    return a + b", []),
    }


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("boundary"))
    release_dir = generate_release(course, TINY, tmp_path_factory.mktemp("release"))
    release = release_dir / f"{TINY}.ipynb"
    submitted = course / "submitted"
    for student, (source, extra) in _cases(course).items():
        _submission(release, submitted / student / TINY, source, extra)
    # hostile files in submitted/
    complete = write_submission("complete", course / "solutions" / TINY, release_dir, tmp_path_factory.mktemp("c") / "x")
    (submitted / "notebook_symlink" / TINY).mkdir(parents=True)
    os.symlink(course / "solutions" / TINY / f"{TINY}.ipynb", submitted / "notebook_symlink" / TINY / f"{TINY}.ipynb")
    (submitted / "notebook_hardlink" / TINY).mkdir(parents=True)
    os.link(complete / f"{TINY}.ipynb", submitted / "notebook_hardlink" / TINY / f"{TINY}.ipynb")
    (submitted / "notebook_fifo" / TINY).mkdir(parents=True)
    os.mkfifo(submitted / "notebook_fifo" / TINY / f"{TINY}.ipynb")
    (submitted / "deep_json" / TINY).mkdir(parents=True)
    (submitted / "deep_json" / TINY / f"{TINY}.ipynb").write_text("[" * 100_000 + "]" * 100_000)
    os.symlink(submitted / "correct", submitted / "folder_symlink")
    # hostile folder names: a glob that matches "good1" and "bad_1", an option, control characters, a formula
    write_submission("complete", course / "solutions" / TINY, release_dir, submitted / "good1" / TINY)
    bad_ids = ["?????", "*", "-rf", ".hidden", "a\x1b[2Jb", "a\nb", "=1+1", "x" * 65]
    for name in bad_ids:
        write_submission("untouched", course / "solutions" / TINY, release_dir, submitted / name / TINY)
    report = grade(TINY, course, jobs=2, cell_timeout=20, timeout=300)
    return course, report, {r.student: r for r in report.results}, bad_ids


def _where(res) -> str:
    return f"{res.student!r}: {res.status} {res.score} — {res.message}"


def test_the_correct_neighbour_keeps_full_marks(batch):
    _, _, results, _ = batch
    for student in ("correct", "good1"):
        assert (results[student].status, results[student].score) == ("graded", 5), _where(results[student])


@pytest.mark.parametrize("student", ["kernelspec_rewrite", "links_in_workdir", "reads_shadow", "reads_instructor_repo",
                                     "reads_course_solutions", "reads_gradebook", "runs_as_root", "escapes_bounds"])
def test_an_attack_that_would_earn_points_earns_none(batch, student):
    _, _, results, _ = batch
    res = results[student]
    assert res.status == "graded" and res.score == 0, f"expected 0 points (the attack must fail): {_where(res)}"


def test_a_killed_kernel_restarts_sandboxed_and_nothing_outside_changed(batch):
    course, _, results, _ = batch
    assert not (course / "PWNED").exists(), "a restarted kernel ran outside the sandbox"
    assert "the kernel died in" in results["kernelspec_rewrite"].message, _where(results["kernelspec_rewrite"])
    solution = nbformat.read(course / "solutions" / TINY / f"{TINY}.ipynb", as_version=4)
    assert any(TINY_HIDDEN_LINE in c.source for c in solution.cells), "the instructor's notebook changed"


def test_the_work_folder_is_never_read_back(batch):
    course, _, _, _ = batch
    autograded = sorted(p.name for p in (course / "autograded" / "links_in_workdir" / TINY).iterdir())
    feedback = sorted(p.name for p in (course / "feedback" / "links_in_workdir" / TINY).iterdir())
    assert autograded == [f"{TINY}.ipynb"], f"expected only the graded notebook, found {autograded}"
    assert feedback == [f"{TINY}.html"], f"expected only the feedback page, found {feedback}"
    assert not (course / "autograded" / "links_in_workdir" / TINY / f"{TINY}.ipynb").is_symlink()


@pytest.mark.parametrize("student, says", [("notebook_symlink", "symbolic link"), ("notebook_hardlink", "hard link"),
                                           ("notebook_fifo", "not a regular file"), ("deep_json", "too deeply"),
                                           ("folder_symlink", "is a link")])
def test_hostile_files_in_submitted_are_refused_with_the_reason(batch, student, says):
    _, _, results, _ = batch
    res = results[student]
    assert res.status == "error" and res.score == 0 and says in res.message, f"expected an error saying {says!r}: " \
                                                                              f"{_where(res)}"


def test_hostile_folder_names_are_refused_and_never_expanded(batch):
    course, report, results, bad_ids = batch
    for name in bad_ids:
        assert name in results, f"no report row for the folder {name!r}"
        res = results[name]
        assert (res.status, res.score) == ("error", 0) and "not a valid student id" in res.message, _where(res)
    logs = sorted(p.name for p in (course / ".dlcourse" / "logs" / TINY).glob("*.autograde.log"))
    assert not any(any(ch in name for ch in "?*\x1b\n=") for name in logs), f"a hostile id reached nbgrader: {logs}"
    assert "good1.autograde.log" in logs and (course / "autograded" / "good1" / TINY / f"{TINY}.ipynb").exists()


def test_reports_and_console_carry_no_formula_and_no_control_character(batch):
    course, report, _, _ = batch
    for name in ("grades.csv", "grading_report.csv"):
        with open(course / name, newline="") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", cell), f"{name}: control character in {cell!r}"
                    assert not cell.startswith(("=", "+", "-", "@")), f"{name}: a formula cell {cell!r}"
    table = format_table(report)
    assert "\x1b" not in table and "\r" not in table
    assert len(table.splitlines()) == len(report.results) + 3, "a student's text added lines to the table"


def test_no_script_reaches_what_a_ta_or_student_opens(batch):
    from nbconvert import HTMLExporter
    from test_safe_output import Page, active_content

    course, _, results, _ = batch
    assert results["scripts_everywhere"].score == 0

    def feedback(student):
        return Page((course / "feedback" / student / TINY / f"{TINY}.html").read_text())

    def formgrader_view(student):  # formgrader renders the autograded notebook with nbconvert's HTML exporter
        nb = nbformat.read(course / "autograded" / student / TINY / f"{TINY}.ipynb", as_version=4)
        return Page(HTMLExporter(template_name="lab").from_notebook_node(nb)[0])

    for view in (feedback, formgrader_view):
        found = [f for f in active_content(view("scripts_everywhere"), clean=view("correct"))
                 if not ANSI_COLOUR.search(f)]  # nbconvert's own rendering of terminal colours in tracebacks
        assert not found, f"{view.__name__}: student content that could run or load something: {found[:5]}"


def test_feedback_never_shows_hidden_tests_whatever_the_kernel_prints(batch):
    course, _, results, _ = batch
    assert results["echoes_hidden_tests"].score == 5, _where(results["echoes_hidden_tests"])
    text = html.unescape((course / "feedback" / "echoes_hidden_tests" / TINY / f"{TINY}.html").read_text())
    assert "secret_a" not in text and "BEGIN HIDDEN TESTS" not in text, "hidden test code in the feedback"


def test_a_forged_probe_channel_changes_nothing(batch):
    _, _, results, _ = batch
    res = results["forged_probe_channel"]
    assert (res.status, res.score) == ("graded", 5), _where(res)


def test_a_hang_outside_ipython_is_bounded_by_the_timeout(tmp_path):
    course = make_course(tmp_path / "course")
    release = generate_release(course, TINY, tmp_path / "release") / f"{TINY}.ipynb"
    # in the solution cell: the probe run always executes the student's own cells in full
    hang = "import sys, time\nif 'ipykernel' not in sys.modules:\n    while True:\n        time.sleep(1)"
    _submission(release, course / "submitted" / "hangs" / TINY, f"def add(a, b):\n    return a + b\n\n{hang}")
    limit = 40
    (res,) = grade(TINY, course, jobs=1, timeout=limit).results
    assert res.score == 0, f"the probes could not run, so the cells' points go: {_where(res)}"
    assert res.seconds <= limit + 25, f"one student took {res.seconds:.0f} s with --timeout {limit}"
