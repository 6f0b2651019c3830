"""Build the student edition: the course as students receive it, derived from the instructor's repository.

The edition holds the lectures (with outputs), the assignments' releases, a copy of the ``dlcourse``
package without the references of open assignments and without the instructor's tools, and what a
student needs to run it (README, ``make lab``, ``environment.yml``, ``pyproject.toml``, Binder and
JupyterLab settings). It never holds ``solutions/``, tests, probes, benchmarks, scripts or CI.

What is withheld is derived, not listed: the exercises of each open assignment are the definitions of
its solution cells and the names its probes call (:mod:`dlcourse.edition.exercises`); the package's
definitions of those names are withheld with their private helpers and with everything that uses
them (:mod:`dlcourse.edition.package_index`). Released assignments (``release_references``) keep
their references. The built edition is audited (:mod:`dlcourse.edition.audit`) before it is reported
as built.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

from dlcourse import __version__
from dlcourse.course import RELEASE_DIR, CourseError, list_assignments
from dlcourse.edition.exercises import assignment_exercises
from dlcourse.edition.package_index import DefId, PackageIndex
from dlcourse.edition.strip import StripReport, strip_package

PACKAGE = "dlcourse"
LECTURES_DIR = "lectures"
MARKER = ".dlcourse-edition.json"
TEMPLATES = Path(__file__).with_name("templates")
OVERRIDES = Path(__file__).with_name("overrides")
DEFAULT_BINDER_REPO = "dlcourse/dlcourse-student"
#: Templates with ``$name`` placeholders; the others (Makefile, shell scripts) are copied as they are.
TEMPLATED = ("README.md", "pyproject.toml", "environment.yml", "requirements.txt")

#: Parts of the package that only the instructor uses: the edition tool itself, the command line
#: (release, grade, demo), the environment check of the grading machine, and the grading machinery
#: (sandbox, probes, pipeline). Students keep the helpers that their notebooks' tests import.
INSTRUCTOR_ONLY = ("edition", "cli.py", "__main__.py", "doctor.py", "course.py", "grading")
STUDENT_GRADING = ("__init__.py", "cases.py", "checks.py", "tensors.py", "forbidden.py", "simulated_device.py",
                   "stderr_policy.py")
#: Dependencies of the instructor's package that students do not need (tests and grading: copy detection,
#: the PostgreSQL driver of a shared gradebook).
INSTRUCTOR_DEPENDENCIES = ("nbclient", "nbformat", "nbval", "pytest", "pytest-xdist", "pytest-timeout", "copydetect",
                           "psycopg", "dask", "distributed")


class EditionError(CourseError):
    """The edition cannot be built, or the built edition fails its audit."""


@dataclass
class Edition:
    """A built student edition and what it withholds."""

    path: Path
    open_assignments: list[str]
    released: list[str]
    withheld: dict[str, list[str]] = field(default_factory=dict)  # assignment -> public names withheld
    strip: StripReport = field(default_factory=StripReport)
    notes: list[str] = field(default_factory=list)  # solution code the edition shows, for review

    def summary(self) -> str:
        count = sum(len(v) for v in self.withheld.values())
        lines = [f"student edition in {self.path}",
                 f"  withheld: {count} reference names of {len(self.open_assignments)} open assignment(s)"
                 + (f" ({', '.join(self.open_assignments)})" if self.open_assignments else "")]
        for assignment, names in self.withheld.items():
            lines.append(f"    {assignment}: {', '.join(names)}")
        if self.released:
            lines.append(f"  references released: {', '.join(self.released)}")
        if self.notes:
            lines.append("  to review (code of an open assignment's solution that the edition shows; "
                         "lectures and later releases may mean to):")
            lines += [f"    {note}" for note in self.notes]
        return "\n".join(lines)


def withheld_definitions(course_dir: Path, package_dir: Path, open_assignments: list[str]
                         ) -> tuple[set[DefId], dict[str, str]]:
    """The package definitions to withhold for ``open_assignments``, and the assignment of each name.

    A definition withheld because it uses another (``adam_update`` uses Adam's core) is attributed to
    the assignment of the first exercise that pulled it in.
    """
    index = PackageIndex(package_dir)
    seeds: set[DefId] = set()
    owner: dict[DefId, str] = {}
    for assignment in open_assignments:
        for def_id in sorted(index.named(assignment_exercises(course_dir, assignment))):
            seeds.add(def_id)
            owner.setdefault(def_id, assignment)
    closure = index.withheld_closure(seeds)
    # attribute each dependent to an assignment: follow uses until a seed is reached
    pending = [d for d in closure if d not in owner]
    while pending:
        progressed = False
        for def_id in list(pending):
            source = next((owner[u] for u in sorted(index.definition(def_id).uses) if u in owner), None)
            if source is not None:
                owner[def_id] = source
                pending.remove(def_id)
                progressed = True
        if not progressed:  # cores reached only from their seed: the seed's module owns them
            for def_id in pending:
                owner[def_id] = next((a for (m, _), a in owner.items() if m == def_id[0]), open_assignments[0])
            pending = []
    return closure, {name: owner[(module, name)] for module, name in closure}


def build_edition(course_dir: str | os.PathLike, outdir: str | os.PathLike, *,
                  release_references: list[str] | tuple[str, ...] = (),
                  binder_repo: str = DEFAULT_BINDER_REPO) -> Edition:
    """Build the student edition of the course at ``course_dir`` into ``outdir``.

    Args:
        course_dir: the instructor's course (``solutions/``, ``assignments/``, ``lectures/``, ``dlcourse/``).
        outdir: a new or empty folder, or an earlier edition (its files are replaced; a ``.git``
            folder there is kept, so the edition can be its own repository).
        release_references: assignments whose references students may have (after the deadline).
        binder_repo: ``OWNER/NAME`` of the GitHub repository the edition is published to (the
            README's clone command and Binder badge).

    Raises:
        EditionError: unknown assignment in ``release_references``, an ``outdir`` that holds
            something else, or a built edition that fails its audit.
    """
    from dlcourse.edition.audit import audit_edition, solution_overlaps

    course = Path(course_dir).resolve()
    out = Path(outdir).resolve()
    assignments = list_assignments(course)
    unknown = sorted(set(release_references) - set(assignments))
    if unknown:
        raise EditionError(f"release_references: unknown assignment(s) {', '.join(unknown)}; "
                           f"the course has: {', '.join(assignments)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", binder_repo):
        raise EditionError(f"binder_repo must be OWNER/NAME of a GitHub repository, got {binder_repo!r}")
    if out == course or any(out.is_relative_to(course / d) for d in (PACKAGE, LECTURES_DIR, RELEASE_DIR, "solutions")):
        raise EditionError(f"outdir: {out} would overwrite the instructor's course; choose a folder outside it")
    _prepare_outdir(out)
    released = [a for a in assignments if a in release_references]
    open_assignments = [a for a in assignments if a not in release_references]

    _copy_notebook_folder(course / LECTURES_DIR, out / LECTURES_DIR)
    for assignment in assignments:
        _copy_notebook_folder(course / RELEASE_DIR / assignment, out / RELEASE_DIR / assignment)
    package = out / PACKAGE
    _copy_package(course / PACKAGE, package)
    withheld, owner = withheld_definitions(course, package, open_assignments)
    report = strip_package(package, withheld, why=owner)
    by_assignment: dict[str, list[str]] = {a: [] for a in open_assignments}
    for module, names in report.removed.items():
        for name in names:
            if not name.startswith("_") and name in owner:
                by_assignment.setdefault(owner[name], []).append(f"{module.removeprefix(PACKAGE + '.')}.{name}")
    by_assignment = {a: sorted(v) for a, v in by_assignment.items() if v}
    _write_student_files(course, out, open_assignments, binder_repo)
    edition = Edition(out, open_assignments, released, by_assignment, report)
    (out / MARKER).write_text(json.dumps({
        "course_version": __version__,
        "built_on": _dt.date.today().isoformat(),
        "open_assignments": open_assignments,
        "released_references": released,
        "withheld": by_assignment,
    }, indent=2) + "\n", encoding="utf-8")
    problems = audit_edition(out, course, open_assignments)
    edition.notes = solution_overlaps(out, course, open_assignments)
    if problems:
        raise EditionError("the built edition fails its audit (nothing was published):\n  - "
                           + "\n  - ".join(problems))
    return edition


def _prepare_outdir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise EditionError(f"outdir: {out} exists and is not a folder")
    if out.is_dir():
        entries = [p for p in out.iterdir() if p.name != ".git"]
        if entries and not (out / MARKER).is_file():
            raise EditionError(f"outdir: {out} is not empty and holds no earlier edition ({MARKER}); "
                               "choose a new folder")
        for entry in entries:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _copy_notebook_folder(source: Path, target: Path) -> None:
    shutil.copytree(source, target, symlinks=False,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__", "*.pyc", ".*"))


def _copy_package(source: Path, target: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        here = Path(folder)
        skipped = {n for n in names if n in ("__pycache__",) or n.endswith((".pyc", ".egg-info"))}
        if here == source:
            skipped |= {n for n in names if n in INSTRUCTOR_ONLY and n != "grading"}
        if here == source / "grading":
            skipped |= {n for n in names if n not in STUDENT_GRADING}
        return skipped

    shutil.copytree(source, target, ignore=ignore)
    for override in sorted(OVERRIDES.rglob("*.py")):
        destination = target / override.relative_to(OVERRIDES)
        if not destination.is_file():
            raise EditionError(f"override {override} replaces no module of the package")
        shutil.copyfile(override, destination)


def _dependencies(course: Path) -> list[str]:
    project = tomllib.loads((course / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    keep = []
    for requirement in project["dependencies"]:
        name = re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        if name not in INSTRUCTOR_DEPENDENCIES:
            keep.append(requirement)
    return keep


def _write_student_files(course: Path, out: Path, open_assignments: list[str], binder_repo: str) -> None:
    dependencies = _dependencies(course)
    values = {
        "binder_repo": binder_repo,
        "lecture_count": len(list((out / LECTURES_DIR).glob("*.ipynb"))),
        "assignment_count": len(list((out / RELEASE_DIR).iterdir())),
        "version": __version__,
        "built_on": _dt.date.today().isoformat(),
        "open_assignments": ", ".join(open_assignments) if open_assignments else "none (all released)",
        "dependencies": "\n".join(f'    "{d}",' for d in dependencies),
        "pip_dependencies": "\n".join(f"      - {d}" for d in dependencies),
        "binder_dependencies": "\n".join(dependencies),
    }
    renames = {"gitignore": ".gitignore", "dot-jupyter": ".jupyter"}
    for template in sorted(TEMPLATES.rglob("*")):
        if template.is_dir():
            continue
        relative = template.relative_to(TEMPLATES)
        target = out.joinpath(*(renames.get(part, part) for part in relative.parts))
        target.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text(encoding="utf-8")
        if template.name in TEMPLATED:
            text = Template(text).substitute(values)
        target.write_text(text, encoding="utf-8")
        if template.parent.name == "binder" and template.name in ("postBuild", "start"):
            target.chmod(0o755)
