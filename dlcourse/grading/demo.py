"""``dlcourse demo``: the whole grading pipeline on sample submissions, in a scratch course folder.

The demo copies ``nbgrader_config.py`` and ``solutions/`` into the scratch folder
(``demo/`` by default, git-ignored), generates the student release of every
assignment there, writes four sample submissions per assignment (see
:mod:`dlcourse.grading.samples`), grades them with nbgrader and a fresh sqlite
gradebook, and prints a score table. The course's own ``solutions/``,
``assignments/`` and ``lectures/`` are never modified.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

from dlcourse.course import RELEASE_DIR, SOURCE_DIR, SUBMITTED_DIR, CourseError, copy_course, list_assignments
from dlcourse.grading.pipeline import GradeReport, generate_release, grade
from dlcourse.grading.report import format_table
from dlcourse.grading.samples import write_submission

MARKER = ".dlcourse-demo"
#: Sample students: id -> kind of submission.
STUDENTS = {
    "s01_complete": "complete",
    "s02_partial": "partial",
    "s03_untouched": "untouched",
    "s04_broken_json": "broken_json",
}


def prepare_demo_dir(course: Path, demo_dir: Path) -> Path:
    """Create (or reset) the scratch course folder ``demo_dir`` from ``course``."""
    demo_dir = demo_dir.resolve()
    if demo_dir == course or demo_dir in course.parents or course in demo_dir.parents and demo_dir.name in (
        SOURCE_DIR, RELEASE_DIR, "lectures", "dlcourse", "tests"
    ):
        raise CourseError(f"refusing to use {demo_dir} as the demo folder: it is part of the course")
    if demo_dir.exists():
        if not (demo_dir / MARKER).exists():
            raise CourseError(f"{demo_dir} exists and was not made by `dlcourse demo`; choose another --dir")
        shutil.rmtree(demo_dir)
    demo_dir.mkdir(parents=True)
    (demo_dir / MARKER).write_text("scratch folder of `dlcourse demo`; safe to delete\n")
    return copy_course(course, demo_dir)


def run_demo(
    course: Path,
    demo_dir: Path,
    *,
    assignments: list[str] | None = None,
    jobs: int = 2,
    unsafe: bool = False,
    echo: Callable[[str], None] = print,
) -> list[GradeReport]:
    """Release, submit and grade every assignment in ``demo_dir``; return the reports."""
    demo_dir = prepare_demo_dir(course, demo_dir)
    ids = assignments or list_assignments(demo_dir)
    reports = []
    for aid in ids:
        echo(f"[{aid}] generating the student release in {demo_dir / RELEASE_DIR / aid}")
        release_dir = generate_release(demo_dir, aid, demo_dir / RELEASE_DIR)
        for student, kind in STUDENTS.items():
            write_submission(kind, demo_dir / SOURCE_DIR / aid, release_dir, demo_dir / SUBMITTED_DIR / student / aid)
        echo(f"[{aid}] autograding {len(STUDENTS)} sample submissions with {jobs} job(s) ...")
        report = grade(aid, demo_dir, jobs=jobs, unsafe=unsafe,
                       progress=lambda r, aid=aid: echo(f"[{aid}]   {r.student}: {r.status} ({r.seconds:.0f} s)"))
        reports.append(report)
    echo("")
    for report in reports:
        echo(format_table(report))
        echo("")
    echo(f"grades:   {demo_dir / 'grades.csv'}")
    echo(f"report:   {demo_dir / 'grading_report.csv'}")
    echo(f"feedback: {demo_dir / 'feedback'}/<student>/<assignment>/*.html")
    return reports
