"""Where the course lives on disk: the course directory and its assignments.

A *course directory* is any folder that holds ``nbgrader_config.py`` and the nbgrader
source folder ``solutions/``: the repository itself, or a fresh grading folder an
instructor prepared (``nbgrader_config.py``, ``solutions/`` and ``submitted/`` only).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"
SOURCE_DIR = "solutions"
RELEASE_DIR = "assignments"
SUBMITTED_DIR = "submitted"


class CourseError(Exception):
    """An instructor-side problem (missing configuration, unknown assignment): the CLI exits non-zero."""


def package_course_root() -> Path | None:
    """The repository the installed package was checked out in (editable installs), if any."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / CONFIG_FILE).is_file() and (root / SOURCE_DIR).is_dir() else None


def find_course_root(start: str | os.PathLike | None = None) -> Path:
    """The nearest course directory at or above ``start`` (default: the working directory).

    Falls back to the repository the package was installed from.

    Raises:
        CourseError: when no folder with ``nbgrader_config.py`` and ``solutions/`` is found.
    """
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file() and (folder / SOURCE_DIR).is_dir():
            return folder
    fallback = package_course_root()
    if fallback is not None:
        return fallback
    raise CourseError(
        f"no course directory found at or above {here}: expected a folder with {CONFIG_FILE} "
        f"and {SOURCE_DIR}/ (pass --course-dir DIR)"
    )


def check_course_dir(course_dir: str | os.PathLike) -> Path:
    """Validate ``course_dir`` and return it as an absolute path."""
    path = Path(course_dir).resolve()
    if not path.is_dir():
        raise CourseError(f"course directory {path} does not exist")
    if not (path / CONFIG_FILE).is_file():
        raise CourseError(f"{path} has no {CONFIG_FILE}: copy the course's {CONFIG_FILE} there")
    if not (path / SOURCE_DIR).is_dir():
        raise CourseError(f"{path} has no {SOURCE_DIR}/ folder with the assignments' source notebooks")
    return path


def list_assignments(course_dir: str | os.PathLike) -> list[str]:
    """The assignment ids: the folders of ``solutions/`` that hold at least one notebook."""
    source = Path(course_dir) / SOURCE_DIR
    return sorted(
        p.name for p in source.iterdir()
        if p.is_dir() and not p.name.startswith(".") and any(p.glob("*.ipynb"))
    )


def check_assignment(course_dir: str | os.PathLike, assignment: str) -> str:
    """Raise :class:`CourseError` unless ``assignment`` is one of the course's assignments."""
    known = list_assignments(course_dir)
    if assignment not in known:
        raise CourseError(
            f"unknown assignment {assignment!r}; the course has: {', '.join(known) or 'none'}"
        )
    return assignment


def copy_course(course_dir: str | os.PathLike, dest: str | os.PathLike, assignments: list[str] | None = None) -> Path:
    """Make ``dest`` a course folder: ``nbgrader_config.py`` and the source of ``assignments`` (default: all).

    Used for scratch grading folders (the demo, benchmarks, tests); nothing else is copied.
    """
    source, dest = Path(course_dir), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / CONFIG_FILE, dest / CONFIG_FILE)
    for aid in assignments if assignments is not None else list_assignments(source):
        shutil.copytree(source / SOURCE_DIR / aid, dest / SOURCE_DIR / aid, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest
