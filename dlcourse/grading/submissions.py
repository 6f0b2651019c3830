"""Which submissions of an assignment there are, and which are refused before anything reads them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from dlcourse.course import SUBMITTED_DIR
from dlcourse.grading.sanitize import check_student_id


class UnknownStudents(ValueError):
    """Students were asked for who have no submission of the assignment."""

    def __init__(self, students: list[str]):
        super().__init__(f"no submission for: {', '.join(students)}")
        self.students = students


def list_submissions(course_dir: Path, assignment: str) -> tuple[list[str], dict[str, str]]:
    """The submissions of ``assignment``: ``(valid student ids, {folder name: why it is refused})``.

    A submission is a real folder ``submitted/<student>/<assignment>/`` (links are never followed).
    The folder name must be a valid student id (see :func:`check_student_id`): it is handed to
    nbgrader, which reads ``--student`` as a glob pattern.
    """
    root = course_dir / SUBMITTED_DIR
    valid: list[str] = []
    refused: dict[str, str] = {}
    if not root.is_dir():
        return valid, refused
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        inner = Path(entry.path) / assignment
        if entry.is_symlink():
            refused[entry.name] = "is a link, not a folder (links are never followed)"
        elif not entry.is_dir(follow_symlinks=False) or not os.path.lexists(inner):
            continue  # not a student folder, or this student did not hand in this assignment
        elif (why := check_student_id(entry.name)) is not None:
            refused[entry.name] = why
        elif inner.is_symlink() or not inner.is_dir():
            refused[entry.name] = f"its {assignment} is not a folder (a link or a file)"
        else:
            valid.append(entry.name)
    return valid, refused


def select_submissions(
    course_dir: Path, assignment: str, students: Iterable[str] | None = None,
) -> tuple[list[str], dict[str, str]]:
    """:func:`list_submissions`, narrowed to ``students`` when given (in their order, once each).

    Raises:
        UnknownStudents: some of ``students`` have no submission folder at all.
    """
    available, refused = list_submissions(course_dir, assignment)
    if students is None:
        return available, refused
    wanted = list(dict.fromkeys(students))
    unknown = [s for s in wanted if s not in available and s not in refused]
    if unknown:
        raise UnknownStudents(unknown)
    return [s for s in wanted if s in available], {s: why for s, why in refused.items() if s in wanted}
