"""The student edition: built from this repository, it holds no answers and what students need.

Each xdist worker builds the edition once into a temporary folder (about 15 s; ``edition_fixtures``).
The tests check what it must hold (lectures with outputs, releases, README, make lab, Binder and
JupyterLab settings, a package that builds and imports alone), what it must not (instructor folders,
nbgrader markers, hidden-test code, functions or classes named after an exercise of an open
assignment), that the audit behind those checks catches each kind of leak, and that what is withheld
is derived from the solution cells and released on the instructor's word. That every notebook runs in
the edition is ``test_student_edition_notebooks.py``.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

from course_fixtures import REPO
from edition_fixtures import edition, edition_env  # noqa: F401 - the fixture
from dlcourse.cli import main as cli_main
from dlcourse.course import list_assignments
from dlcourse.edition import EditionError, audit_edition, build_edition
from dlcourse.edition.audit import instructor_passages
from dlcourse.edition.build import MARKER, STUDENT_GRADING
from dlcourse.edition.exercises import assignment_exercises

ASSIGNMENTS = list_assignments(REPO)
LECTURES = sorted(p.name for p in (REPO / "lectures").glob("L[0-9][0-9]_*.ipynb"))
EXERCISES = {a: assignment_exercises(REPO, a) for a in ASSIGNMENTS}


def _package_definitions(package: Path) -> dict[str, list[str]]:
    """name -> ["file:line", ...] for every function and class the package defines, at any depth."""
    found: dict[str, list[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.setdefault(node.name, []).append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


# -- what the edition holds -----------------------------------------------------------------------------
def test_edition_holds_what_students_need(edition):
    lectures = sorted(p.name for p in (edition / "lectures").glob("*.ipynb"))
    assert lectures == LECTURES, f"expected the lectures {LECTURES}, found {lectures}"
    for name in LECTURES:
        nb = nbformat.read(edition / "lectures" / name, as_version=4)
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{name} lost its outputs"
    for assignment in ASSIGNMENTS:
        release = edition / "assignments" / assignment / f"{assignment}.ipynb"
        assert release.is_file(), f"the release of {assignment} is missing: expected {release}"
        assert release.read_bytes() == (REPO / "assignments" / assignment / release.name).read_bytes(), (
            f"{release.name} differs from the committed release")
    for relative in ("README.md", "Makefile", "environment.yml", "pyproject.toml", ".gitignore",
                     "binder/requirements.txt", "binder/postBuild", "binder/start", "binder/runtime.txt",
                     ".jupyter/jupyter_server_config.json", ".jupyter/labconfig/page_config.json",
                     ".jupyter/nbgrader_config.py", "dlcourse/__init__.py", "dlcourse/torch_ref/weights/mini_vgg.pt",
                     "dlcourse/site/build.py", "dlcourse/site/static_widgets.py", "dlcourse/site/browser.py",
                     MARKER):
        assert (edition / relative).is_file(), f"the edition lacks {relative}"
    assert re.search(r"^site: ", (edition / "Makefile").read_text(), re.M), "the edition's Makefile has no site target"
    assert "/site/" in (edition / ".gitignore").read_text().split(), "the edition does not ignore its built site"
    grading = sorted(p.name for p in (edition / "dlcourse" / "grading").iterdir() if p.suffix == ".py")
    assert grading == sorted(STUDENT_GRADING), (
        f"dlcourse.grading in the edition should hold only the notebook-test helpers {sorted(STUDENT_GRADING)}, "
        f"found {grading}")


def test_edition_holds_nothing_of_the_instructor(edition):
    for relative in ("solutions", "tests", "benchmarks", "scripts", ".ci", "nbgrader_config.py",
                     "dlcourse/edition", "dlcourse/cli.py", "dlcourse/grading/probes.py", "gradebook.db"):
        assert not (edition / relative).exists(), f"{relative} must not be in the student edition"
    leftovers = [str(p.relative_to(edition)) for p in edition.rglob("probes.py")]
    assert not leftovers, f"probe files in the edition: {leftovers}"
    problems = audit_edition(edition, REPO, ASSIGNMENTS)
    assert problems == [], "the edition fails its audit:\n" + "\n".join(problems)


def test_no_hidden_test_code_anywhere_in_the_edition(edition):
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in edition.rglob("*")
             if p.is_file() and p.suffix in (".py", ".ipynb", ".md", ".txt", ".json", ".toml", ".yml")}
    markers = [(str(p.relative_to(edition)), m) for p, t in texts.items()
               for m in ("BEGIN HIDDEN TESTS", "BEGIN SOLUTION", "END SOLUTION") if m in t]
    assert not markers, f"nbgrader markers in the edition: {markers[:5]}"
    # notebooks as their cells' code lines, other files as their lines: stripped, without comments
    code = {}
    for path, text in texts.items():
        sources = ([c.source for c in nbformat.reads(text, as_version=4).cells] if path.suffix == ".ipynb"
                   else [text])
        code[path] = "\n\n".join("\n".join(line.strip() for line in source.splitlines()
                                            if line.strip() and not line.strip().startswith("#"))
                                  for source in sources)
    for assignment in ASSIGNMENTS:
        hidden = [p for p, kind in instructor_passages(REPO, assignment).items() if kind == "hidden test"]
        assert len(hidden) >= 5, f"{assignment}: expected hidden tests to search for, found {len(hidden)} passages"
        leaks = [(str(path.relative_to(edition)), passage.splitlines()[0]) for passage in hidden
                 for path, text in code.items() if passage in text]
        assert not leaks, f"{assignment}'s hidden-test code in the edition (file, first line): {leaks[:5]}"


def test_package_defines_nothing_named_after_an_open_exercise(edition):
    defined = _package_definitions(edition / "dlcourse")
    for assignment, names in EXERCISES.items():
        clash = {n: defined[n] for n in sorted(names) if n in defined}
        assert not clash, f"the edition's package defines exercises of the open assignment {assignment}: {clash}"
    instructor = _package_definitions(REPO / "dlcourse")
    withheld_there = sorted(n for names in EXERCISES.values() for n in names if n in instructor)
    assert len(withheld_there) >= 40, (
        f"expected the instructor's package to hold the references of about 50 exercises, found {withheld_there}")


def test_withheld_includes_the_algorithm_behind_each_reference(edition):
    """A reference goes with its math core and with every other form of the same algorithm."""
    defined = _package_definitions(edition / "dlcourse")
    for name in ("_single_tensor_adam", "_multi_tensor_adam", "adam_update", "momentum_ewa_update",
                 "batchnorm_backward_staged", "BatchNormCache", "AffineCache", "AdamW"):
        assert name not in defined, f"{name} implements a withheld exercise but is in the edition: {defined[name]}"
    for name in ("Parameter", "FullyConnectedNet", "mse_loss", "rel_error", "get_device", "fit", "vgg", "mini_vgg",
                 "load_digits", "plot_lr_schedules", "assert_close", "forbid_reference"):
        assert name in defined, f"{name} is no exercise and notebooks use it, but the edition lacks it"


def test_edition_package_imports_alone_and_lacks_the_grading_machinery(edition):
    code = r"""
import importlib, json, pkgutil, sys
import dlcourse
loaded, failed = [], []
for info in pkgutil.walk_packages(dlcourse.__path__, "dlcourse."):
    try:
        importlib.import_module(info.name)
        loaded.append(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {type(exc).__name__}: {exc}")
files = {name: getattr(m, "__file__", None) for name, m in sys.modules.items() if name.startswith("dlcourse")}
missing = []
for name in ("dlcourse.grading.pipeline", "dlcourse.edition", "dlcourse.cli"):
    try:
        importlib.import_module(name)
    except ImportError:
        missing.append(name)
print(json.dumps({"loaded": loaded, "failed": failed, "files": files, "missing": missing}))
"""
    result = _run_in_edition(edition, code)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert not report["failed"], "edition modules that do not import:\n" + "\n".join(report["failed"])
    assert len(report["loaded"]) >= 30, f"expected the whole package to import, got {report['loaded']}"
    outside = {n: f for n, f in report["files"].items() if f and not Path(f).resolve().is_relative_to(edition)}
    assert not outside, f"modules loaded from outside the edition: {outside}"
    assert sorted(report["missing"]) == ["dlcourse.cli", "dlcourse.edition", "dlcourse.grading.pipeline"], (
        f"instructor modules importable in the edition: {report}")


def _run_in_edition(edition: Path, code: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-c", code], cwd=edition, env=edition_env(edition),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"python in the edition failed:\n{result.stderr[-3000:]}"
    return result


# -- the student files ----------------------------------------------------------------------------------
def test_student_files_install_the_edition_package(edition):
    import tomllib

    project = tomllib.loads((edition / "pyproject.toml").read_text())["project"]
    instructor = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["name"] == "dlcourse" and "scripts" not in project, project
    for pinned in ("torch==2.14.1", "torchvision==0.29.1"):
        assert pinned in project["dependencies"], f"{pinned} missing from {project['dependencies']}"
    assert not any(d.startswith(("pytest", "nbval", "copydetect", "psycopg")) for d in project["dependencies"]), \
        project["dependencies"]
    assert set(project["dependencies"]) <= set(instructor["dependencies"])
    env = (edition / "environment.yml").read_text()
    for requirement in project["dependencies"]:
        assert f"- {requirement}\n" in env, f"environment.yml lacks {requirement}"
    assert "- -e .\n" in env and "python=3.11" in env
    binder = (edition / "binder" / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in binder and "torch==2.14.1" in binder
    assert (edition / "binder" / "runtime.txt").read_text().strip() == "python-3.11"
    for script in ("postBuild", "start"):
        assert os.access(edition / "binder" / script, os.X_OK), f"binder/{script} is not executable"
    assert "pip install --no-deps -e ." in (edition / "binder" / "postBuild").read_text()
    assert "JUPYTER_CONFIG_PATH" in (edition / "binder" / "start").read_text()


def test_edition_builds_as_a_package_with_its_data_and_without_instructor_modules(edition, tmp_path):
    import zipfile

    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                             "-w", str(tmp_path), str(edition)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip cannot build the edition's package:\n{result.stderr[-3000:]}"
    (wheel,) = tmp_path.glob("dlcourse-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("dlcourse/torch_ref/weights/mini_vgg.pt", "dlcourse/numpy_ref/models.py",
                   "dlcourse/grading/checks.py", "dlcourse/data/digits.py"):
        assert needed in names, f"the edition's wheel lacks {needed}"
    instructor = sorted(n for n in names if n.startswith(("dlcourse/edition", "dlcourse/cli.py",
                                                           "dlcourse/grading/probes.py", "dlcourse/grading/sandbox.py")))
    assert not instructor, f"instructor modules in the edition's wheel: {instructor}"


def test_student_readme_explains_set_up_work_and_hand_in(edition):
    readme = (edition / "README.md").read_text()
    assert "https://mybinder.org/badge_logo.svg" in readme
    assert "mybinder.org/v2/gh/dlcourse/dlcourse-student/HEAD" in readme
    for phrase in ("make lab", "Validate", "Hand in", "YOUR CODE HERE", "git pull", "conda env create"):
        assert phrase in readme, f"the student README does not mention {phrase!r}"
    assert "$" + "binder_repo" not in readme and "${" not in readme, "unfilled template placeholders"
    for assignment in ASSIGNMENTS:
        assert assignment in readme, f"the README does not say that {assignment}'s references are withheld"


def test_make_lab_runs_as_root_with_the_editions_settings(edition, tmp_path):
    stamp = tmp_path / "installed"
    stamp.touch()
    os.utime(stamp, (time.time() + 60, time.time() + 60))  # newer than pyproject.toml: nothing to install
    venv = Path(sys.executable).parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}  # under make test
    result = subprocess.run(["make", "--no-print-directory", "-n", "lab", f"ENV={venv}", f"STAMP={stamp}"],
                            cwd=edition, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    command = next((line for line in result.stdout.splitlines() if "jupyter lab" in line), result.stdout)
    assert "jupyter lab" in command and f"--notebook-dir={edition}" in command, command
    assert ("--allow-root" in command) == (os.geteuid() == 0), f"as uid {os.geteuid()}: {command}"


def test_jupyterlab_shows_validate_and_hides_the_instructor_tools(edition, tmp_path):
    """Start JupyterLab the way `make lab` does and read what it serves."""
    page = json.loads((edition / ".jupyter" / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    for plugin in ("formgrader", "create-assignment", "course-list", "assignment-list"):
        assert page.get(f"@jupyter/nbgrader:{plugin}") is True, f"{plugin} is not disabled: {page}"
    assert "@jupyter/nbgrader:validate-assignment" not in page
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stamp = tmp_path / "installed"
    stamp.touch()
    os.utime(stamp, (time.time() + 60, time.time() + 60))
    venv = Path(sys.executable).parent.parent
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), HOME=str(tmp_path))
    for inherited in ("JUPYTER_CONFIG_PATH", "MAKEFLAGS", "MAKELEVEL", "MFLAGS"):
        env.pop(inherited, None)
    args = f"--no-browser --port={port} --ip=127.0.0.1 --IdentityProvider.token=edition-test"
    lab = subprocess.Popen(["make", "lab", f"ENV={venv}", f"STAMP={stamp}", f"LAB_ARGS={args}"], cwd=edition,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        html = _get(f"{base}/lab?token=edition-test", deadline=time.time() + 120, process=lab)
        config = json.loads(re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', html, re.S).group(1))
        disabled = config.get("disabledExtensions", [])
        for plugin in ("formgrader", "create-assignment", "course-list", "assignment-list"):
            assert f"@jupyter/nbgrader:{plugin}" in disabled, f"JupyterLab still loads {plugin}: {disabled}"
        assert "@jupyter/nbgrader:validate-assignment" not in disabled, disabled
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{base}/formgrader?token=edition-test", timeout=10)
        assert missing.value.code == 404, "the formgrader server extension answers in the edition"
        # the Validate button's endpoint validates a notebook (a passing, a failing and a warning test cell)
        nb = nbformat.v4.new_notebook(cells=[
            nbformat.v4.new_code_cell("def double(x):\n    return 2 * x", metadata={"nbgrader": {
                "solution": True, "grade": False, "locked": False, "grade_id": "double", "schema_version": 3}}),
            nbformat.v4.new_code_cell("assert double(2) == 4", metadata={"nbgrader": {
                "solution": False, "grade": True, "locked": True, "grade_id": "test_ok", "points": 1,
                "schema_version": 3}}),
            nbformat.v4.new_code_cell("assert double(2) == 5, 'double(2) should be 5 here'", metadata={"nbgrader": {
                "solution": False, "grade": True, "locked": True, "grade_id": "test_bad", "points": 1,
                "schema_version": 3}}),
            # a warning on stderr: the grader ignores it (IgnorePattern), so Validate must too
            nbformat.v4.new_code_cell("import warnings\nwarnings.warn('overflow encountered in exp', RuntimeWarning)",
                                      metadata={"nbgrader": {"solution": False, "grade": True, "locked": True,
                                                             "grade_id": "test_warns", "points": 1,
                                                             "schema_version": 3}})])
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        (edition / "validate-check").mkdir(exist_ok=True)
        nbformat.write(nb, edition / "validate-check" / "check.ipynb")
        request = urllib.request.Request(f"{base}/assignments/validate", method="POST",
                                         data=b"path=validate-check/check.ipynb",
                                         headers={"Authorization": "token edition-test"})
        with urllib.request.urlopen(request, timeout=300) as response:
            answer = json.loads(response.read().decode())
        assert answer.get("success") is True, f"Validate did not run: {answer}"
        assert "double(2) should be 5 here" in json.dumps(answer), f"Validate missed the failing test: {answer}"
        assert "overflow encountered" not in json.dumps(answer), f"Validate failed a cell that only warns: {answer}"
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=30)
        shutil.rmtree(edition / "validate-check", ignore_errors=True)


def _get(url: str, *, deadline: float, process: subprocess.Popen) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return response.read().decode()
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.time() > deadline:
                raise AssertionError(f"JupyterLab did not answer at {url}: {process.stdout.read()[-3000:]}")
            time.sleep(1)


# -- what is withheld is derived, and released on the instructor's word -----------------------------------
def test_release_references_puts_back_that_assignments_references_only(tmp_path, capsys):
    out = tmp_path / "edition"
    assert cli_main(["student-edition", str(out), "--release-references", "a1_backprop",
                     "--course-dir", str(REPO)]) == 0
    printed = capsys.readouterr().out
    assert "references released: a1_backprop" in printed, printed
    defined = _package_definitions(out / "dlcourse")
    for name in ("sigmoid", "softmax", "cross_entropy", "affine_forward", "relu_backward", "numerical_gradient",
                 "perceptron_train"):
        assert name in defined, f"a1's reference {name} was released but is missing"
    source = (out / "dlcourse" / "numpy_ref" / "functional.py").read_text()
    assert source == (REPO / "dlcourse" / "numpy_ref" / "functional.py").read_text(), (
        "a released module should be the instructor's, unchanged")
    for assignment in ASSIGNMENTS[1:]:
        clash = sorted(n for n in EXERCISES[assignment] if n in defined and n not in EXERCISES["a1_backprop"])
        assert not clash, f"{assignment} is still open but its references are in the edition: {clash}"
    marker = json.loads((out / MARKER).read_text())
    assert marker["released_references"] == ["a1_backprop"] and "a1_backprop" not in marker["withheld"]


def _course_with_new_exercise(tmp_path: Path, name: str) -> Path:
    """A copy of the course whose a1 source notebook has one more solution cell, defining ``name``."""
    course = tmp_path / "course"
    for item in ("solutions", "assignments", "lectures", "dlcourse", "pyproject.toml", "nbgrader_config.py"):
        source = REPO / item
        if source.is_dir():
            shutil.copytree(source, course / item, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(source, course / item)
    notebook = course / "solutions" / "a1_backprop" / "a1_backprop.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        f"def {name}(*args):\n    ### BEGIN SOLUTION\n    return 0.0\n    ### END SOLUTION\n",
        metadata={"nbgrader": {"solution": True, "grade": False, "locked": False, "grade_id": f"{name}_new",
                               "schema_version": 3}}))
    nbformat.write(nb, notebook)
    return course


def test_a_new_exercise_is_withheld_without_being_listed(tmp_path):
    """A solution cell defining `seed_worker` (a helper the edition keeps today, no notebook uses it)."""
    name = "seed_worker"
    assert name in _package_definitions(REPO / "dlcourse")
    assert not any(name in p.read_text() for p in [*REPO.glob("lectures/*.ipynb"), *REPO.glob("assignments/*/*.ipynb")])
    course = _course_with_new_exercise(tmp_path, name)
    build_edition(course, tmp_path / "edition")
    defined = _package_definitions(tmp_path / "edition" / "dlcourse")
    assert name not in defined, f"the new exercise {name} is still defined: {defined[name]}"
    assert "worker_init_fn" not in defined, "worker_init_fn uses seed_worker and should be withheld with it"


def test_a_lecture_that_needs_a_withheld_name_stops_the_build(tmp_path):
    """Making `rel_error` an exercise while L02 and L03 use it: the build refuses and names them."""
    course = _course_with_new_exercise(tmp_path, "rel_error")
    with pytest.raises(EditionError) as refused:
        build_edition(course, tmp_path / "edition")
    message = str(refused.value)
    assert "lectures/L02_activations_and_losses.ipynb imports dlcourse.numpy_ref.gradcheck" in message, message


@pytest.mark.parametrize("leak", ["probes", "marker", "hidden", "exercise", "import"])
def test_the_audit_catches_each_kind_of_leak(edition, tmp_path, leak):
    copy = tmp_path / "edition"
    shutil.copytree(edition, copy)
    if leak == "probes":
        shutil.copy(REPO / "solutions" / "a1_backprop" / "probes.py", copy / "assignments" / "a1_backprop")
        expected = "probes.py must not be"
    elif leak == "marker":
        (copy / "lectures" / "notes.md").write_text("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n")
        expected = "marker"
    elif leak == "hidden":
        passage = next(p for p, kind in instructor_passages(REPO, "a3_optimization").items() if kind == "hidden test")
        (copy / "dlcourse" / "data" / "extra.py").write_text('"""Pasted."""\nPASTED = """\n' + passage + '\n"""\n')
        expected = "a3_optimization's hidden-test code"
    elif leak == "exercise":
        path = copy / "dlcourse" / "plots" / "layers.py"
        path.write_text(path.read_text() + "\n\nclass _Holder:\n    def batchnorm_backward(self):\n        pass\n")
        expected = "'batchnorm_backward', an exercise of the open assignment a2_init_normalization"
    else:
        path = copy / "dlcourse" / "data" / "digits.py"
        path.write_text(path.read_text() + "\nfrom dlcourse.numpy_ref.init import he_normal\n")
        expected = "imports from dlcourse.numpy_ref.init, which the edition lacks"
    problems = audit_edition(copy, REPO, ASSIGNMENTS)
    assert any(expected in p for p in problems), f"the audit missed a planted {leak} leak: {problems}"


def test_outdir_holding_something_else_is_refused(tmp_path, capsys):
    (tmp_path / "mine.txt").write_text("not an edition")
    assert cli_main(["student-edition", str(tmp_path), "--course-dir", str(REPO)]) == 2
    err = capsys.readouterr().err
    assert "not empty and holds no earlier edition" in err and (tmp_path / "mine.txt").is_file(), err
    assert cli_main(["student-edition", str(tmp_path / "new"), "--release-references", "a9_nope",
                     "--course-dir", str(REPO)]) == 2
    assert "unknown assignment(s) a9_nope" in capsys.readouterr().err


def test_rebuilding_replaces_an_earlier_edition_and_keeps_its_git(edition, tmp_path):
    copy = tmp_path / "published"
    shutil.copytree(edition, copy)
    (copy / ".git").mkdir()
    (copy / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (copy / "lectures" / "stale.ipynb").write_text("{}")
    build_edition(REPO, copy, release_references=["a1_backprop"])
    assert (copy / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n", "the edition's .git was touched"
    assert not (copy / "lectures" / "stale.ipynb").exists(), "files of the earlier edition survived"
