"""Grading speed: parallel speed-up and the overhead of the grading pipeline.

Usage (from the course folder, in the course's venv)::

    python benchmarks/grading.py [ASSIGNMENT] [--submissions 8] [--dask] [--out FILE]   # FILE: results/grading_<id>.json

Measures, on copies of the complete solution of ASSIGNMENT (default a1_backprop):

- ``speedup``: wall time of ``dlcourse grade`` for N submissions with ``--jobs 1`` divided by
  the time with ``--jobs 2`` (2 is the number of cores of the course's reference laptop);
- ``overhead``: the time to grade one submission (its nbgrader autograde and feedback runs)
  divided by the time to execute the same notebook plainly with nbclient; the once-per-run
  gradebook setup (generating the release) is reported separately;
- ``sandbox_and_probes``: the time to grade one submission with the bubblewrap sandbox and
  the out-of-process probes, divided by the time without them (plain nbgrader through the
  same pipeline, ``--unsafe`` and no ``probes.py``);
- with ``--dask``: ``speedup_dask2_vs_jobs1``, the time of ``--jobs 1`` divided by the time on a
  dask.distributed LocalCluster of 2 worker processes (1 thread each) on this machine,
  coordinator included (``dlcourse grade --scheduler``).

Full marks means every autograded point (written answers await a human and are not counted).

Nothing is asserted: the figures are printed and written as JSON for the README.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dlcourse.course import copy_course  # noqa: E402
from dlcourse.grading.pipeline import generate_release, grade, nbgrader_env  # noqa: E402
from dlcourse.grading.samples import write_submission  # noqa: E402


def plain_execution_seconds(notebook: Path) -> float:
    nb = nbformat.read(notebook, as_version=4)
    os.environ.update({k: v for k, v in nbgrader_env().items() if k in ("PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                                                         "OPENBLAS_NUM_THREADS", "MPLBACKEND")})
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return time.perf_counter() - start


def _check_full_marks(report) -> None:
    for r in report.results:
        if r.status != "graded" or r.score != report.auto_max_score:
            raise SystemExit(f"benchmark submissions must earn every autograded point ({report.auto_max_score:g}): "
                             f"{r.student} got {r.score} ({r.message})")


def _dask_seconds(aid: str, course: Path) -> float:
    """Wall time of grading every submission on a LocalCluster of 2 single-threaded worker processes."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                          silence_logs=40) as cluster:
            start = time.perf_counter()
            report = grade(aid, course, scheduler=cluster.scheduler_address)
            seconds = time.perf_counter() - start
    _check_full_marks(report)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", nargs="?", default="a1_backprop")
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--out", default=None, help="JSON file (default: benchmarks/results/grading_<assignment>.json)")
    parser.add_argument("--dask", action="store_true", help="also grade on a 2-worker dask LocalCluster")
    args = parser.parse_args()
    aid = args.assignment
    with tempfile.TemporaryDirectory(prefix="dlcourse-bench-") as tmp:
        tmp = Path(tmp)
        course = copy_course(REPO, tmp / "course", [aid])
        release_dir = generate_release(course, aid, tmp / "release")
        students = [f"student{i:02d}" for i in range(args.submissions)]
        for s in students:
            write_submission("complete", course / "solutions" / aid, release_dir, course / "submitted" / s / aid)
        (notebook,) = (course / "submitted" / students[0] / aid).glob("*.ipynb")
        plain = plain_execution_seconds(notebook)

        timings = {}
        if args.dask:
            timings["dask2"] = _dask_seconds(aid, course)
        for jobs in (1, 2):
            start = time.perf_counter()
            report = grade(aid, course, jobs=jobs)
            timings[jobs] = time.perf_counter() - start
            _check_full_marks(report)
        start = time.perf_counter()
        single = grade(aid, course, jobs=1, students=[students[0]])
        one_with_setup = time.perf_counter() - start
        one = single.results[0].seconds  # autograde + probes + feedback of this student

        # the same submission through plain nbgrader: no sandbox, no probes
        probes = course / "solutions" / aid / "probes.py"
        if probes.exists():
            probes.unlink()
        bare = grade(aid, course, jobs=1, students=[students[0]], unsafe=True).results[0].seconds

    result = {
        "assignment": aid,
        "submissions": args.submissions,
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
        "seconds_jobs1": round(timings[1], 1),
        "seconds_jobs2": round(timings[2], 1),
        "speedup_jobs2_vs_jobs1": round(timings[1] / timings[2], 2),
        "seconds_grade_one": round(one, 1),
        "seconds_grade_one_with_gradebook_setup": round(one_with_setup, 1),
        "seconds_plain_execution": round(plain, 1),
        "overhead_grade_one_vs_plain": round(one / plain, 2),
        "seconds_grade_one_without_sandbox_and_probes": round(bare, 1),
        "overhead_sandbox_and_probes": round(one / bare, 2),
    }
    if args.dask:
        result["seconds_dask2"] = round(timings["dask2"], 1)
        result["speedup_dask2_vs_jobs1"] = round(timings[1] / timings["dask2"], 2)
    print(json.dumps(result, indent=2))
    out = Path(args.out or REPO / "benchmarks" / "results" / f"grading_{aid}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
