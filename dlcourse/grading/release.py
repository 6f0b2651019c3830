"""The release step: the student version of an assignment, generated from its source notebooks."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from dlcourse.course import RELEASE_DIR, CourseError, check_assignment, check_course_dir, list_assignments
from dlcourse.grading.gradebook import gradebook_setup_lock
from dlcourse.grading.job import course_db_url
from dlcourse.grading.nbgrader_run import output_tail, run_nbgrader


def generate_release(course_dir: str | os.PathLike, assignment: str, release_root: str | os.PathLike) -> Path:
    """Generate the student version of ``assignment`` into ``release_root/<assignment>``.

    Also records the assignment's cells (with their hidden tests) in the course's gradebook.

    Raises:
        CourseError: when the course or assignment does not exist, or nbgrader rejects the
            source notebooks (the reason is in the message).
    """
    course = check_course_dir(course_dir)
    check_assignment(course, assignment)
    return generate_checked_release(course, assignment, Path(release_root))


def generate_checked_release(course: Path, assignment: str, release_root: Path) -> Path:
    """:func:`generate_release` for a course folder and assignment already checked by the caller.

    Graders sharing a PostgreSQL gradebook take turns here (:func:`gradebook_setup_lock`): this step
    creates the gradebook's tables and records the assignment.
    """
    release_root = release_root.resolve()
    with gradebook_setup_lock(course_db_url(course)):
        result = run_nbgrader(
            ["generate_assignment", assignment, "--force", f"--CourseDirectory.release_directory={release_root}"],
            course,
        )
    target = release_root / assignment
    if not result.ok or not target.is_dir():
        raise CourseError(f"nbgrader could not generate the release of {assignment}:\n{output_tail(result.output)}")
    return target


def release(course_dir: str | os.PathLike, assignments: Iterable[str] | None = None) -> list[Path]:
    """Regenerate ``assignments/<id>/`` from ``solutions/<id>/`` (all assignments by default).

    The release is generated in a scratch folder first and moved into place only when
    nbgrader succeeded, so a broken source notebook never deletes the current release.
    """
    course = check_course_dir(course_dir)
    ids = list(assignments) if assignments else list_assignments(course)
    for aid in ids:
        check_assignment(course, aid)
    written = []
    for aid in ids:
        with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as scratch:
            generated = generate_checked_release(course, aid, Path(scratch))
            target = course / RELEASE_DIR / aid
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(generated, target)
            written.append(target)
    return written
