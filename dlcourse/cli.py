"""The ``dlcourse`` command line: release, grade, similarity, demo, student-edition and doctor.

Run ``dlcourse --help`` or ``dlcourse COMMAND --help``. Exit status: 0 on success,
1 when ``doctor`` finds a required check failing, 2 for an instructor-side error
(unknown assignment, missing configuration). A bad submission is never an error
of the command: it is a row of the grading report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dlcourse.course import CourseError, check_course_dir, find_course_root
from dlcourse.grading.safe.text import console_text

EPILOG = """\
typical instructor session:
  dlcourse release                       # solutions/ -> assignments/ (student notebooks)
  # collect submissions into submitted/<student>/<assignment>/<notebook>.ipynb
  dlcourse grade a1_backprop --jobs 4    # autograde, feedback/, grades.csv, grading_report.csv, similarity.*
  dlcourse student-edition ../dlcourse-student --release-references a1_backprop   # what students get
"""


def _course(args: argparse.Namespace) -> Path:
    return check_course_dir(args.course_dir) if args.course_dir else find_course_root()


def _similarity_summary(report) -> str:
    flagged = report.flagged
    lines = [f"similarity: {report.students} submission(s) screened, {len(flagged)} flagged pair(s) "
             f"(a hint for review, never a change of score): {report.csv_path}, {report.html_path}"]
    lines += [f"  {console_text(m.student, limit=40)} ~ {console_text(m.other, limit=60)}: {m.similarity:.2f}"
              for m in flagged[:20]]
    if len(flagged) > 20:
        lines.append(f"  ... and {len(flagged) - 20} more")
    return "\n".join(lines)


def cmd_similarity(args: argparse.Namespace) -> int:
    from dlcourse.grading.pipeline import rescreen

    report = rescreen(args.assignment, _course(args))
    print(_similarity_summary(report))
    return 0


class GradingProgress:
    """A tqdm bar over the students (count, tally of outcomes, ETA) on stderr; each student's line stays in
    the log on stdout, printed above the bar."""

    def __init__(self, assignment: str):
        import threading

        self.assignment, self.bar, self.tally, self.lock = assignment, None, {}, threading.Lock()

    def start(self, total: int) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, desc=f"grading {self.assignment}", unit="student", file=sys.stderr,
                        dynamic_ncols=True, disable=total == 0)

    def update(self, res) -> None:  # called from the grading threads
        from tqdm.auto import tqdm

        with self.lock:
            tqdm.write(f"  {console_text(res.student, limit=40)}: {res.status} ({res.seconds:.0f} s)",
                       file=sys.stdout)
            sys.stdout.flush()
            self.tally[res.status] = self.tally.get(res.status, 0) + 1
            if self.bar is not None:
                self.bar.set_postfix(self.tally, refresh=False)
                self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def cmd_release(args: argparse.Namespace) -> int:
    from dlcourse.grading.pipeline import release

    course = _course(args)
    for path in release(course, args.assignments or None):
        print(f"released {path.relative_to(course)}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from dlcourse.grading.pipeline import Limits, SandboxUnavailable, UnknownStudents, grade_job, prepare_job
    from dlcourse.grading.report import format_table
    from dlcourse.grading.safe import console_text
    from dlcourse.grading.sandbox import INSTALL_HINT

    course = _course(args)
    memory = int(args.memory_limit * 1024**3) if args.memory_limit > 0 else None
    limits = Limits(wall_seconds=args.timeout, cell_seconds=args.cell_timeout, memory_bytes=memory)
    try:
        job = prepare_job(args.assignment, course, limits=limits, unsafe=args.unsafe)
    except SandboxUnavailable as exc:
        raise CourseError(f"{exc}.\n  Refusing to run student code unsandboxed: {INSTALL_HINT}") from None
    if not job.sandboxed:
        print("!" * 78 + "\nWARNING: grading WITHOUT a sandbox.\nStudent code runs with your "
              "permissions and can read solutions/ and the gradebook.\n" + "!" * 78, file=sys.stderr, flush=True)
    where = f"on the Dask cluster at {args.scheduler}" if args.scheduler else f"with {args.jobs} job(s)"
    print(f"grading {args.assignment} in {course} {where}", flush=True)
    bar = GradingProgress(args.assignment)
    try:
        report = grade_job(job, jobs=args.jobs, students=args.student, progress=bar.update, on_total=bar.start,
                           scheduler=args.scheduler)
    except UnknownStudents as exc:
        names = ", ".join(console_text(s, limit=40) for s in exc.students)
        raise CourseError(f"no submission of {args.assignment} for: {names}") from None
    finally:
        bar.close()
    if not report.results:
        print(f"no submissions found under {course / 'submitted'}/<student>/{args.assignment}/")
    print()
    print(format_table(report))
    print(f"\nwrote {report.grades_csv} and {report.report_csv}; feedback in {course / 'feedback'}")
    if report.similarity is not None:
        print(_similarity_summary(report.similarity))
    elif report.similarity_error:
        print(f"similarity: not screened ({console_text(report.similarity_error, limit=300)}); run "
              f"`dlcourse similarity {args.assignment}` once the cause is fixed", file=sys.stderr)
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def cmd_demo(args: argparse.Namespace) -> int:
    from dlcourse.grading.demo import run_demo

    from dlcourse.grading.sandbox import sandbox_status

    course = _course(args)
    sandboxed, why = sandbox_status()
    if not sandboxed:
        print(f"note: no grading sandbox here ({why}); the demo grades its own sample submissions without it.\n"
              "      `dlcourse grade` refuses to do that for real submissions (see `dlcourse doctor`).", flush=True)
    run_demo(course, Path(args.dir), assignments=args.assignments or None, jobs=args.jobs,
             unsafe=not sandboxed)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:  # noqa: ARG001 - uniform signature
    from dlcourse.doctor import format_checks, run_checks

    checks = run_checks()
    print(format_checks(checks))
    failed = [c for c in checks if c.required and not c.ok]
    print(f"\n{len(failed)} problem(s) found" if failed else "\neverything the course needs is here")
    return 1 if failed else 0


def cmd_student_edition(args: argparse.Namespace) -> int:
    from dlcourse.edition import build_edition

    course = _course(args)
    edition = build_edition(course, args.outdir, release_references=args.release_references,
                            binder_repo=args.binder_repo)
    print(edition.summary())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dlcourse",
        description="Training Deep Neural Networks: course tools for instructors and students.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from dlcourse import __version__

    parser.add_argument("--version", action="version", version=f"dlcourse {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def course_dir_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--course-dir", metavar="DIR", default=None,
                       help="course folder with nbgrader_config.py and solutions/ (default: the nearest one "
                            "at or above the current folder)")

    p = sub.add_parser("release", help="regenerate the student notebooks in assignments/ from solutions/",
                       description="Generate the student release (solutions and hidden tests removed, outputs "
                                   "cleared) of each assignment, from solutions/<id>/ into assignments/<id>/. "
                                   "Also records the assignment in the gradebook.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    course_dir_option(p)
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("grade", help="autograde every submission of an assignment",
                       description="Autograde DIR/submitted/<student>/ASSIGNMENT/ for every student with nbgrader, "
                                   "generate feedback HTML in DIR/feedback/, and write DIR/grades.csv (nbgrader's "
                                   "export columns) and DIR/grading_report.csv (one line per student saying what "
                                   "happened). A broken submission gets a row with its reason and never stops the "
                                   "others. Works on a folder holding only nbgrader_config.py, solutions/ and "
                                   "submitted/.")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="assignment id, e.g. a1_backprop")
    course_dir_option(p)
    p.add_argument("--jobs", type=_positive_int, default=2, metavar="N", help="students graded in parallel (default: 2)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="SECONDS",
                   help="wall-clock limit for one student's submission (default: 1800)")
    p.add_argument("--student", action="append", default=None, metavar="ID",
                   help="grade only this student (repeatable); other rows of grades.csv are kept")
    p.add_argument("--cell-timeout", type=int, default=None, metavar="SECONDS",
                   help="limit for one cell, after which it is interrupted (default: Execute.timeout in "
                        "nbgrader_config.py)")
    p.add_argument("--unsafe", action="store_true",
                   help="grade even when the bubblewrap sandbox is unavailable (student code then runs "
                        "with your permissions; never do this for a real class)")
    p.add_argument("--memory-limit", type=float, default=8.0, metavar="GB",
                   help="address-space limit of each grading kernel, so a memory hog gets a MemoryError "
                        "(default: 8; 0 for none)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="grade on the workers of this dask.distributed cluster (e.g. tcp://10.0.0.5:8786) instead "
                        "of here; this machine keeps the gradebook and writes every result (see README)")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("demo", help="run the whole pipeline on sample submissions in a scratch folder",
                       description="Copy the course's config and solutions into a scratch folder, generate the "
                                   "release, write four sample submissions per assignment (complete, partial, "
                                   "untouched, unreadable), grade them and print the score table. Never modifies "
                                   "solutions/, assignments/ or lectures/.")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT", help="assignment ids (default: all)")
    p.add_argument("--dir", default="demo", help="scratch course folder (default: ./demo, replaced on each run)")
    p.add_argument("--jobs", type=_positive_int, default=2, metavar="N", help="students graded in parallel (default: 2)")
    course_dir_option(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("similarity", help="copy detection on the current submissions, without re-grading",
                       description="Compare the code each student wrote in the solution cells with every other "
                                   "submission of ASSIGNMENT and with the instructor's code (solution regions and "
                                   "reference modules), seeing through renamed variables, stripped comments, "
                                   "reordered functions and reformatting; write DIR/similarity.csv and "
                                   "DIR/similarity.html and update the similarity notes in the review column of "
                                   "DIR/grading_report.csv. `dlcourse grade` does this after grading. A flag is a "
                                   "hint for a human, never a change of score.")
    p.add_argument("assignment", metavar="ASSIGNMENT", help="assignment id, e.g. a1_backprop")
    course_dir_option(p)
    p.set_defaults(func=cmd_similarity)

    from dlcourse.edition.build import DEFAULT_BINDER_REPO

    p = sub.add_parser("student-edition", help="build the course as students receive it (no answers of open "
                                               "assignments)",
                       description="Build OUTDIR: the lectures (with outputs), the assignments' releases, the "
                                   "dlcourse package without the reference implementations of open assignments' "
                                   "exercises and without the instructor's tools, a student README, make lab, "
                                   "environment.yml, pyproject.toml, Binder and JupyterLab settings. Never holds "
                                   "solutions/, tests, probes, benchmarks, scripts or CI. The edition is audited "
                                   "before the command succeeds. OUTDIR must be new, empty, or an earlier edition "
                                   "(replaced; its .git is kept).")
    p.add_argument("outdir", metavar="OUTDIR", help="folder of the edition, e.g. ../dlcourse-student")
    p.add_argument("--release-references", nargs="+", action="extend", default=[], metavar="ASSIGNMENT",
                   help="assignments whose deadline has passed: their reference implementations are included")
    p.add_argument("--binder-repo", default=DEFAULT_BINDER_REPO, metavar="OWNER/NAME",
                   help=f"GitHub repository the edition is published to, for the README's clone command and "
                        f"Binder badge (default: {DEFAULT_BINDER_REPO})")
    course_dir_option(p)
    p.set_defaults(func=cmd_student_edition)

    p = sub.add_parser("doctor", help="check versions, device, data, weights and the notebook kernel",
                       description="Print Python, torch, torchvision and nbgrader versions, the device torch will "
                                   "use, whether the offline data and weights are present and whether notebooks "
                                   "will run in this environment; each problem comes with its fix.")
    p.set_defaults(func=cmd_doctor)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CourseError as exc:
        print(f"dlcourse {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
